package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

// checkoutTimeout bounds one checkout; it runs detached from the client's
// connection so a hang-up cannot stop a saga half way.
const checkoutTimeout = 30 * time.Second

// checkoutOutcomes are the outcome codes of POST /v1/orders whose series
// exist from start (at 0), so alerts on their rates work before the first
// one happens: created, replayed, and the API error codes of checkouts that
// ran. Other error codes (malformed requests) appear when first seen.
var checkoutOutcomes = []string{
	"created", "replayed", "insufficient_stock", "payment_declined", "invalid_payment_token",
	"payment_gateway_unavailable", "checkout_expired", "idempotency_key_reused", "request_in_progress",
	"unpriceable_sku", "unknown_sku", "internal",
}

// countCheckout counts a POST /v1/orders by outcome: the given code, else
// the code of the error the request failed with (internal when it maps to
// none).
func (s *Server) countCheckout(outcome string, err error) {
	if s.checkouts == nil {
		return
	}
	if outcome == "" {
		outcome = "internal"
		if ae := toAPIError(err); ae != nil {
			outcome = ae.Code
		}
	}
	s.checkouts.WithLabelValues(outcome).Inc()
}

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) (err error) {
	// A request that fails is counted by its error; one that is answered
	// below is counted before its response is written.
	defer func() {
		if err != nil {
			s.countCheckout("", err)
		}
	}()
	customer := CustomerID(r)
	if customer == "" {
		return apiErr(http.StatusBadRequest, "missing_customer_id", "orders need an X-Customer-ID header")
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return apiErr(http.StatusBadRequest, "missing_idempotency_key", "POST /v1/orders needs an Idempotency-Key header")
	}
	if len(key) > 255 || !utf8.ValidString(key) {
		return apiErr(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be at most 255 bytes of UTF-8")
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var req orders.Request
	if err := decodeBytes(body, &req); err != nil {
		return err
	}
	// Requests that fail validation never ran: their keys are not stored.
	if err := orders.Validate(req); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), checkoutTimeout)
	defer cancel()
	placed, err := s.o.Orders.PlaceOnce(ctx, orders.IdemPlace{
		Customer: customer, Key: key, Hash: idempotency.Hash(r.Method, r.URL.Path, body), Request: req, Encode: s.orderOutcome,
	})
	if err != nil {
		return err
	}
	var outcome string
	switch {
	case placed.Replayed:
		outcome = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	case placed.Err == nil:
		outcome = "created"
	default:
		outcome = "internal"
		if ae := toAPIError(placed.Err); ae != nil {
			outcome = ae.Code
		}
		if placed.Status >= 500 && errors.Is(placed.Err, payments.ErrUnavailable) {
			w.Header().Set("Retry-After", "1")
		}
	}
	s.countCheckout(outcome, nil)
	writeRaw(w, placed.Status, placed.Body)
	return nil
}

// orderOutcome renders a checkout's result as the bytes a retry replays
// (orders.Encoder); the service calls it outside any transaction.
func (s *Server) orderOutcome(o orders.Order, err error) (int, []byte) {
	if err == nil {
		return http.StatusCreated, mustJSON(o)
	}
	ae := toAPIError(err)
	if ae == nil {
		s.log.Error("checkout failed", "err", err)
		ae = apiErr(http.StatusInternalServerError, "internal", "internal error")
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.Code, ae.Message
	return ae.Status, mustJSON(body)
}

func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error":{"code":"internal","message":"encoding response"}}` + "\n")
	}
	return buf.Bytes()
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ownOrder loads an order the caller may see: its customer or an admin.
// Anyone else gets the same 404 as for an order that does not exist.
func (s *Server) ownOrder(r *http.Request) (orders.Order, error) {
	o, err := s.o.Orders.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return orders.Order{}, err
	}
	if !s.IsAdmin(r) && o.CustomerID != CustomerID(r) {
		return orders.Order{}, orders.ErrNotFound
	}
	return o, nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.ownOrder(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.ownOrder(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), checkoutTimeout)
	defer cancel()
	o, err = s.o.Orders.Cancel(ctx, o.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// orderError maps checkout errors; called from toAPIError.
func orderError(err error) *APIError {
	var fe *orders.FailureError
	if errors.As(err, &fe) {
		switch {
		case errors.Is(fe.Cause, payments.ErrDeclined):
			return apiErr(http.StatusPaymentRequired, "payment_declined", "payment was declined; order %s is kept as payment_failed and its stock released", fe.Order.ID)
		case errors.Is(fe.Cause, payments.ErrInvalidToken):
			return apiErr(http.StatusUnprocessableEntity, "invalid_payment_token", "the payment token was refused; order %s is kept as payment_failed", fe.Order.ID)
		case errors.Is(fe.Cause, payments.ErrUnavailable):
			return apiErr(http.StatusServiceUnavailable, "payment_gateway_unavailable", "the payment gateway did not answer; order %s is kept as payment_failed, nothing was charged; retry", fe.Order.ID)
		default:
			return apiErr(http.StatusConflict, "checkout_expired", "the stock reservation of order %s expired before payment completed", fe.Order.ID)
		}
	}
	var ise *inventory.InsufficientStockError
	switch {
	case errors.Is(err, orders.ErrKeyReused):
		return apiErr(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
	case errors.Is(err, orders.ErrKeyInProgress):
		return apiErr(http.StatusConflict, "request_in_progress", "a request with this Idempotency-Key is still being processed; retry later")
	case errors.As(err, &ise):
		return apiErr(http.StatusConflict, "insufficient_stock", "insufficient stock for %s: requested %d, available %d", ise.SKU, ise.Requested, ise.Available)
	case errors.Is(err, payments.ErrInvalidToken):
		return apiErr(http.StatusUnprocessableEntity, "invalid_payment_token", "%s", err.Error())
	case errors.Is(err, orders.ErrAmountTooLarge):
		return apiErr(http.StatusUnprocessableEntity, "amount_too_large", "%s", err.Error())
	case errors.Is(err, orders.ErrUnpriceable):
		return apiErr(http.StatusConflict, "unpriceable_sku", "%s", err.Error())
	case errors.Is(err, orders.ErrDuplicateSKU):
		return apiErr(http.StatusUnprocessableEntity, "duplicate_sku", "%s", err.Error())
	case errors.Is(err, orders.ErrInvalid):
		return apiErr(http.StatusBadRequest, "invalid_order", "%s", err.Error())
	case errors.Is(err, orders.ErrUnknownSKU):
		return apiErr(http.StatusNotFound, "unknown_sku", "%s", err.Error())
	case errors.Is(err, orders.ErrNotFound):
		return apiErr(http.StatusNotFound, "order_not_found", "order not found")
	case errors.Is(err, orders.ErrNotCancellable):
		return apiErr(http.StatusConflict, "not_cancellable", "%s", err.Error())
	}
	return nil
}
