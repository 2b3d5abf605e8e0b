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
}

// createInvoice godoc
//
//	@Summary		Create an invoice
//	@Description	Issues an invoice and answers once its event is stored and the read model shows it.
//	@Description	currency is an ISO 4217 code in any case (DEFAULT_CURRENCY when absent; funds, metals and XTS/XXX are refused).
//	@Description	amount is an exact JSON number: > 0, below 1000000000000, with at most the currency's minor-unit decimal places (JPY 0, EUR 2, KWD 3).
//	@Description	dueDate is optional: YYYY-MM-DD, from the issue date (UTC) to 5 years after it.
//	@Description	A `Warning` header means the read model had not caught up within READ_YOUR_WRITES_TIMEOUT.
//	@Tags			invoices
//	@Accept			json
//	@Produce		json
//	@Param			invoice	body		CreateInvoiceRequest	true	"The invoice to create"
//	@Success		201		{object}	InvoiceResponse
//	@Header			201		{string}	Location	"/invoices/{id}"
//	@Header			201		{string}	Warning		"present only if the read model lagged"
//	@Failure		400		{object}	Problem	"validation failed or malformed JSON"
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
	c.Header("Location", "/invoices/"+id)
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
//	@Header			200			{string}	Link	"<https://…/invoices?cursor=…&limit=…>; rel=\"next\""
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
//	@Summary	Get an invoice
//	@Tags		invoices
//	@Produce	json
//	@Param		id	path		string	true	"Invoice id"	format(uuid)
//	@Success	200	{object}	InvoiceResponse
//	@Failure	400	{object}	Problem	"id is not a UUID"
//	@Failure	404	{object}	Problem	"no invoice has this id"
//	@Failure	500	{object}	Problem
//	@Failure	401	{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure	503	{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security	BearerAuth
//	@Router		/invoices/{id} [get]
func (h invoiceHandlers) getInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	v, err := h.app.Queries.GetInvoice.Handle(c.Request.Context(), query.GetInvoice{ID: id})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	writeJSON(c, http.StatusOK, invoiceJSON(v))
}

// payInvoice godoc
//
//	@Summary		Pay an invoice
//	@Description	Marks a pending invoice paid. Concurrent pays of one invoice are serialised: exactly one succeeds, the others get 409.
//	@Description	PATCH is accepted too, as the original API used it. Any request body is ignored.
//	@Tags			invoices
//	@Produce		json
//	@Param			id	path		string	true	"Invoice id"	format(uuid)
//	@Success		200	{object}	InvoiceResponse
//	@Header			200	{string}	Warning	"present only if the read model lagged"
//	@Failure		400	{object}	Problem	"id is not a UUID"
//	@Failure		404	{object}	Problem	"no invoice has this id"
//	@Failure		409	{object}	Problem	"already paid"
//	@Failure		500	{object}	Problem
//	@Failure		401	{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503	{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id}/pay [post]
//	@Router			/invoices/{id}/pay [patch]
func (h invoiceHandlers) payInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	res, err := h.app.Commands.PayInvoice.Handle(c.Request.Context(), command.PayInvoice{ID: id})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if !res.Projected {
		c.Header("Warning", lagWarning)
	}
	writeJSON(c, http.StatusOK, invoiceJSON(res.Invoice))
}

// voidInvoice godoc
//
//	@Summary		Void an invoice
//	@Description	Cancels a pending invoice, for one issued in error. A void invoice cannot be paid; a paid one cannot be voided.
//	@Description	The body is optional: {"reason": "…"}, at most 500 characters. Pay and void racing on one invoice: exactly one wins, the other gets 409.
//	@Tags			invoices
//	@Accept			json
//	@Produce		json
//	@Param			id		path		string				true	"Invoice id"	format(uuid)
//	@Param			void	body		VoidInvoiceRequest	false	"Why the invoice is voided"
//	@Success		200		{object}	InvoiceResponse
//	@Header			200		{string}	Warning	"present only if the read model lagged"
//	@Failure		400		{object}	Problem	"id is not a UUID, or the body or reason is invalid"
//	@Failure		404		{object}	Problem	"no invoice has this id"
//	@Failure		409		{object}	Problem	"already paid (/problems/already-paid) or already void (/problems/already-void)"
//	@Failure		413		{object}	Problem	"body larger than HTTP_MAX_BODY_BYTES"
//	@Failure		415		{object}	Problem	"a body that is not declared as JSON"
//	@Failure		500		{object}	Problem
//	@Failure		401		{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503		{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id}/void [post]
func (h invoiceHandlers) voidInvoice(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	reason, err := decodeVoid(c.Request, c.Writer, h.maxBodyBytes)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	res, err := h.app.Commands.VoidInvoice.Handle(c.Request.Context(), command.VoidInvoice{ID: id, Reason: reason})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if !res.Projected {
		c.Header("Warning", lagWarning)
	}
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
