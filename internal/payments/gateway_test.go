package payments_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/payments"
)

// The simulated gateway answers as a real one does: idempotent per order,
// a void before the authorization cancels the intent, refunds only of live
// authorizations, once, for at most their amount.
func TestSimulatedGatewaySemantics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := payments.NewSimulated(payments.SimulatedOptions{})

	a, err := g.Authorize(ctx, "o1", 1000, payments.TokenOK)
	if err != nil || a.ID == "" || a.Amount != 1000 {
		t.Fatalf("Authorize = %+v, %v", a, err)
	}
	if again, err := g.Authorize(ctx, "o1", 5, payments.TokenOK); err != nil || again != a {
		t.Fatalf("replay = %+v, %v; want the first answer %+v", again, err, a)
	}
	if err := g.Refund(ctx, "o1", 2000); !errors.Is(err, payments.ErrNotRefundable) {
		t.Errorf("refund above the authorization: %v", err)
	}
	if err := g.Refund(ctx, "o1", 1000); err != nil {
		t.Fatal(err)
	}
	if err := g.Refund(ctx, "o1", 1000); err != nil || g.Charged("o1") != 0 {
		t.Errorf("second refund: %v, charged %d", err, g.Charged("o1"))
	}
	if err := g.Void(ctx, "o1"); !errors.Is(err, payments.ErrNotRefundable) {
		t.Errorf("void after refund: %v", err)
	}

	// Void first: the late authorization fails and nothing is charged.
	if err := g.Void(ctx, "o2"); err != nil {
		t.Fatal(err)
	}
	if a, err := g.Authorize(ctx, "o2", 1000, payments.TokenOK); !errors.Is(err, payments.ErrVoided) || a.ID != "" {
		t.Fatalf("authorize after void = %+v, %v; want ErrVoided", a, err)
	}
	if g.Charged("o2") != 0 || !g.Voided("o2") {
		t.Errorf("o2 charged %d, voided %v", g.Charged("o2"), g.Voided("o2"))
	}

	// Void after the authorization: stays voided, replays say so.
	if _, err := g.Authorize(ctx, "o3", 700, payments.TokenOK); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := g.Void(ctx, "o3"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Authorize(ctx, "o3", 700, payments.TokenOK); !errors.Is(err, payments.ErrVoided) {
		t.Errorf("authorize replay after void: %v", err)
	}
	if err := g.Refund(ctx, "o3", 700); !errors.Is(err, payments.ErrNotRefundable) {
		t.Errorf("refund of a voided payment: %v", err)
	}

	if _, err := g.Authorize(ctx, "o4", 700, payments.TokenDecline); !errors.Is(err, payments.ErrDeclined) {
		t.Errorf("decline: %v", err)
	}
	if _, err := g.Authorize(ctx, "o5", 0, payments.TokenOK); !errors.Is(err, payments.ErrDeclined) {
		t.Errorf("zero amount: %v", err)
	}
}

// A void that lands while a slow authorization waits wins: the
// authorization then fails instead of charging a given-up checkout.
func TestSimulatedVoidDuringSlowAuthorization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := payments.NewSimulated(payments.SimulatedOptions{SlowDelay: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := g.Authorize(ctx, "o1", 1000, payments.TokenSlow)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // not a timing assertion: either order must end uncharged
	if err := g.Void(ctx, "o1"); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil && g.Charged("o1") != 0 {
		t.Fatalf("authorization succeeded after the void and stays charged")
	}
	if g.Charged("o1") != 0 {
		t.Errorf("charged %d after void", g.Charged("o1"))
	}
}

// Memory is bounded: the gateway forgets the oldest payments past its cap
// and past its retention.
func TestSimulatedGatewayForgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := time.Unix(1_800_000_000, 0)
	g := payments.NewSimulated(payments.SimulatedOptions{MaxPayments: 1000, Retention: time.Hour, Now: func() time.Time { return clock }})
	for i := range 100_000 {
		if _, err := g.Authorize(ctx, fmt.Sprintf("o%d", i), 10, payments.TokenOK); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Remembered(); n != 1000 {
		t.Fatalf("remembered %d payments, want the cap 1000", n)
	}
	if g.Charged("o99999") != 10 || g.Charged("o0") != 0 {
		t.Errorf("newest charged %d, oldest %d", g.Charged("o99999"), g.Charged("o0"))
	}
	clock = clock.Add(2 * time.Hour)
	if _, err := g.Authorize(ctx, "late", 10, payments.TokenOK); err != nil {
		t.Fatal(err)
	}
	if n := g.Remembered(); n != 1 {
		t.Errorf("after the retention: %d remembered, want 1", n)
	}
	// A forgotten order's refund succeeds without effect.
	if err := g.Refund(ctx, "o5", 10); err != nil {
		t.Errorf("refund of a forgotten payment: %v", err)
	}
}
