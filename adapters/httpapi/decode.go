package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"invoices/domain/invoice"
)

// createInput is a decoded, validated create request.
type createInput struct {
	CustomerID string
	invoice.Terms
}

// createFields are the keys a create body may hold.
var createFields = []string{"customerId", "amount", "currency", "dueDate"}

// decodeCreate reads and validates a create body; an absent currency is
// defaultCurrency. Every failure is a *problemError with a 4xx status;
// nothing is stored for any of them. The due date's range is the domain's
// to check, against the issue date.
func decodeCreate(r *http.Request, w http.ResponseWriter, maxBytes int64, defaultCurrency invoice.Currency) (createInput, error) {
	if err := requireJSON(r); err != nil {
		return createInput{}, err
	}
	body, err := readBody(r, w, maxBytes)
	if err != nil {
		return createInput{}, err
	}
	// A map rather than CreateInvoiceRequest: keys match exactly (encoding/json
	// matches struct fields case-insensitively) and every unknown key is seen.
	obj, repeated, err := decodeObject(body)
	if err != nil {
		return createInput{}, err
	}
	var in createInput
	var fields []FieldError
	addErr := func(err error) {
		var ve *invoice.ValidationError
		if errors.As(err, &ve) {
			fields = append(fields, FieldError{Field: ve.Field, Message: ve.Reason})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch {
		case !slices.Contains(createFields, k):
			fields = append(fields, FieldError{Field: k, Message: "is not a known field"})
		case repeated[k]:
			fields = append(fields, FieldError{Field: k, Message: "must appear only once"})
		}
	}
	// A repeated field's value is not validated: which of its values the
	// client meant is unknowable, and the repetition is already reported.
	switch raw := obj["customerId"]; {
	case repeated["customerId"]:
	case isAbsent(raw):
		fields = append(fields, FieldError{Field: "customerId", Message: "is required"})
	case raw[0] != '"':
		fields = append(fields, FieldError{Field: "customerId", Message: "must be a string"})
	default:
		if err := json.Unmarshal(raw, &in.CustomerID); err != nil {
			fields = append(fields, FieldError{Field: "customerId", Message: "must be a string"})
		} else if err := invoice.ValidateCustomerID(in.CustomerID); err != nil {
			addErr(err)
		}
	}
	in.Currency = defaultCurrency
	currencyOK := true
	switch raw := obj["currency"]; {
	case repeated["currency"]:
		currencyOK = false
	case isAbsent(raw):
	default:
		var code string
		if raw[0] != '"' || json.Unmarshal(raw, &code) != nil {
			fields = append(fields, FieldError{Field: "currency", Message: "must be a string such as \"EUR\""})
			currencyOK = false
			break
		}
		cur, err := invoice.ParseCurrency(code)
		if err != nil {
			addErr(err)
			currencyOK = false
			break
		}
		in.Currency = cur
	}
	switch raw := obj["amount"]; {
	case repeated["amount"]:
	case isAbsent(raw):
		fields = append(fields, FieldError{Field: "amount", Message: "is required"})
	case raw[0] != '-' && (raw[0] < '0' || raw[0] > '9'):
		fields = append(fields, FieldError{Field: "amount", Message: "must be a JSON number"})
	case !currencyOK:
		// Its decimal places depend on a currency that is not known.
		if _, err := invoice.ParseAmount(string(raw)); err != nil {
			addErr(err)
		}
	default:
		amount, err := invoice.ParseAmountIn(string(raw), in.Currency)
		if err != nil {
			var ve *invoice.ValidationError
			if errors.As(err, &ve) {
				fields = append(fields, FieldError{Field: "amount", Message: ve.Reason + " (" + in.Currency.Code() + ")"})
			}
		}
		in.Amount = amount
	}
	switch raw := obj["dueDate"]; {
	case repeated["dueDate"], isAbsent(raw):
	default:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			fields = append(fields, FieldError{Field: "dueDate", Message: "must be a date string written YYYY-MM-DD"})
			break
		}
		due, err := invoice.ParseDate("dueDate", s)
		if err != nil {
			addErr(err)
			break
		}
		in.DueDate = due
	}
	if len(fields) > 0 {
		return createInput{}, validationProblem(fields)
	}
	return in, nil
}

// decodeVoid reads the optional body of a void: none at all, or a JSON
// object with an optional reason. Every failure is a *problemError.
func decodeVoid(r *http.Request, w http.ResponseWriter, maxBytes int64) (string, error) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return "", nil
	}
	if err := requireJSON(r); err != nil {
		return "", err
	}
	body, err := readBody(r, w, maxBytes)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return "", err
	}
	obj, repeated, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	var fields []FieldError
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch {
		case k != "reason":
			fields = append(fields, FieldError{Field: k, Message: "is not a known field"})
		case repeated[k]:
			fields = append(fields, FieldError{Field: k, Message: "must appear only once"})
		}
	}
	var reason string
	if raw := obj["reason"]; !repeated["reason"] && !isAbsent(raw) {
		if raw[0] != '"' || json.Unmarshal(raw, &reason) != nil {
			fields = append(fields, FieldError{Field: "reason", Message: "must be a string"})
		} else if err := invoice.ValidateVoidReason(strings.TrimSpace(reason)); err != nil {
			var ve *invoice.ValidationError
			if errors.As(err, &ve) {
				fields = append(fields, FieldError{Field: ve.Field, Message: ve.Reason})
			}
		}
	}
	if len(fields) > 0 {
		return "", validationProblem(fields)
	}
	return reason, nil
}

func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// requireJSON answers 415 unless the body is declared as JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	detail := "the request body must be JSON: send Content-Type: application/json"
	if ct != "" {
		detail = fmt.Sprintf("Content-Type %q is not supported: send application/json", ct)
	}
	return newProblem(http.StatusUnsupportedMediaType, typeUnsupportedMedia, "Unsupported media type", detail)
}

// readBody reads at most maxBytes; a longer body is 413 without reading the rest.
func readBody(r *http.Request, w http.ResponseWriter, maxBytes int64) ([]byte, error) {
	tooLarge := func() error {
		return newProblem(http.StatusRequestEntityTooLarge, typeTooLarge, "Payload too large",
			fmt.Sprintf("the request body must be at most %d bytes", maxBytes))
	}
	if r.ContentLength > maxBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge()
	}
	if err != nil {
		return nil, newProblem(http.StatusBadRequest, typeMalformed, "Malformed request", "the request body could not be read")
	}
	return body, nil
}

// decodeObject decodes a body that must be exactly one JSON object into its
// members' raw values, and reports each key that appears more than once.
// encoding/json would silently keep the last of a repeated key's values, so
// {"customerId":"a","customerId":"b"} could mean different invoices to this
// service and to a proxy or logger that keeps the first.
//
// Only the top level is walked token by token; each member's value is read
// whole as a json.RawMessage, as decoding into a map did, so finding repeated
// keys costs no second parse of the body. Nesting inside a value is bounded
// by encoding/json's scanner (10000 levels), which fails with a
// *json.SyntaxError rather than recursing: a deeply nested value is a 400,
// never a stack overflow.
func decodeObject(body []byte) (obj map[string]json.RawMessage, repeated map[string]bool, err error) {
	malformed := func(detail string) error {
		return newProblem(http.StatusBadRequest, typeMalformed, "Malformed request", detail)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, nil, malformed("the request body is empty: send a JSON object")
	case !utf8.Valid(trimmed):
		return nil, nil, malformed("the request body is not valid UTF-8")
	case trimmed[0] != '{':
		return nil, nil, malformed("the request body must be a JSON object")
	}
	syntax := func(err error) error {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return malformed(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			// The Token API reports a body cut short between tokens as io.EOF.
			return malformed("malformed JSON: the body ends inside the object")
		default:
			return malformed("malformed JSON: " + err.Error())
		}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, nil, syntax(err)
	}
	obj = make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntax(err)
		}
		key, ok := tok.(string)
		if !ok { // unreachable: the Token API only returns strings for keys
			return nil, nil, malformed(fmt.Sprintf("malformed JSON at byte %d: expected an object key", dec.InputOffset()))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, syntax(err)
		}
		if _, seen := obj[key]; seen {
			if repeated == nil {
				repeated = make(map[string]bool)
			}
			repeated[key] = true
		}
		obj[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, syntax(err)
	}
	if dec.InputOffset() != int64(len(trimmed)) {
		return nil, nil, malformed("unexpected data after the JSON object")
	}
	return obj, repeated, nil
}
