package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"invoices/config"
)

// No Docker engine runs where the tests run, so these tests read the
// container files at the module root and check the properties operators
// rely on.

func TestDockerfile(t *testing.T) {
	b := readRoot(t, "Dockerfile")
	// Join continuation lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	var froms []string
	final := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
			final = i
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM lines %q", froms)
	}
	// The build stage's Go is the release toolchain the Makefile names and CI
	// scans with govulncheck.
	mkRelease := regexp.MustCompile(`(?m)^RELEASE_GO \?= go(\S+)$`).FindSubmatch(readRoot(t, "Makefile"))
	if mkRelease == nil || !strings.Contains(froms[0], "golang:"+string(mkRelease[1])+"-") {
		t.Errorf("build stage %q does not use the Makefile's RELEASE_GO", froms[0])
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless") && !strings.Contains(last, "scratch") {
		t.Errorf("runtime image %q is neither distroless nor scratch", last)
	}
	runtime := lines[final:]
	has := func(stage []string, re string) bool {
		return slices.ContainsFunc(stage, regexp.MustCompile(re).MatchString)
	}
	checks := []struct {
		what  string
		stage []string
		re    string
	}{
		{"builds with `make build` (CGO_ENABLED=0, -trimpath, version ldflags)", lines[:final], `^RUN make build VERSION=\$\{VERSION\}`},
		{"runs as a non-root user", runtime, `^USER nonroot`},
		{"exposes 3001", runtime, `^EXPOSE 3001$`},
		{"has an exec-form HEALTHCHECK using the binary", runtime, `^HEALTHCHECK .*CMD \["/usr/local/bin/invoices", "healthcheck"\]`},
		{"has an exec-form ENTRYPOINT", runtime, `^ENTRYPOINT \["/usr/local/bin/invoices"\]`},
	}
	for _, c := range checks {
		if !has(c.stage, c.re) {
			t.Errorf("Dockerfile: want it to %s (no line matches %s)", c.what, c.re)
		}
	}
	if has(runtime, `^USER (root|0)\b`) {
		t.Error("Dockerfile: the runtime stage switches to root")
	}
	mk := readRoot(t, "Makefile")
	for _, want := range []string{"CGO_ENABLED=0 go build -trimpath", "-X main.version=$(VERSION)", "-X main.commit=$(COMMIT)", "GOTOOLCHAIN=$(RELEASE_GO)"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("Makefile build target lacks %q", want)
		}
	}
	ignore := readRoot(t, ".dockerignore")
	for _, want := range []string{".git", "data", ".env"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestDockerCompose(t *testing.T) {
	b := readRoot(t, "docker-compose.yml")
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for name, port := range map[string]string{"pg-event-store": "5432:5432", "pg-read-db": "5433:5432"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if !strings.HasPrefix(s.Image, "postgres:") {
			t.Errorf("%s image = %q, want postgres", name, s.Image)
		}
		if !slices.Contains(s.Ports, port) {
			t.Errorf("%s ports = %v, want %s", name, s.Ports, port)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "pg_isready") {
			t.Errorf("%s has no pg_isready healthcheck", name)
		}
		if len(s.Volumes) == 0 || !strings.HasSuffix(s.Volumes[0], ":/var/lib/postgresql/data") {
			t.Errorf("%s volumes = %v, want a data volume", name, s.Volumes)
		} else if vol := strings.Split(s.Volumes[0], ":")[0]; c.Volumes == nil || !hasKey(c.Volumes, vol) {
			t.Errorf("%s uses undeclared volume %q", name, vol)
		}
	}
	app, ok := c.Services["app"]
	if !ok {
		t.Fatal("no app service")
	}
	if app.Build == nil || !slices.Contains(app.Ports, "3001:3001") {
		t.Errorf("app: build %v, ports %v; want built here and on 3001", app.Build, app.Ports)
	}
	for _, dep := range []string{"pg-event-store", "pg-read-db"} {
		if app.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("app does not wait for %s to be healthy", dep)
		}
	}
	// The app's environment, by the original's variable names, must select
	// PostgreSQL for both stores, pointed at the compose services.
	var environ []string
	for k, v := range app.Environment {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.FromEnv(environ)
	if err != nil {
		t.Fatalf("app environment does not load: %v", err)
	}
	for _, db := range []struct {
		got  config.Database
		host string
	}{{cfg.EventStore, "pg-event-store:5432"}, {cfg.ReadDB, "pg-read-db:5432"}} {
		if db.got.Driver != config.Postgres || !strings.Contains(db.got.DSN, "@"+db.host+"/") {
			t.Errorf("%s: driver %s, DSN %s; want PostgreSQL at %s", db.got.Name, db.got.Driver, db.got.Redacted, db.host)
		}
	}
}

// readRoot reads a file at the module root, the parent of this package.
func readRoot(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}
