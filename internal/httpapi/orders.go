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

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) error {
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
	hash := idempotency.Hash(r.Method, r.URL.Path, body)
	// A paid checkout's response is rendered and stored with the order in
	// one transaction where the store can (orders.IdemRef.Respond); the
	// handler then answers with those bytes and skips Finish. The last
	// response rendered is the committed one: a transaction run again
	// renders again, and one that failed fails the checkout. This relies on
	// the keys living in the orders' database, as they do wherever a store
	// takes Respond (app.New wires one store as both).
	var (
		storedStatus int
		stored       []byte
	)
	idem := orders.IdemRef{Scope: customer, Key: key, Respond: func(o orders.Order) (int, []byte) {
		storedStatus, stored = s.orderOutcome(o, nil)
		return storedStatus, stored
	}}
	var (
		o    orders.Order
		perr error
	)
	deferred, claimed, err := s.placeDeferred(ctx, customer, key, hash, idem, req)
	if err != nil {
		return err
	}
	if claimed {
		o, perr = deferred.o, deferred.err
	} else {
		rec, err := s.o.Idempotency.Begin(ctx, customer, key, hash, time.Now(), s.o.IdempotencyTTL, s.o.IdempotencyLease)
		if err != nil {
			return err
		}
		switch rec.Outcome {
		case idempotency.Conflict:
			return apiErr(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
		case idempotency.InProgress:
			return apiErr(http.StatusConflict, "request_in_progress", "a request with this Idempotency-Key is still being processed; retry later")
		case idempotency.Replay:
			w.Header().Set("Idempotent-Replayed", "true")
			writeRaw(w, rec.Status, rec.Body)
			return nil
		case idempotency.Resume:
			if rec.ResourceID != "" {
				o, perr = s.o.Orders.Resume(ctx, rec.ResourceID)
				break
			}
			o, perr = s.o.Orders.Place(ctx, customer, idem, req)
		default:
			o, perr = s.o.Orders.Place(ctx, customer, idem, req)
		}
	}
	status, out := storedStatus, stored
	if perr != nil || stored == nil {
		status, out = s.orderOutcome(o, perr)
	}
	switch {
	case status >= 500:
		// A retry may succeed: let it run again, unless an order this key
		// made may hold a charge (a retry then resumes it), or the claim
		// is not this request's (its deferred claim was never written).
		if !(claimed && o.ID == "") {
			forgettable := ""
			if o.Status == orders.StatusPaymentFailed {
				forgettable = o.ID // released and voided: nothing to resume
			}
			if err := s.o.Idempotency.Forget(ctx, customer, key, forgettable); err != nil {
				s.log.Warn("forgetting idempotency key", "err", err)
			}
		}
		if errors.Is(perr, payments.ErrUnavailable) {
			w.Header().Set("Retry-After", "1")
		}
	case claimed && o.ID == "":
		// The checkout ended before the transaction that writes the claim
		// (unknown SKU, no stock): store the answer under a new key.
		if err := deferred.store.Settle(ctx, customer, key, deferred.claim, status, out); err != nil {
			return err
		}
	case perr == nil && stored != nil:
		// Stored by the transaction that marked the order paid.
	default:
		if err := s.o.Idempotency.Finish(ctx, customer, key, status, out); err != nil {
			return err
		}
	}
	writeRaw(w, status, out)
	return nil
}

// deferredPlace is the outcome of a checkout whose idempotency claim was
// written by its own first transaction.
type deferredPlace struct {
	store idempotency.Deferred
	claim idempotency.Claim
	o     orders.Order
	err   error
}

// placeDeferred runs a checkout with its key claimed by the checkout's
// first transaction, when the key is new and both the key store and
// checkout can (idempotency.Deferred, orders.Service.DefersClaims): one
// durable write fewer per order. claimed is false when the request must
// go through Begin instead: the key has a row already, or another request
// claimed it first (that request wrote nothing of this one).
func (s *Server) placeDeferred(ctx context.Context, customer, key, hash string, idem orders.IdemRef, req orders.Request) (d deferredPlace, claimed bool, err error) {
	store, ok := s.o.Idempotency.(idempotency.Deferred)
	if !ok || !s.o.Orders.DefersClaims() {
		return d, false, nil
	}
	exists, err := store.Exists(ctx, customer, key)
	if err != nil || exists {
		return d, false, err
	}
	now := time.Now()
	d = deferredPlace{store: store, claim: idempotency.Claim{Hash: hash, At: now, Expires: now.Add(s.o.IdempotencyTTL)}}
	idem.Claim = &d.claim
	d.o, d.err = s.o.Orders.Place(ctx, customer, idem, req)
	if errors.Is(d.err, idempotency.ErrTaken) {
		return deferredPlace{}, false, nil
	}
	return d, true, nil
}

// orderOutcome renders a checkout's result as the bytes a retry replays.
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
