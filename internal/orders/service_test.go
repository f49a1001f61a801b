package orders_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

type prices struct{}

func (prices) Quote(context.Context, string) (orders.Quote, error) {
	return orders.Quote{Price: 1000, BasePrice: 1000, Category: "test"}, nil
}

func setup(t *testing.T) (*sqlstore.Store, *payments.Simulated) {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "o.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	stock := int64(10)
	if _, _, err := catalog.NewService(s, nil, nil).Put(context.Background(), "A", catalog.PutRequest{
		Name: "a", Category: "c", BasePrice: 1000, PriceFloor: 1000, PriceCeiling: 1000, Stock: &stock}); err != nil {
		t.Fatal(err)
	}
	return s, payments.NewSimulated(payments.SimulatedOptions{})
}

// An order whose request died after its stock was sold but before it was
// marked paid is abandoned: payment voided, stock put back, payment_failed.
func TestRecoveryAbandonsInterruptedCheckouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, gw := setup(t)
	clock := time.Now()
	svc := orders.NewService(s, prices{}, s, gw, orders.Options{RecoverAfter: time.Minute, Now: func() time.Time { return clock }})

	for i, sold := range []bool{true, false} {
		id := []string{"ord_sold", "ord_held"}[i]
		if err := s.Reserve(ctx, id, []inventory.Item{{SKU: "A", Qty: 2}}, time.Hour); err != nil {
			t.Fatal(err)
		}
		o := orders.Order{ID: id, CustomerID: "c", Status: orders.StatusReserved, Items: []orders.Line{{SKU: "A", Quantity: 2, UnitPrice: 1000}},
			Total: 2000, PaymentToken: "tok_ok", CreatedAt: clock, UpdatedAt: clock}
		if err := s.CreateOrder(ctx, o, orders.IdemRef{}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := gw.Authorize(ctx, id, 2000, "tok_ok"); err != nil {
			t.Fatal(err)
		}
		if sold {
			if err := s.Commit(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := svc.RecoverStale(ctx); err != nil || n != 0 {
		t.Fatalf("fresh orders recovered: %d %v", n, err)
	}
	clock = clock.Add(2 * time.Minute)
	if n, err := svc.RecoverStale(ctx); err != nil || n != 2 {
		t.Fatalf("RecoverStale = %d, %v; want 2", n, err)
	}
	for _, id := range []string{"ord_sold", "ord_held"} {
		o, err := s.GetOrder(ctx, id)
		if err != nil || o.Status != orders.StatusPaymentFailed || o.FailureReason != "abandoned" {
			t.Errorf("%s: %+v %v", id, o, err)
		}
		if gw.Charged(id) != 0 {
			t.Errorf("%s still charged", id)
		}
	}
	l, _ := s.Levels(ctx, "A")
	if l.OnHand != 10 || l.Reserved != 0 {
		t.Errorf("stock after recovery %+v, want 10 on hand, nothing reserved", l)
	}
	// A retry of the original request now reports the outcome.
	if _, err := svc.Resume(ctx, "ord_sold"); !errors.Is(err, orders.ErrCheckoutExpired) {
		t.Errorf("Resume after abandon: %v", err)
	}
}

// A retry that takes over a dead request finishes the checkout.
func TestResumeFinishesCheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, gw := setup(t)
	svc := orders.NewService(s, prices{}, s, gw, orders.Options{})
	if err := s.Reserve(ctx, "ord_1", []inventory.Item{{SKU: "A", Qty: 1}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.CreateOrder(ctx, orders.Order{ID: "ord_1", CustomerID: "c", Status: orders.StatusReserved,
		Items: []orders.Line{{SKU: "A", Quantity: 1, UnitPrice: 1000}}, Total: 1000, PaymentToken: "tok_ok", CreatedAt: now, UpdatedAt: now}, orders.IdemRef{}, nil); err != nil {
		t.Fatal(err)
	}
	o, err := svc.Resume(ctx, "ord_1")
	if err != nil || o.Status != orders.StatusPaid {
		t.Fatalf("Resume = %+v, %v", o, err)
	}
	if o, err = svc.Resume(ctx, "ord_1"); err != nil || o.Status != orders.StatusPaid {
		t.Fatalf("second Resume = %+v, %v", o, err)
	}
	l, _ := s.Levels(ctx, "A")
	if l.OnHand != 9 || l.Reserved != 0 {
		t.Errorf("stock %+v, want 9 on hand", l)
	}
}

// Only a service whose store keeps the stock takes a deferred idempotency
// claim; elsewhere Place refuses it before touching anything.
func TestDeferredClaimsNeedAJointStore(t *testing.T) {
	t.Parallel()
	s, gw := setup(t)
	req := orders.Request{Items: []orders.RequestItem{{SKU: "A", Quantity: 1}}}
	req.Payment.Method, req.Payment.Token = "card", "tok_ok"
	idem := orders.IdemRef{Scope: "c", Key: "k", Claim: &idempotency.Claim{Hash: "h", At: time.Now(), Expires: time.Now().Add(time.Hour)}}
	if joint := orders.NewService(s, prices{}, s, gw, orders.Options{}); !joint.DefersClaims() {
		t.Fatal("a store that keeps the stock defers claims")
	}
	split := orders.NewService(s, prices{}, stockOnly{s}, gw, orders.Options{})
	if split.DefersClaims() {
		t.Fatal("a separate stock must not defer claims")
	}
	if _, err := split.Place(context.Background(), "c", idem, req); err == nil {
		t.Fatal("Place took a deferred claim without a joint store")
	}
	if l, _ := s.Levels(context.Background(), "A"); l.Reserved != 0 || l.OnHand != 10 {
		t.Fatalf("the refused request touched stock: %+v", l)
	}
}

// stockOnly hides the store's other methods: stock kept apart from orders.
type stockOnly struct{ orders.Stock }
