package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/app"
	"invoices/app/command"
	"invoices/app/query"
	"invoices/domain/invoice"
	"invoices/ports"
)

// lagWarning tells a client the read model had not caught up when it was
// answered (RFC 9111 warn-code 199, "miscellaneous warning").
const lagWarning = `199 invoices "read model is catching up: a GET may not show this change for a moment"`

type invoiceHandlers struct {
	app             app.Application
	log             *zap.Logger
	maxBodyBytes    int64
	defaultCurrency invoice.Currency
	inFlight        *keysInFlight
}

// createInvoice godoc
//
//	@Summary		Create an invoice
//	@Description	Issues an invoice and answers once its event is stored and the read model shows it.
//	@Description	currency is an ISO 4217 code in any case (DEFAULT_CURRENCY when absent; funds, metals and XTS/XXX are refused).
//	@Description	amount is an exact JSON number: > 0, below 1000000000000, with at most the currency's minor-unit decimal places (JPY 0, EUR 2, KWD 3).
//	@Description	dueDate is optional: YYYY-MM-DD, from the issue date (UTC) to 5 years after it.
//	@Description	A `Warning` header means the read model had not caught up within READ_YOUR_WRITES_TIMEOUT.
//	@Description	With an `Idempotency-Key`, a retry of the same request within IDEMPOTENCY_KEY_TTL answers as the first did (201, the invoice as created, `Idempotent-Replayed: true`) and creates nothing.
//	@Tags			invoices
//	@Accept			json
//	@Produce		json
//	@Param			invoice			body		CreateInvoiceRequest	true	"The invoice to create"
//	@Param			Idempotency-Key	header		string					false	"1 to 255 printable ASCII characters, bare or as a quoted string; makes a retry safe"
//	@Success		201				{object}	InvoiceResponse
//	@Header			201				{string}	Location			"/invoices/{id}"
//	@Header			201				{string}	ETag				"strong entity tag of the created version, such as v1 in quotes"
//	@Header			201				{string}	Warning				"present only if the read model lagged"
//	@Header			201				{string}	Idempotent-Replayed	"true when this answers a retry of an earlier request with the same Idempotency-Key"
//	@Failure		400				{object}	Problem				"validation failed, malformed JSON or a malformed Idempotency-Key"
//	@Failure		409				{object}	Problem				"a request with this Idempotency-Key is still running (/problems/idempotency-key-in-use)"
//	@Failure		422				{object}	Problem				"this Idempotency-Key was used for a different request (/problems/idempotency-key-reused)"
//	@Failure		413		{object}	Problem	"body larger than HTTP_MAX_BODY_BYTES"
//	@Failure		415		{object}	Problem	"body is not declared as JSON"
//	@Failure		500		{object}	Problem
//	@Failure		401		{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503		{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices [post]
func (h invoiceHandlers) createInvoice(c *gin.Context) {
	in, err := decodeCreate(c.Request, c.Writer, h.maxBodyBytes, h.defaultCurrency)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	id := uuid.NewString()
	res, err := h.app.Commands.CreateInvoice.Handle(c.Request.Context(), command.CreateInvoice{
		ID: id, CustomerID: in.CustomerID, Terms: in.Terms,
	})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if !res.Projected {
		c.Header("Warning", lagWarning)
	}
	markReplayed(c, res)
	setETag(c, res.Invoice.Version)
	// A replay answers with the invoice the first request created.
	c.Header("Location", "/invoices/"+res.Invoice.ID)
	writeJSON(c, http.StatusCreated, invoiceJSON(res.Invoice))
}

// listInvoices godoc
//
//	@Summary		List invoices
//	@Description	Newest first, one page at a time. When more pages exist, the `Link` header holds the next page's URL (rel="next"), filter included.
//	@Description	Filters combine with AND; status may be repeated (any of them). A cursor only pages the filter it was issued for.
//	@Tags			invoices
//	@Produce		json
//	@Param			limit		query		int			false	"Page size"	minimum(1)	maximum(1000)	default(100)
//	@Param			cursor		query		string		false	"Opaque cursor from the previous page's Link header"
//	@Param			status		query		[]string	false	"Only invoices in any of these statuses"	Enums(pending, paid, void)	collectionFormat(multi)
//	@Param			customerId	query		string		false	"Only this customer's invoices"
//	@Param			currency	query		string		false	"Only invoices in this ISO 4217 currency (any case)"
//	@Param			createdFrom	query		string		false	"Only invoices created at or after this RFC 3339 time"	format(date-time)
//	@Param			createdTo	query		string		false	"Only invoices created before this RFC 3339 time"	format(date-time)
//	@Param			dueBefore	query		string		false	"Only invoices with a due date before this day (YYYY-MM-DD)"	format(date)
//	@Success		200			{array}		InvoiceResponse
//	@Header			200			{string}	Link	"the next page, when there is one: </invoices?cursor=…&limit=…&…>; rel=next (quoted)"
//	@Failure		400			{object}	Problem	"bad limit, cursor or filter, a cursor from another filter, or a query parameter this endpoint does not know"
//	@Failure		500		{object}	Problem
//	@Failure		401		{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503		{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices [get]
func (h invoiceHandlers) listInvoices(c *gin.Context) {
	if err := onlyParams(c, listParams); err != nil {
		writeError(c, h.log, err)
		return
	}
	filter, err := listFilter(c.Request.URL.Query())
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	q := query.ListInvoices{Cursor: c.Query("cursor"), Filter: filter}
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(c, h.log, &invoice.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be an integer between 1 and %d", query.MaxLimit)})
			return
		}
		if n == 0 {
			n = -1 // an explicit 0 is invalid, not "use the default"
		}
		q.Limit = n
	}
	page, err := h.app.Queries.ListInvoices.Handle(c.Request.Context(), q)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if page.NextCursor != "" {
		limit := q.Limit
		if limit == 0 {
			limit = query.DefaultLimit
		}
		next := url.Values{}
		for _, name := range filterParams {
			if vs, ok := c.Request.URL.Query()[name]; ok {
				next[name] = vs
			}
		}
		next.Set("cursor", page.NextCursor)
		next.Set("limit", strconv.Itoa(limit))
		c.Header("Link", fmt.Sprintf(`</invoices?%s>; rel="next"`, next.Encode()))
	}
	writeJSON(c, http.StatusOK, appendInvoices(make([]byte, 0, invoiceJSONSize*len(page.Items)+2), page.Items))
}

// getInvoice godoc
//
//	@Summary		Get an invoice, now or as it was
//	@Description	Without parameters, the invoice from the read model: after a 200 or 201 of a change, it shows the change.
//	@Description	With asOfVersion or asOf (not both), the invoice folded from its events in the event store: as it was at that version, or after the events recorded at or before that time (not in the future). 404 if it had not been created by then or never reached that version.
//	@Description	The ETag is the strong entity tag of the version shown ("v2" for version 2). If-None-Match with it, or *, answers 304 with no body.
//	@Tags			invoices
//	@Produce		json
//	@Param			id				path		string	true	"Invoice id"	format(uuid)
//	@Param			asOfVersion		query		int		false	"The invoice at this version (not with asOf)"	minimum(1)
//	@Param			asOf			query		string	false	"The invoice as of this RFC 3339 time, at most now (not with asOfVersion)"	format(date-time)
//	@Param			If-None-Match	header		string	false	"ETags the client holds, comma-separated, or *: 304 if one is the shown version's"
//	@Success		200				{object}	InvoiceResponse
//	@Header			200				{string}	ETag	"strong entity tag of the version shown: "v<version>", quotes included, such as "v2" for version 2"
//	@Success		304				"Not modified: the If-None-Match tag is the version's; no body"
//	@Header			304				{string}	ETag	"strong entity tag of the version: "v<version>", quotes included, such as "v2" for version 2"
//	@Failure		400				{object}	Problem	"id is not a UUID; asOfVersion below 1; asOf not RFC 3339 or in the future; both; an unknown query parameter; a malformed If-None-Match"
//	@Failure		404				{object}	Problem	"no invoice has this id, or it had no such version (not created by that time, or not at that version yet)"
//	@Failure		500				{object}	Problem
//	@Failure		401				{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503				{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id} [get]
func (h invoiceHandlers) getInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	asOf, err := asOfQuery(c, id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	noneMatch, err := parseIfNoneMatch(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	var v ports.InvoiceView
	if asOf.Version != 0 || !asOf.At.IsZero() {
		v, err = h.app.Queries.GetInvoiceAsOf.Handle(c.Request.Context(), asOf)
	} else {
		v, err = h.app.Queries.GetInvoice.Handle(c.Request.Context(), query.GetInvoice{ID: id})
	}
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	setETag(c, v.Version)
	if noneMatch.matches(v.Version) {
		c.Status(http.StatusNotModified)
		return
	}
	writeJSON(c, http.StatusOK, invoiceJSON(v))
}

// asOfParams are GET /invoices/{id}'s parameters.
var asOfParams = []string{"asOfVersion", "asOf"}

// asOfQuery reads asOfVersion and asOf, one validation error per bad one.
// Neither leaves Version and At zero: the current invoice. The query
// checks the rest (both at once, a time in the future).
func asOfQuery(c *gin.Context, id string) (query.GetInvoiceAsOf, error) {
	q := query.GetInvoiceAsOf{ID: id}
	if err := onlyParams(c, asOfParams); err != nil {
		return q, err
	}
	var errs []error
	values := c.Request.URL.Query()
	if s, ok, err := singleParam(values, "asOfVersion"); err != nil {
		errs = append(errs, err)
	} else if ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, &invoice.ValidationError{Field: "asOfVersion", Reason: "must be an integer of at least 1"})
		}
		q.Version = n
	}
	if s, ok, err := singleParam(values, "asOf"); err != nil {
		errs = append(errs, err)
	} else if ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, &invoice.ValidationError{Field: "asOf", Reason: "must be an RFC 3339 time such as 2026-11-25T20:00:00Z"})
		}
		q.At = t
	}
	return q, errors.Join(errs...)
}

// singleParam returns the query parameter name, which may appear at most
// once and not empty; ok is false when it is absent.
func singleParam(values url.Values, name string) (v string, ok bool, err error) {
	vs, present := values[name]
	switch {
	case !present:
		return "", false, nil
	case len(vs) > 1:
		return "", false, &invoice.ValidationError{Field: name, Reason: "must appear at most once"}
	case vs[0] == "":
		return "", false, &invoice.ValidationError{Field: name, Reason: "must not be empty"}
	}
	return vs[0], true, nil
}

// payInvoice godoc
//
//	@Summary		Pay an invoice
//	@Description	Marks a pending invoice paid. Concurrent pays of one invoice are serialised: exactly one succeeds, the others get 409.
//	@Description	With If-Match (the ETag of a GET, such as "v1"), the pay is conditional: if the invoice is at another version, or another change is stored first, the answer is 412 and nothing changes; it is never retried for you. If-Match: * only requires the invoice to exist.
//	@Description	PATCH is accepted too, as the original API used it. Any request body is ignored.
//	@Tags			invoices
//	@Produce		json
//	@Param			id			path		string	true	"Invoice id"	format(uuid)
//	@Param			If-Match	header		string	false	"Pay only if the invoice is at this ETag's version (one version, or *)"
//	@Param			Idempotency-Key	header	string	false	"1 to 255 printable ASCII characters, bare or as a quoted string; a retry of the same request answers as the first did"
//	@Success		200			{object}	InvoiceResponse
//	@Header			200			{string}	ETag	"strong entity tag of the paid version: "v<version>", quotes included, such as "v2" for version 2"
//	@Header			200			{string}	Warning	"present only if the read model lagged"
//	@Header			200			{string}	Idempotent-Replayed	"true when this answers a retry of an earlier request with the same Idempotency-Key"
//	@Failure		422			{object}	Problem	"this Idempotency-Key was used for a different request (/problems/idempotency-key-reused)"
//	@Failure		400			{object}	Problem	"id is not a UUID, or If-Match is malformed or names more than one version"
//	@Failure		404			{object}	Problem	"no invoice has this id"
//	@Failure		409			{object}	Problem	"already paid (/problems/already-paid) or void (/problems/invoice-void), or a request with this Idempotency-Key is still running (/problems/idempotency-key-in-use)"
//	@Failure		412			{object}	Problem	"If-Match does not name the invoice's current version (/problems/precondition-failed)"
//	@Failure		500			{object}	Problem
//	@Failure		401			{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503			{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id}/pay [post]
//	@Router			/invoices/{id}/pay [patch]
func (h invoiceHandlers) payInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ifVersion, err := ifMatch(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	res, err := h.app.Commands.PayInvoice.Handle(c.Request.Context(), command.PayInvoice{ID: id, IfVersion: ifVersion})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	h.writeChanged(c, res)
}

// voidInvoice godoc
//
//	@Summary		Void an invoice
//	@Description	Cancels a pending invoice, for one issued in error. A void invoice cannot be paid; a paid one cannot be voided.
//	@Description	The body is optional: {"reason": "…"}, at most 500 characters. Pay and void racing on one invoice: exactly one wins, the other gets 409.
//	@Description	With If-Match (the ETag of a GET, such as "v1"), the void is conditional, as a pay is: 412 if the invoice is at another version.
//	@Tags			invoices
//	@Accept			json
//	@Produce		json
//	@Param			id			path		string				true	"Invoice id"	format(uuid)
//	@Param			If-Match	header		string				false	"Void only if the invoice is at this ETag's version (one version, or *)"
//	@Param			Idempotency-Key	header	string	false	"1 to 255 printable ASCII characters, bare or as a quoted string; a retry of the same request answers as the first did"
//	@Param			void		body		VoidInvoiceRequest	false	"Why the invoice is voided"
//	@Success		200			{object}	InvoiceResponse
//	@Header			200			{string}	ETag	"strong entity tag of the void version: "v<version>", quotes included, such as "v2" for version 2"
//	@Header			200			{string}	Warning	"present only if the read model lagged"
//	@Header			200			{string}	Idempotent-Replayed	"true when this answers a retry of an earlier request with the same Idempotency-Key"
//	@Failure		422			{object}	Problem	"this Idempotency-Key was used for a different request (/problems/idempotency-key-reused)"
//	@Failure		400			{object}	Problem	"id is not a UUID, the body or reason is invalid, or If-Match is malformed or names more than one version"
//	@Failure		404			{object}	Problem	"no invoice has this id"
//	@Failure		409			{object}	Problem	"already paid (/problems/already-paid) or already void (/problems/already-void), or a request with this Idempotency-Key is still running (/problems/idempotency-key-in-use)"
//	@Failure		412			{object}	Problem	"If-Match does not name the invoice's current version (/problems/precondition-failed)"
//	@Failure		413			{object}	Problem	"body larger than HTTP_MAX_BODY_BYTES"
//	@Failure		415			{object}	Problem	"a body that is not declared as JSON"
//	@Failure		500			{object}	Problem
//	@Failure		401			{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503			{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id}/void [post]
func (h invoiceHandlers) voidInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ifVersion, err := ifMatch(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	reason, err := decodeVoid(c.Request, c.Writer, h.maxBodyBytes)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	res, err := h.app.Commands.VoidInvoice.Handle(c.Request.Context(), command.VoidInvoice{ID: id, Reason: reason, IfVersion: ifVersion})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	h.writeChanged(c, res)
}

// writeChanged answers a pay or void with the invoice it left, its ETag,
// and the headers that say how it was answered.
func (h invoiceHandlers) writeChanged(c *gin.Context, res command.Result) {
	if !res.Projected {
		c.Header("Warning", lagWarning)
	}
	markReplayed(c, res)
	setETag(c, res.Invoice.Version)
	writeJSON(c, http.StatusOK, invoiceJSON(res.Invoice))
}

// invoiceID returns the path id in canonical form, or a validation error.
func invoiceID(c *gin.Context) (string, error) {
	raw := c.Param("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return "", &invoice.ValidationError{Field: "id", Reason: "must be a UUID such as 0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"}
	}
	return id.String(), nil
}

// filterParams are GET /invoices's filters; listParams all its parameters.
var (
	filterParams = []string{"status", "customerId", "currency", "createdFrom", "createdTo", "dueBefore"}
	listParams   = append([]string{"cursor", "limit"}, filterParams...)
)

// listFilter reads the filter parameters of GET /invoices, one validation
// error per bad value. Only status may be repeated.
func listFilter(q url.Values) (ports.InvoiceFilter, error) {
	var f ports.InvoiceFilter
	var errs []error
	bad := func(field, reason string) {
		errs = append(errs, &invoice.ValidationError{Field: field, Reason: reason})
	}
	single := func(name string) (string, bool) {
		vs, ok := q[name]
		switch {
		case !ok:
			return "", false
		case len(vs) > 1:
			bad(name, "must appear at most once")
			return "", false
		case vs[0] == "":
			bad(name, "must not be empty")
			return "", false
		}
		return vs[0], true
	}
	for _, s := range q["status"] {
		st, err := invoice.ParseStatus("status", s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.Contains(f.Statuses, st) {
			f.Statuses = append(f.Statuses, st)
		}
	}
	if s, ok := single("customerId"); ok {
		if err := invoice.ValidateCustomerID(s); err != nil {
			errs = append(errs, err)
		}
		f.CustomerID = strings.TrimSpace(s)
	}
	if s, ok := single("currency"); ok {
		// A withdrawn code still finds the invoices issued in it.
		cur, err := invoice.StoredCurrency(strings.ToUpper(s))
		if err != nil {
			bad("currency", "must be a three-letter ISO 4217 code such as EUR")
		}
		f.Currency = cur.Code()
	}
	instant := func(name string) time.Time {
		s, ok := single(name)
		if !ok {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad(name, "must be an RFC 3339 time such as 2026-11-25T20:00:00Z")
			return time.Time{}
		}
		// An offset can carry a valid RFC 3339 time out of the years 1 to
		// 9999 in UTC, which the stores do not order alike (SQLite compares
		// the text "10000-…" as before "2026-…").
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			bad(name, "must be a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
			return time.Time{}
		}
		return t
	}
	f.CreatedFrom, f.CreatedTo = instant("createdFrom"), instant("createdTo")
	if s, ok := single("dueBefore"); ok {
		d, err := invoice.ParseDate("dueBefore", s)
		if err != nil {
			errs = append(errs, err)
		}
		f.DueBefore = d
	}
	return f, errors.Join(errs...)
}

// onlyParams refuses query parameters outside known, one validation error
// each: a parameter the endpoint ignored (a filter it does not have, a
// misspelt limit) would answer a different question than the one asked.
func onlyParams(c *gin.Context, known []string) error {
	var errs []error
	for name := range c.Request.URL.Query() {
		if !slices.Contains(known, name) {
			errs = append(errs, &invoice.ValidationError{Field: name,
				Reason: "is not a query parameter of this endpoint (known: " + strings.Join(known, ", ") + ")"})
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
