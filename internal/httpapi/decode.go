package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// decodeJSON reads one JSON object into v, whatever the Content-Type (curl -d
// sends form encoding), strictly: unknown fields, wrong types, trailing
// data and invalid UTF-8 are 400s; the body is read by readBody.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBytes(body, v)
}

// readBody reads a request body of at most MaxBody bytes. Only a body over
// the limit is a 413 body_too_large; a read that timed out (the server's
// ReadTimeout) is a 408 and any other failure (a broken chunked encoding,
// a client that sent less than its Content-Length) a 400 unreadable_body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err == nil {
		return body, nil
	}
	var (
		tooBig  *http.MaxBytesError
		timeout interface{ Timeout() bool }
	)
	switch {
	case errors.As(err, &tooBig):
		return nil, apiErr(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds %d bytes", MaxBody)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return nil, apiErr(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time")
	}
	return nil, apiErr(http.StatusBadRequest, "unreadable_body", "reading request body: %v", err)
}

// decodeBytes is decodeJSON's strict decoding of a body already read.
func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apiErr(http.StatusBadRequest, "empty_body", "request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return apiErr(http.StatusBadRequest, "invalid_utf8", "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, "malformed_json", "unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return apiErr(http.StatusBadRequest, "malformed_json", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return apiErr(http.StatusBadRequest, "wrong_type", "field %q must be %s, got %s", field, typ.Type.String(), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apiErr(http.StatusBadRequest, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiErr(http.StatusBadRequest, "malformed_json", "request body ends in the middle of a JSON value")
	}
	return apiErr(http.StatusBadRequest, "malformed_json", "%s", fmt.Sprint(err))
}

// limitParam reads the limit query parameter: def when absent, else an
// integer 1..max or a 400 invalid_limit.
func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, apiErr(http.StatusBadRequest, "invalid_limit", "limit must be an integer 1-%d", max)
	}
	return n, nil
}
