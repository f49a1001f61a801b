package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/payments"
)

// Errors PlaceOnce returns about a request's key, where no checkout ran.
var (
	// ErrKeyReused: the key was used with another request (another hash).
	ErrKeyReused = errors.New("idempotency key used with another request")
	// ErrKeyInProgress: the first request with the key is still running.
	ErrKeyInProgress = errors.New("a request with this idempotency key is still running")
)

// Encoder renders a checkout's outcome, the order placed or the error that
// ended it, as the response its key keeps: a retry replays those bytes.
// PlaceOnce never calls it inside a transaction.
type Encoder func(o Order, err error) (status int, body []byte)

// IdemPlace is one checkout request under an idempotency key.
type IdemPlace struct {
	Customer string // the key's scope
	Key      string
	Hash     string // the request's fingerprint (idempotency.Hash)
	Request  Request
	Encode   Encoder
}

// Placed is PlaceOnce's answer: the response to send and what it renders.
type Placed struct {
	Status int
	Body   []byte
	// Replayed: the key had finished already; Status and Body are its
	// stored response, and Order and Err are empty.
	Replayed bool
	// Order and Err are this request's checkout, as Place returns it.
	Order Order
	Err   error
}

// PlaceOnce runs a checkout at most once per key, with Stripe's semantics:
// the first request with a key runs; a retry with the same hash gets the
// first response byte for byte; another hash fails with ErrKeyReused; a
// retry while the first request runs fails with ErrKeyInProgress, and one
// after it died (its claim outlived Options.KeyLease) finishes its work. A
// response of status 500 or more is not kept, so a retry runs again,
// unless the checkout left an order that may hold a charge: a retry then
// resumes that order. A checkout that failed is a response, not an error:
// the error is about the key or its store.
func (s *Service) PlaceOnce(ctx context.Context, p IdemPlace) (Placed, error) {
	switch {
	case s.o.Keys == nil:
		return Placed{}, errors.New("placing an order once: no idempotency key store (Options.Keys)")
	case p.Encode == nil:
		return Placed{}, errors.New("placing an order once: no response encoder")
	case p.Key == "":
		return Placed{}, fmt.Errorf("%w: an idempotency key is required", ErrInvalid)
	}
	d, claimed, err := s.placeDeferred(ctx, p)
	if err != nil {
		return Placed{}, err
	}
	if claimed {
		placed, kept, err := s.keep(ctx, p, d.o, d.err, d.pre, &d)
		if err != nil || kept {
			return placed, err
		}
		// The checkout ended before its claim was written, and the key
		// turned out to have a row (placeDeferred does not look first):
		// the request goes through Begin like any retry.
	}
	var (
		o    Order
		perr error
		pre  *response
	)
	rec, err := s.o.Keys.Begin(ctx, p.Customer, p.Key, p.Hash, s.o.Now(), s.o.KeyTTL, s.o.KeyLease)
	if err != nil {
		return Placed{}, fmt.Errorf("claiming idempotency key: %w", err)
	}
	switch rec.Outcome {
	case idempotency.Conflict:
		return Placed{}, ErrKeyReused
	case idempotency.InProgress:
		return Placed{}, ErrKeyInProgress
	case idempotency.Replay:
		return Placed{Status: rec.Status, Body: rec.Body, Replayed: true}, nil
	case idempotency.Resume:
		if rec.ResourceID != "" {
			o, perr = s.Resume(ctx, rec.ResourceID)
			break
		}
		fallthrough // the first request died before it stored an order
	default:
		pre = s.newResponse(p.Encode)
		o, perr = s.place(ctx, p.Customer, IdemRef{Scope: p.Customer, Key: p.Key}, p.Request, pre)
	}
	placed, _, err := s.keep(ctx, p, o, perr, pre, nil)
	return placed, err
}

// keep renders a checkout's outcome and keeps it under the request's key.
// d is the deferred claim the checkout ran under, nil when Begin claimed
// the key. kept is false only when d's checkout ended before its claim
// was written and the key had a row already: nothing was stored (nor the
// refusal counted), and the caller goes through Begin.
func (s *Service) keep(ctx context.Context, p IdemPlace, o Order, perr error, pre *response, d *deferredPlace) (placed Placed, kept bool, err error) {
	deferred := d != nil
	var (
		status int
		body   []byte
	)
	stored := perr == nil && pre.taken()
	if stored {
		status, body = pre.status, pre.body
	} else {
		status, body = p.Encode(o, perr)
	}
	switch {
	case status >= 500:
		// A retry may succeed: let it run again, unless an order this key
		// made may hold a charge (a retry then resumes it), or the claim
		// is not this request's (its deferred claim was never written).
		if !(deferred && o.ID == "") {
			forgettable := ""
			if o.Status == StatusPaymentFailed {
				forgettable = o.ID // released and voided: nothing to resume
			}
			if err := s.o.Keys.Forget(ctx, p.Customer, p.Key, forgettable); err != nil {
				s.o.Logger.Warn("forgetting idempotency key", "err", err)
			}
		}
	case deferred && o.ID == "":
		// The checkout ended before the transaction that writes the claim
		// (unknown SKU, no stock): store the answer under a new key.
		written, err := d.store.Settle(ctx, p.Customer, p.Key, d.claim, status, body)
		if err != nil {
			return Placed{}, false, fmt.Errorf("storing idempotent response: %w", err)
		}
		if !written {
			return Placed{}, false, nil
		}
		// Counted only now that this is the key's answer: a retry of a
		// paid checkout that found no stock left replays its 201.
		s.recordRefusal(ctx, perr, stockOf(p.Request))
	case stored:
		// Stored by the transaction that marked the order paid.
	default:
		if err := s.o.Keys.Finish(ctx, p.Customer, p.Key, status, body); err != nil {
			return Placed{}, false, fmt.Errorf("storing idempotent response: %w", err)
		}
	}
	return Placed{Status: status, Body: body, Order: o, Err: perr}, true, nil
}

// deferredPlace is the outcome of a checkout whose idempotency claim was
// written by its own first transaction.
type deferredPlace struct {
	store idempotency.Deferred
	claim idempotency.Claim
	o     Order
	err   error
	pre   *response
}

// placeDeferred runs a checkout with its key claimed by the checkout's
// first transaction, when the key store and checkout can
// (idempotency.Deferred, DefersClaims, keys in the order store): one
// durable write fewer per order. It does not look the key up first (a
// round trip per order): a claim that finds the key taken makes claimed
// false, and the request goes through Begin instead; nothing of it was
// written. A checkout that ends before its claim is written (no stock)
// is settled by keep, which sends it through Begin too if the key turns
// out to have a row.
func (s *Service) placeDeferred(ctx context.Context, p IdemPlace) (d deferredPlace, claimed bool, err error) {
	store, ok := s.o.Keys.(idempotency.Deferred)
	if !ok || !s.keysWithOrders || !s.DefersClaims() {
		return d, false, nil
	}
	now := s.o.Now()
	d = deferredPlace{store: store, claim: idempotency.Claim{Hash: p.Hash, At: now, Expires: now.Add(s.o.KeyTTL)}, pre: s.newResponse(p.Encode)}
	d.o, d.err = s.place(ctx, p.Customer, IdemRef{Scope: p.Customer, Key: p.Key, Claim: &d.claim}, p.Request, d.pre)
	if errors.Is(d.err, idempotency.ErrTaken) {
		return deferredPlace{}, false, nil
	}
	return d, true, nil
}

// response is a paid checkout's response rendered before the transaction
// that marks the order paid, which stores it (IdemRef.Respond): the key
// needs no write of its own, and nothing is rendered while the
// transaction holds the store.
type response struct {
	encode Encoder
	status int
	body   []byte
	stored bool // a transaction that marked the order paid took it
}

// newResponse returns where a checkout's paid response is rendered, when
// the transaction that marks the order paid can store it: the stock and
// the keys live in the order store. Elsewhere it is nil, and the response
// is stored by Finish.
func (s *Service) newResponse(enc Encoder) *response {
	if s.joint == nil || !s.keysWithOrders {
		return nil
	}
	return &response{encode: enc}
}

// respondWith renders o as the payment leaves it (paid at now with auth)
// and returns idem with those bytes to store. It reports false, leaving
// idem as it was, for an order that cannot be paid.
func (r *response) respondWith(idem IdemRef, o Order, auth payments.Authorization, now time.Time) (IdemRef, bool) {
	paid := o
	if err := paid.Move(StatusPaid, now); err != nil {
		return idem, false
	}
	paid.PaymentID = auth.ID
	r.status, r.body = r.encode(paid, nil)
	idem.Respond = func(Order) (int, []byte) {
		r.stored = true
		return r.status, r.body
	}
	return idem, true
}

func (r *response) taken() bool { return r != nil && r.stored }
