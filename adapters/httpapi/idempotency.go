package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"invoices/app/command"
	"invoices/domain/invoice"
)

// Idempotency keys (the IETF httpapi draft's Idempotency-Key header) make a
// retried POST safe: the app replays the first request's outcome (see
// command.Idempotent). This side reads the header, fingerprints the
// request, scopes the key to the caller and refuses a key whose first
// request is still running in this process.

const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	// maxIdempotencyKey is the longest key, in bytes.
	maxIdempotencyKey = 255
	// maxKeysInFlight bounds the keys this process tracks as running.
	maxKeysInFlight = 10_000
)

// keysInFlight is the set of idempotency keys whose requests are running in
// this process.
type keysInFlight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func newKeysInFlight() *keysInFlight { return &keysInFlight{keys: make(map[string]struct{})} }

// claim adds key, and reports false if it is running already or the set is
// full (full is the second result).
func (k *keysInFlight) claim(key string) (ok, full bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, running := k.keys[key]; running {
		return false, false
	}
	if len(k.keys) >= maxKeysInFlight {
		return false, true
	}
	k.keys[key] = struct{}{}
	return true, false
}

func (k *keysInFlight) release(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, key)
}

// idempotent runs next, a state-changing POST, with the request's
// idempotency key in its context, if it has one.
func (h invoiceHandlers) idempotent(next gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		values := c.Request.Header.Values(idempotencyHeader)
		if len(values) == 0 {
			next(c)
			return
		}
		key, err := parseIdempotencyKey(values)
		if err != nil {
			writeError(c, h.log, err)
			return
		}
		fingerprint, err := h.fingerprint(c.Request)
		if err != nil {
			writeError(c, h.log, err)
			return
		}
		scope := c.GetString(callerKey)
		running := scope + "\x00" + key
		ok, full := h.inFlight.claim(running)
		switch {
		case full:
			writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
				Detail: "too many requests with idempotency keys are running; retry shortly"})
			return
		case !ok:
			writeProblem(c, Problem{Type: typeIdempotencyKeyInUse, Title: "Idempotency key in use", Status: http.StatusConflict,
				Detail: "a request with this Idempotency-Key is still running; retry once it has answered"})
			return
		}
		defer h.inFlight.release(running)
		c.Request = c.Request.WithContext(command.WithIdempotency(c.Request.Context(),
			command.Idempotency{Scope: scope, Key: key, Fingerprint: fingerprint}))
		next(c)
	}
}

// parseIdempotencyKey reads the header: one value, either the draft's
// structured-field string ("…", with \" and \\ escapes) or the bare token
// most clients send, of 1 to 255 printable ASCII characters.
func parseIdempotencyKey(values []string) (string, error) {
	invalid := func(reason string) error {
		return &invoice.ValidationError{Field: idempotencyHeader, Reason: reason}
	}
	if len(values) > 1 {
		return "", invalid("must be sent once")
	}
	v := strings.TrimSpace(values[0])
	if strings.HasPrefix(v, `"`) {
		var ok bool
		if v, ok = unquoteSFString(v); !ok {
			return "", invalid("is not a valid quoted string")
		}
	}
	if v == "" || len(v) > maxIdempotencyKey {
		return "", invalid("must be 1 to 255 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", invalid("must be printable ASCII")
		}
	}
	return v, nil
}

// unquoteSFString decodes an RFC 8941 string: "…" in which only \" and \\
// are escapes, and nothing follows the closing quote.
func unquoteSFString(s string) (string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			if i+1 == len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), i == len(s)-1
		default:
			b.WriteByte(ch)
		}
	}
	return "", false // no closing quote
}

// fingerprint digests what makes two requests the same one: method, path
// and body. It reads the body (at most the limit and a byte, so the
// handler still answers 413 for a longer one) and puts it back.
func (h invoiceHandlers) fingerprint(r *http.Request) (string, error) {
	var body []byte
	if r.Body != nil && r.ContentLength <= h.maxBodyBytes {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, h.maxBodyBytes+1))
		if err != nil {
			return "", newProblem(http.StatusBadRequest, typeMalformed, "Malformed request", "the request body could not be read")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	d := sha256.New()
	d.Write([]byte(r.Method + "\n" + r.URL.Path + "\n"))
	d.Write(body)
	return hex.EncodeToString(d.Sum(nil)), nil
}

// markReplayed says, on the answer of a replayed command, that it was.
func markReplayed(c *gin.Context, res command.Result) {
	if res.Replayed {
		c.Header(replayedHeader, "true")
	}
}
