package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/app"
	"invoices/app/command"
	"invoices/app/query"
	"invoices/domain/invoice"
)

// lagWarning tells a client the read model had not caught up when it was
// answered (RFC 9111 warn-code 199, "miscellaneous warning").
const lagWarning = `199 invoices "read model is catching up: a GET may not show this change for a moment"`

type invoiceHandlers struct {
	app          app.Application
	log          *zap.Logger
	maxBodyBytes int64
}

// createInvoice godoc
//
//	@Summary		Create an invoice
//	@Description	Issues an invoice and answers once its event is stored and the read model shows it.
//	@Description	amount is an exact JSON number: > 0, at most 2 decimal places, at most 999999999999.99.
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
	in, err := decodeCreate(c.Request, c.Writer, h.maxBodyBytes)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	id := uuid.NewString()
	res, err := h.app.Commands.CreateInvoice.Handle(c.Request.Context(), command.CreateInvoice{
		ID: id, CustomerID: in.CustomerID, Amount: in.Amount,
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
//	@Description	Newest first, one page at a time. When more pages exist, the `Link` header holds the next page's URL (rel="next").
//	@Tags			invoices
//	@Produce		json
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(1000)	default(100)
//	@Param			cursor	query		string	false	"Opaque cursor from the previous page's Link header"
//	@Success		200		{array}		InvoiceResponse
//	@Header			200		{string}	Link	"<https://…/invoices?cursor=…&limit=…>; rel=\"next\""
//	@Failure		400		{object}	Problem	"bad limit or cursor, or a query parameter this endpoint does not know"
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
	q := query.ListInvoices{Cursor: c.Query("cursor")}
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
		next := url.Values{"cursor": {page.NextCursor}, "limit": {strconv.Itoa(limit)}}
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

// invoiceID returns the path id in canonical form, or a validation error.
func invoiceID(c *gin.Context) (string, error) {
	raw := c.Param("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return "", &invoice.ValidationError{Field: "id", Reason: "must be a UUID such as 0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"}
	}
	return id.String(), nil
}

// listParams are the query parameters GET /invoices takes.
var listParams = []string{"cursor", "limit"}

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
