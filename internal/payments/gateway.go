package payments

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Gateway failures. Declined, invalid tokens and voided intents are
// answers; Unavailable means the outcome is unknown, so the caller must void
// before giving up.
var (
	ErrDeclined     = errors.New("payment declined")
	ErrInvalidToken = errors.New("invalid payment token")
	ErrUnavailable  = errors.New("payment gateway unavailable")
	// ErrVoided: the order's payment was voided (its checkout was given up),
	// so it can no longer be authorized, as a cancelled payment intent
	// cannot be confirmed at a real gateway.
	ErrVoided = errors.New("payment voided")
	// ErrNotRefundable: a refund of an order with no live authorization
	// (declined, voided) or of more than was authorized.
	ErrNotRefundable = errors.New("payment not refundable")
)

// Authorization is an approved hold on the customer's card.
type Authorization struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

// Gateway is the card gateway port. Every call is idempotent on the order
// id, as real gateways are on their idempotency keys: authorizing the same
// order twice returns the first answer, and voiding or refunding twice does
// it once.
type Gateway interface {
	// CheckToken rejects tokens the gateway would never accept, before any
	// stock is reserved.
	CheckToken(token string) error
	Authorize(ctx context.Context, orderID string, amount int64, token string) (Authorization, error)
	// Void cancels an authorization if there is one (the outcome of a timed
	// out Authorize is unknown: void it so no card stays charged).
	Void(ctx context.Context, orderID string) error
	Refund(ctx context.Context, orderID string, amount int64) error
}

// SimulatedOptions tune the simulated gateway.
type SimulatedOptions struct {
	SlowDelay   time.Duration // tok_slow approves after this delay
	Latency     time.Duration // added to every authorization
	DeclineRate float64       // share of tok_ok authorizations declined at random
	Seed        uint64
	// Retention is how long the gateway remembers an order's payment (its
	// idempotency window; default 24 h), and MaxPayments how many it
	// remembers at most (default 100,000), oldest forgotten first: its
	// memory is bounded whatever the order rate. A forgotten order is
	// authorized anew, and its refunds and voids succeed without effect.
	Retention   time.Duration
	MaxPayments int
	Now         func() time.Time
}

// Simulated is the built-in gateway: tok_ok approves, tok_decline declines,
// tok_slow approves after SlowDelay, anything else is an invalid token.
//
// It keeps one small record per order, like a real gateway's payment
// intent: authorized (with its amount), declined, voided or refunded. Its
// answers follow a real gateway's: every call is idempotent per order; a
// void of an order with no authorization yet cancels the intent, so an
// authorization that arrives after it fails with ErrVoided; an authorized
// payment that is voided stays voided; only a live authorization can be
// refunded, once, for at most its amount.
type Simulated struct {
	o        SimulatedOptions
	mu       sync.Mutex
	rng      *rand.Rand
	payments map[string]*simPayment
	// order lists the remembered payments oldest first (FIFO eviction);
	// head is the index of the oldest still in use.
	order []string
	head  int
}

type simState uint8

const (
	simDeclined simState = iota + 1
	simAuthorized
	simVoided
	simRefunded
)

type simPayment struct {
	state  simState
	amount int64
	at     int64 // unix nanoseconds of the first call, for retention
}

// NewSimulated builds a simulated gateway.
func NewSimulated(o SimulatedOptions) *Simulated {
	if o.Retention <= 0 {
		o.Retention = 24 * time.Hour
	}
	if o.MaxPayments <= 0 {
		o.MaxPayments = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Simulated{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6d657263)), payments: map[string]*simPayment{}}
}

// Simulated tokens.
const (
	TokenOK      = "tok_ok"
	TokenDecline = "tok_decline"
	TokenSlow    = "tok_slow"
)

// CheckToken accepts the simulated tokens.
func (g *Simulated) CheckToken(token string) error {
	switch token {
	case TokenOK, TokenDecline, TokenSlow:
		return nil
	}
	return fmt.Errorf("%w: use tok_ok, tok_decline or tok_slow", ErrInvalidToken)
}

func authorizationID(orderID string) string { return "auth_" + orderID }

// answer is what an authorization of a known payment returns; ok is false
// when the payment is unknown.
func (g *Simulated) answer(orderID string) (Authorization, error, bool) {
	p, ok := g.payments[orderID]
	if !ok {
		return Authorization{}, nil, false
	}
	switch p.state {
	case simDeclined:
		return Authorization{}, ErrDeclined, true
	case simVoided:
		return Authorization{}, fmt.Errorf("%w: order %s", ErrVoided, orderID), true
	}
	// Authorized, or refunded: the same authorization, as a replay.
	return Authorization{ID: authorizationID(orderID), Amount: p.amount}, nil, true
}

// Authorize approves or declines, idempotently per order.
func (g *Simulated) Authorize(ctx context.Context, orderID string, amount int64, token string) (Authorization, error) {
	if err := g.CheckToken(token); err != nil {
		return Authorization{}, err
	}
	if amount <= 0 {
		return Authorization{}, fmt.Errorf("%w: amount must be positive, got %d", ErrDeclined, amount)
	}
	g.mu.Lock()
	if a, err, ok := g.answer(orderID); ok {
		g.mu.Unlock()
		return a, err
	}
	declineDraw := g.rng.Float64()
	g.mu.Unlock()
	delay := g.o.Latency
	if token == TokenSlow {
		delay += g.o.SlowDelay
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return Authorization{}, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		case <-t.C:
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// A concurrent call, or a void, may have decided while this one waited.
	if a, err, ok := g.answer(orderID); ok {
		return a, err
	}
	p := &simPayment{state: simAuthorized, amount: amount}
	if token == TokenDecline || token == TokenOK && declineDraw < g.o.DeclineRate {
		p = &simPayment{state: simDeclined}
	}
	g.remember(orderID, p)
	a, err, _ := g.answer(orderID)
	return a, err
}

// Void cancels an order's authorization, or its intent when none exists
// yet. Voiding a refunded payment is refused (it was captured: refund it).
func (g *Simulated) Void(_ context.Context, orderID string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[orderID]
	switch {
	case !ok:
		g.remember(orderID, &simPayment{state: simVoided})
	case p.state == simAuthorized:
		p.state = simVoided
	case p.state == simRefunded:
		return fmt.Errorf("%w: order %s was refunded", ErrNotRefundable, orderID)
	}
	return nil
}

// Refund returns an authorized amount, once per order. A payment the
// gateway no longer remembers (past its retention) is taken as refunded.
func (g *Simulated) Refund(_ context.Context, orderID string, amount int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[orderID]
	switch {
	case !ok, p.state == simRefunded:
		return nil
	case p.state != simAuthorized:
		return fmt.Errorf("%w: order %s has no live authorization", ErrNotRefundable, orderID)
	case amount <= 0 || amount > p.amount:
		return fmt.Errorf("%w: refund of %d for an authorization of %d", ErrNotRefundable, amount, p.amount)
	}
	p.state = simRefunded
	return nil
}

// remember stores a new payment, forgetting the oldest ones past the
// retention or the cap. The caller holds mu.
func (g *Simulated) remember(orderID string, p *simPayment) {
	now := g.o.Now().UnixNano()
	p.at = now
	cutoff := now - int64(g.o.Retention)
	for g.head < len(g.order) {
		oldest := g.order[g.head]
		if len(g.payments) < g.o.MaxPayments && g.payments[oldest].at >= cutoff {
			break
		}
		delete(g.payments, oldest)
		g.order[g.head] = ""
		g.head++
	}
	// Reclaim the queue's dead prefix once it is half of it.
	if g.head > 1024 && g.head*2 > len(g.order) {
		g.order = append(g.order[:0:0], g.order[g.head:]...)
		g.head = 0
	}
	g.payments[orderID] = p
	g.order = append(g.order, orderID)
}

// Remembered reports how many payments the gateway holds (its memory).
func (g *Simulated) Remembered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.payments)
}

// Charged reports the amount an order's card is charged now: authorized,
// not voided, not refunded. Tests use it to check no card stays charged
// without a paid order.
func (g *Simulated) Charged(orderID string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.payments[orderID]; ok && p.state == simAuthorized {
		return p.amount
	}
	return 0
}

// Voided reports whether an order's payment was voided.
func (g *Simulated) Voided(orderID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[orderID]
	return ok && p.state == simVoided
}
