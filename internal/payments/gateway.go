package payments

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Gateway failures. Declined and invalid tokens are answers; Unavailable
// means the outcome is unknown, so the caller must void before giving up.
var (
	ErrDeclined     = errors.New("payment declined")
	ErrInvalidToken = errors.New("invalid payment token")
	ErrUnavailable  = errors.New("payment gateway unavailable")
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
}

// Simulated is the built-in gateway: tok_ok approves, tok_decline declines,
// tok_slow approves after SlowDelay, anything else is an invalid token.
type Simulated struct {
	o     SimulatedOptions
	mu    sync.Mutex
	rng   *rand.Rand
	auths map[string]simAuth
}

type simAuth struct {
	auth     Authorization
	err      error
	voided   bool
	refunded int64
}

// NewSimulated builds a simulated gateway.
func NewSimulated(o SimulatedOptions) *Simulated {
	return &Simulated{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6d657263)), auths: map[string]simAuth{}}
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

// Authorize approves or declines, idempotently per order.
func (g *Simulated) Authorize(ctx context.Context, orderID string, amount int64, token string) (Authorization, error) {
	if err := g.CheckToken(token); err != nil {
		return Authorization{}, err
	}
	g.mu.Lock()
	if a, ok := g.auths[orderID]; ok {
		g.mu.Unlock()
		return a.auth, a.err
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
	var res simAuth
	switch {
	case token == TokenDecline, token == TokenOK && declineDraw < g.o.DeclineRate:
		res.err = ErrDeclined
	default:
		res.auth = Authorization{ID: "auth_" + orderID, Amount: amount}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.auths[orderID]; ok {
		return a.auth, a.err
	}
	g.auths[orderID] = res
	return res.auth, res.err
}

// Void cancels an order's authorization.
func (g *Simulated) Void(_ context.Context, orderID string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.auths[orderID]
	a.voided = true
	g.auths[orderID] = a
	return nil
}

// Refund returns an authorized amount, once per order.
func (g *Simulated) Refund(_ context.Context, orderID string, amount int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.auths[orderID]
	if a.refunded == 0 {
		a.refunded = amount
	}
	g.auths[orderID] = a
	return nil
}

// Charged reports the amount an order's card is charged now: authorized,
// not voided, not refunded. Tests use it to check no card stays charged
// without a paid order.
func (g *Simulated) Charged(orderID string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.auths[orderID]
	if !ok || a.err != nil || a.voided || a.refunded > 0 {
		return 0
	}
	return a.auth.Amount
}
