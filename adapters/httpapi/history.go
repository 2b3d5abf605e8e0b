package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"invoices/app/query"
	"invoices/domain/invoice"
)

// historyParams are GET /invoices/{id}/events's parameters.
var historyParams = []string{"after", "limit"}

// invoiceHistory godoc
//
//	@Summary		An invoice's history
//	@Description	The invoice's events from the event store, in version order: the audit trail of every change. Each payload is shown in its type's current schema (upcast if it was stored at an older one); schemaVersion is the version it is stored at.
//	@Description	metadata.correlationId is the X-Request-ID of the request that made the event, causationId the command, idempotencyKey its Idempotency-Key if it had one.
//	@Description	One page at a time: after is the version the page follows (0, the default, for the first). When more events exist, the `Link` header holds the next page's URL (rel="next").
//	@Tags			invoices
//	@Produce		json
//	@Param			id		path		string	true	"Invoice id"	format(uuid)
//	@Param			after	query		int		false	"Only events after this version"	minimum(0)	default(0)
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(1000)	default(100)
//	@Success		200		{array}		InvoiceEventResponse
//	@Header			200		{string}	Link	"</invoices/{id}/events?after=…&limit=…>; rel="next" (only when more events exist)"
//	@Failure		400		{object}	Problem	"id is not a UUID, a bad after or limit, or a query parameter this endpoint does not know"
//	@Failure		404		{object}	Problem	"no invoice has this id"
//	@Failure		500		{object}	Problem
//	@Failure		401		{object}	Problem	"API key missing or wrong (only when API_KEYS is set)"
//	@Failure		503		{object}	Problem	"a database is unreachable or the request timed out; retry"
//	@Security		BearerAuth
//	@Router			/invoices/{id}/events [get]
func (h invoiceHandlers) invoiceHistory(c *gin.Context) {
	id, err := invoiceID(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	q, err := historyQuery(c, id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	page, err := h.app.Queries.InvoiceHistory.Handle(c.Request.Context(), q)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if page.Next != 0 {
		limit := q.Limit
		if limit == 0 {
			limit = query.DefaultLimit
		}
		next := url.Values{}
		next.Set("after", strconv.Itoa(page.Next))
		next.Set("limit", strconv.Itoa(limit))
		c.Header("Link", fmt.Sprintf(`</invoices/%s/events?%s>; rel="next"`, id, next.Encode()))
	}
	out := make([]InvoiceEventResponse, len(page.Events))
	for i, e := range page.Events {
		out[i] = invoiceEventResponse(e)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(c, h.log, fmt.Errorf("encode invoice %s history: %w", id, err))
		return
	}
	writeJSON(c, http.StatusOK, body)
}

// historyQuery reads after and limit, one validation error per bad one;
// the query checks their ranges.
func historyQuery(c *gin.Context, id string) (query.InvoiceHistory, error) {
	q := query.InvoiceHistory{ID: id}
	if err := onlyParams(c, historyParams); err != nil {
		return q, err
	}
	values := c.Request.URL.Query()
	integer := func(name, reason string) (int, bool, error) {
		s, ok, err := singleParam(values, name)
		if err != nil || !ok {
			return 0, false, err
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, false, &invoice.ValidationError{Field: name, Reason: reason}
		}
		return n, true, nil
	}
	var errs []error
	if n, ok, err := integer("limit", fmt.Sprintf("must be an integer between 1 and %d", query.MaxLimit)); err != nil {
		errs = append(errs, err)
	} else if ok {
		if n == 0 {
			n = -1 // an explicit 0 is invalid, not "use the default"
		}
		q.Limit = n
	}
	if n, ok, err := integer("after", "must be a version: an integer of at least 0"); err != nil {
		errs = append(errs, err)
	} else if ok {
		q.After = n
	}
	return q, errors.Join(errs...)
}
