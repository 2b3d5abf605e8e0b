package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"invoices/app/feed"
	"invoices/config"
	"invoices/domain/invoice"
)

// FeedMetrics is what the event feed reports: streams opened and closed
// (with why: client_gone, stalled, shutdown, error) and events streamed.
type FeedMetrics interface {
	FeedStreamOpened()
	FeedStreamClosed(reason string)
	FeedEventsStreamed(n int)
}

// feedParams are GET /events's parameters.
var feedParams = []string{"after", "limit", "type", "streamId"}

const (
	eventStreamType    = "text/event-stream"
	typeTooManyStreams = "/problems/too-many-streams"
	// immutablePage is how long a complete page may be cached: for good.
	immutablePage = "max-age=31536000, immutable"
)

// FeedEventResponse is one event of the global feed: the invoice history's
// event with the stream it belongs to.
type FeedEventResponse struct {
	// StreamID is the event's stream: the invoice id.
	StreamID string `json:"streamId" example:"0b9e2a4c-7d1f-4c3e-9a5b-6d7e8f901234"`
	InvoiceEventResponse
}

func feedEventResponse(it feed.Item) FeedEventResponse {
	return FeedEventResponse{StreamID: it.StreamID, InvoiceEventResponse: invoiceEventResponse(it.HistoryEvent)}
}

type feedHandlers struct {
	feed    *feed.Feed
	log     *zap.Logger
	cfg     config.EventStream
	keyed   bool // API keys are required: pages are private to their caller
	metrics FeedMetrics
}

// events godoc
//
//	@Summary		The global event feed
//	@Description	Every committed event of every invoice, in global position order: positions are gapless and commit-ordered, so a consumer that follows the feed from its last position misses nothing and sees nothing twice. Payloads are in their type's current schema, as in an invoice's history.
//	@Description	**JSON pages** (Accept: application/json or anything but text/event-stream): after is the last position the consumer has (0, the default, for the start), limit the most items. The `Link` header always holds the next page's URL (rel="next"). A page that holds limit items, or whose filtered scan reached its bound (10,000 events) before the end of the log, is complete and never changes: `Cache-Control: max-age=31536000, immutable` (public without API keys, private with them). A page that reached the end of the log is `no-store`: follow its next link later, or stream. With type or streamId filters a page may hold fewer items than limit, even none, without being at the end: its next link resumes after the last position scanned.
//	@Description	**Live stream** (Accept: text/event-stream): Server-Sent Events, one per matching event, `id:` its position, `event:` its type, `data:` the item JSON (one element of the array below). It starts after Last-Event-ID (which wins over after) or after, sends a `:` comment at least every EVENT_STREAM_HEARTBEAT (15 s), and is never cut by REQUEST_TIMEOUT. Reconnecting with the last id received resumes exactly after it. A client that stops reading is disconnected once one write has waited EVENT_STREAM_WRITE_TIMEOUT; on shutdown the server sends a final comment and closes. limit does not apply to streams.
//	@Tags			events
//	@Produce		json
//	@Produce		text/event-stream
//	@Param			after			query		int			false	"Only events after this position"	minimum(0)	default(0)
//	@Param			limit			query		int			false	"Page size (JSON pages only)"	minimum(1)	maximum(1000)	default(100)
//	@Param			type			query		[]string	false	"Only events of these types (repeat the parameter for several)"	collectionFormat(multi)	Enums(invoice.created, invoice.paid, invoice.voided)
//	@Param			streamId		query		[]string	false	"Only events of these streams (invoice ids; repeat the parameter for several)"	collectionFormat(multi)
//	@Param			Last-Event-ID	header		int			false	"Stream only: resume after this position (the id of the last event received); wins over after"	minimum(0)
//	@Success		200				{array}		FeedEventResponse
//	@Header			200				{string}	Link			"</events?after=…&limit=…>; rel="next" (JSON pages)"
//	@Header			200				{string}	Cache-Control	"max-age=31536000, immutable (public or private) on a complete page; no-store otherwise"
//	@Failure		400				{object}	Problem	"a bad after, limit, type, streamId or Last-Event-ID, or a query parameter this endpoint does not know"
//	@Failure		401				{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		500				{object}	Problem
//	@Failure		503				{object}	Problem	"the event store is unreachable or the request timed out, or (streams) EVENT_STREAM_MAX_CLIENTS streams are open or the server is shutting down; retry"
//	@Security		BearerAuth
//	@Router			/events [get]
func (h feedHandlers) events(c *gin.Context) {
	q, err := feedQuery(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Vary", "Accept")
	if wantsEventStream(c.Request) {
		h.stream(c, q)
		return
	}
	page, err := h.feed.Read(c.Request.Context(), q)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Link", fmt.Sprintf(`<%s>; rel="next"`, nextPage(q, page.Last)))
	if page.Complete {
		scope := "public, "
		if h.keyed {
			scope = "private, "
		}
		c.Header("Cache-Control", scope+immutablePage)
	}
	out := make([]FeedEventResponse, len(page.Items))
	for i, it := range page.Items {
		out[i] = feedEventResponse(it)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(c, h.log, fmt.Errorf("encode the feed after %d: %w", q.After, err))
		return
	}
	writeJSON(c, http.StatusOK, body)
}

// nextPage is the URL of the page after last, with q's limit and filters.
func nextPage(q feed.PageQuery, last int64) string {
	limit := q.Limit
	if limit == 0 {
		limit = feed.DefaultLimit
	}
	v := url.Values{}
	v.Set("after", strconv.FormatInt(last, 10))
	v.Set("limit", strconv.Itoa(limit))
	if len(q.Filter.Types) > 0 {
		v["type"] = q.Filter.Types
	}
	if len(q.Filter.StreamIDs) > 0 {
		v["streamId"] = q.Filter.StreamIDs
	}
	return "/events?" + v.Encode()
}

// feedQuery reads the parameters, one validation error per bad one; the
// feed checks ranges and filters.
func feedQuery(c *gin.Context) (feed.PageQuery, error) {
	var q feed.PageQuery
	if err := onlyParams(c, feedParams); err != nil {
		return q, err
	}
	values := c.Request.URL.Query()
	var errs []error
	if s, ok, err := singleParam(values, "limit"); err != nil {
		errs = append(errs, err)
	} else if ok {
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 { // an explicit 0 is invalid, not "use the default"
			errs = append(errs, &invoice.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be an integer between 1 and %d", feed.MaxLimit)})
		} else {
			q.Limit = n
		}
	}
	if s, ok, err := singleParam(values, "after"); err != nil {
		errs = append(errs, err)
	} else if ok {
		n, err := position("after", s)
		if err != nil {
			errs = append(errs, err)
		}
		q.After = n
	}
	for _, name := range []string{"type", "streamId"} {
		for _, v := range values[name] {
			if v == "" {
				errs = append(errs, &invoice.ValidationError{Field: name, Reason: "must not be empty"})
				break
			}
		}
	}
	q.Filter = feed.Filter{Types: values["type"], StreamIDs: values["streamId"]}
	return q, errors.Join(errs...)
}

func position(field, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &invoice.ValidationError{Field: field, Reason: "must be a position: an integer of at least 0"}
	}
	return n, nil
}

// wantsEventStream reports whether r asks for Server-Sent Events: its
// Accept names text/event-stream (with a non-zero q).
func wantsEventStream(r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/events" {
		return false
	}
	for _, h := range r.Header.Values("Accept") {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == eventStreamType && params["q"] != "0" && params["q"] != "0.0" {
				return true
			}
		}
	}
	return false
}

// stream serves the feed as Server-Sent Events until the client goes, the
// client stops reading, or the server shuts down. It holds at most one
// batch of events read from the log: a client that falls behind costs its
// position, never a queue.
func (h feedHandlers) stream(c *gin.Context, q feed.PageQuery) {
	if id := c.GetHeader("Last-Event-ID"); id != "" {
		n, err := position("Last-Event-ID", strings.TrimSpace(id))
		if err != nil {
			writeError(c, h.log, err)
			return
		}
		q.After = n
	}
	if err := h.feed.Validate(q.Filter); err != nil {
		writeError(c, h.log, err)
		return
	}
	sub, err := h.feed.Subscribe()
	switch {
	case errors.Is(err, feed.ErrTooManyFollowers):
		writeProblem(c, Problem{Type: typeTooManyStreams, Title: "Too many event streams", Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("%d event streams are open, the most this server allows (EVENT_STREAM_MAX_CLIENTS); retry shortly, or page with JSON", h.cfg.MaxClients)})
		return
	case err != nil:
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the server is shutting down; reconnect with Last-Event-ID"})
		return
	}
	defer sub.Close()
	if h.metrics != nil {
		h.metrics.FeedStreamOpened()
	}
	rc := http.NewResponseController(c.Writer)
	// The server's read timeout would end the request's context mid-stream
	// (net/http's background read fails and cancels it); a stream reads
	// nothing after its headers. Its write timeout is replaced per write.
	_ = rc.SetReadDeadline(time.Time{})
	hdr := c.Writer.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: pass events through unbuffered
	hdr.Del("Content-Length")
	c.Status(http.StatusOK)
	s := &sseSink{w: c.Writer, rc: rc, timeout: h.cfg.WriteTimeout, metrics: h.metrics}
	err = s.comment(fmt.Sprintf("events after position %d", q.After))
	if err == nil {
		err = h.feed.Follow(c.Request.Context(), sub, feed.FollowOptions{After: q.After, Filter: q.Filter, Heartbeat: h.cfg.Heartbeat}, s)
	}
	reason := "client_gone"
	switch {
	case errors.Is(err, feed.ErrClosed):
		reason = "shutdown"
		_ = s.comment("server shutting down; reconnect with Last-Event-ID")
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Nothing more can reach a client whose buffers are full: no final
		// comment can be delivered, so the log and the metric say why.
		reason = "stalled"
		h.log.Info("event stream closed: the client stopped reading", zap.String("request_id", requestID(c)),
			zap.Int64("last_position", s.last), zap.Duration("write_timeout", h.cfg.WriteTimeout))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || c.Request.Context().Err() != nil:
	case s.writeErr != nil:
	default:
		reason = "error"
		h.log.Warn("event stream failed", zap.String("request_id", requestID(c)), zap.Int64("last_position", s.last), zap.Error(err))
		_ = s.comment("cannot read the event log; reconnect with Last-Event-ID")
	}
	if h.metrics != nil {
		h.metrics.FeedStreamClosed(reason)
	}
}

// sseSink writes events as SSE frames, every write and flush under its
// own write deadline.
type sseSink struct {
	w        gin.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	metrics  FeedMetrics
	buf      []byte
	last     int64 // position of the last event written
	writeErr error
}

// Event writes one event: id, event type and the item JSON on one line.
func (s *sseSink) Event(it feed.Item) error {
	data, err := json.Marshal(feedEventResponse(it))
	if err != nil {
		return fmt.Errorf("encode event %d: %w", it.Position, err)
	}
	b := s.buf[:0]
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, it.Position, 10)
	b = append(b, "\nevent: "...)
	b = append(b, it.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	s.buf = b
	if err := s.write(b); err != nil {
		return err
	}
	s.last = it.Position
	if s.metrics != nil {
		s.metrics.FeedEventsStreamed(1)
	}
	return nil
}

// Heartbeat writes a comment, which SSE clients ignore.
func (s *sseSink) Heartbeat() error { return s.comment("heartbeat") }

// Flush sends what is buffered: the follow calls it after each run of
// events it had ready, so an event never waits in a buffer for the next.
func (s *sseSink) Flush() error {
	if s.writeErr != nil {
		return s.writeErr
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	s.writeErr = s.rc.Flush()
	return s.writeErr
}

func (s *sseSink) comment(text string) error {
	if err := s.write([]byte(": " + text + "\n\n")); err != nil {
		return err
	}
	return s.Flush()
}

// write buffers b, under the write deadline in case the buffer fills and
// goes to the connection.
func (s *sseSink) write(b []byte) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	_, s.writeErr = s.w.Write(b)
	return s.writeErr
}

// eventStreamDefaults fills the settings a caller left zero with config's
// defaults (tests build the engine without loading the environment).
func eventStreamDefaults(c config.EventStream) config.EventStream {
	if c.MaxClients <= 0 {
		c.MaxClients = 100
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	return c
}
