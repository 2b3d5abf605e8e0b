# The Dockerfile and CI build with `make build`, so there is one build command.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Release binaries use a Go release whose standard library govulncheck finds
# clean (CI checks it); the machine's own Go (1.26.8 here) has advisories
# fixed only in later patch releases. The go command fetches this toolchain
# through the module proxy. RELEASE_GO=local builds with whatever go is.
RELEASE_GO ?= go1.27.3
OUT     ?= bin/invoices
GOBIN   := $(shell go env GOPATH)/bin
LINT_VERSION := v2.15.0
# Where make docs writes; .ci/run points it elsewhere to compare with docs/.
DOCS    ?= docs

.PHONY: build run test lint docs bench microbench

build: ## static, CGO-free, reproducible binary with the version stamped in
	GOTOOLCHAIN=$(RELEASE_GO) CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(OUT) .

run: ## serve on :3001 with embedded SQLite under ./data
	go run .

test: ## all tests with the race detector (set TEST_POSTGRES_URL for PostgreSQL)
	go test -race ./...

lint: ## gofmt, vet and golangci-lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	@$(GOBIN)/golangci-lint version 2>/dev/null | grep -q $(LINT_VERSION:v%=%) || go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)
	$(GOBIN)/golangci-lint run ./...

docs: ## regenerate docs/: swag's Swagger 2.0 from the annotations, then the OpenAPI 3.0 document the service serves
	go tool swag init --quiet -g main.go -o $(DOCS) --outputTypes json
	go run ./docs/openapi3gen -in $(DOCS)/swagger.json -out $(DOCS)/openapi.json

bench: ## end-to-end load on a fresh service vs pgbench (BENCH_STORE=sqlite for the embedded store)
	bench/run.sh

microbench: ## Go micro-benchmarks (PostgreSQL ones need TEST_POSTGRES_URL)
	go test -run '^$$' -bench . -benchmem ./...
