package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/reviews"
)

// APIError is an error with its HTTP status and stable code.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func apiErr(status int, code, format string, a ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// toAPIError maps domain sentinels to statuses, in this one place.
func toAPIError(err error) *APIError {
	var (
		ae *APIError
		ve *catalog.ValidationError
	)
	if oe := orderError(err); oe != nil {
		return oe
	}
	if re := reportError(err); re != nil {
		return re
	}
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		return apiErr(http.StatusBadRequest, "invalid_"+codeOf(ve.Field), "%s", ve.Error())
	case errors.Is(err, catalog.ErrInvalid):
		return apiErr(http.StatusBadRequest, "invalid_request", "%s", err.Error())
	case errors.Is(err, catalog.ErrNotFound):
		return apiErr(http.StatusNotFound, "unknown_sku", "%s", err.Error())
	case errors.Is(err, catalog.ErrWouldGoNegative), errors.Is(err, inventory.ErrWouldGoNegative):
		return apiErr(http.StatusConflict, "would_go_negative", "%s", err.Error())
	case errors.Is(err, inventory.ErrStockLimit):
		return apiErr(http.StatusUnprocessableEntity, "stock_limit", "%s", err.Error())
	case errors.Is(err, reviews.ErrInvalid):
		return apiErr(http.StatusBadRequest, "invalid_review", "%s", err.Error())
	case errors.Is(err, reviews.ErrUnknownSKU):
		return apiErr(http.StatusNotFound, "unknown_sku", "%s", err.Error())
	case errors.Is(err, reviews.ErrNotFound):
		return apiErr(http.StatusNotFound, "review_not_found", "%s", err.Error())
	case errors.Is(err, reviews.ErrOrderNotFound):
		return apiErr(http.StatusNotFound, "order_not_found", "%s", err.Error())
	case errors.Is(err, reviews.ErrBadDateRange):
		return apiErr(http.StatusBadRequest, "invalid_date_range", "%s", err.Error())
	case errors.Is(err, replenishment.ErrNotFound):
		return apiErr(http.StatusNotFound, "purchase_order_not_found", "%s", err.Error())
	case errors.Is(err, replenishment.ErrIllegalTransition):
		return apiErr(http.StatusConflict, "illegal_transition", "%s", err.Error())
	case errors.Is(err, inventory.ErrUnknownSKU):
		return apiErr(http.StatusNotFound, "unknown_sku", "%s", err.Error())
	case errors.Is(err, inventory.ErrInsufficientStock):
		return apiErr(http.StatusConflict, "insufficient_stock", "%s", err.Error())
	case errors.Is(err, inventory.ErrInvalid):
		return apiErr(http.StatusBadRequest, "invalid_request", "%s", err.Error())
	case errors.Is(err, inventory.ErrUnknownReservation):
		return apiErr(http.StatusNotFound, "unknown_reservation", "%s", err.Error())
	case errors.Is(err, inventory.ErrReservationClosed):
		return apiErr(http.StatusConflict, "reservation_closed", "%s", err.Error())
	}
	return nil
}

func codeOf(field string) string {
	b := []byte(field)
	for i, c := range b {
		if c == '.' || c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		// Unexpected: log the detail, show the client nothing internal.
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = apiErr(http.StatusInternalServerError, "internal", "internal error")
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.Code, ae.Message
	writeJSON(w, ae.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	// An encoding error here is a client that went away mid-response:
	// there is no one left to tell.
	_ = enc.Encode(v)
}
