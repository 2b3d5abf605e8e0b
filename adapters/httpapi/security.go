package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"
)

const typeUnauthorized = "/problems/unauthorized"

// requireAPIKey admits requests bearing one of keys as
// "Authorization: Bearer <key>". Keys are compared as SHA-256 digests in
// constant time, so neither a key's content nor its length leaks through
// timing, and every configured key is checked on every request.
// callerKey holds, in a request authenticated with an API key, a digest of
// that key (see idempotencyScope).
const callerKey = "caller"

func requireAPIKey(keys []string) gin.HandlerFunc {
	digests := make([][32]byte, len(keys))
	for i, k := range keys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return func(c *gin.Context) {
		token, ok := bearer(c.GetHeader("Authorization"))
		if ok {
			got := sha256.Sum256([]byte(token))
			match := 0
			for i := range digests {
				match |= subtle.ConstantTimeCompare(got[:], digests[i][:])
			}
			if match == 1 {
				// The caller, for scoping its idempotency keys: a digest,
				// so the key itself is kept nowhere.
				c.Set(callerKey, hex.EncodeToString(got[:16]))
				c.Next()
				return
			}
		}
		c.Header("WWW-Authenticate", `Bearer realm="invoices"`)
		writeProblem(c, Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "send a valid API key as 'Authorization: Bearer <key>'"})
	}
}

func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// securityHeaders sets headers suited to a JSON API. Swagger UI (under /api)
// needs scripts and styles of its own, so it gets a looser policy.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	} else {
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// corsMiddleware allows the configured origins; nil when CORS is off.
func corsMiddleware(origins []string) gin.HandlerFunc {
	if len(origins) == 0 {
		return nil
	}
	cfg := cors.Config{
		AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPatch},
		AllowHeaders:     []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposeHeaders:    []string{"Location", "Link", "Warning", "X-Request-ID", "Retry-After"},
		AllowCredentials: false,
		MaxAge:           10 * time.Minute,
	}
	if len(origins) == 1 && origins[0] == "*" {
		cfg.AllowAllOrigins = true
	} else {
		cfg.AllowOrigins = origins
	}
	return cors.New(cfg)
}

// requestTimeout bounds each request's work: handlers and store calls run
// under the request's context, which now carries this deadline. An event
// stream (GET /events as text/event-stream) is exempt: it is meant to last,
// and ends when its client goes, stops reading, or the server shuts down.
func requestTimeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if wantsEventStream(c.Request) {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
