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

// quoted prices a SKU at a fixed quote.
type quoted orders.Quote

func (q quoted) Quote(context.Context, string) (orders.Quote, error) { return orders.Quote(q), nil }

// Checkout charges the quoted price clamped into the product's current
// bounds, refuses a SKU with no positive price, and refuses amounts past
// money.MaxAmount instead of overflowing, storing nothing.
func TestPlaceChargesWithinBoundsAndLimits(t *testing.T) {
	t.Parallel()
	req := func(qty int64) orders.Request {
		r := orders.Request{Items: []orders.RequestItem{{SKU: "A", Quantity: qty}}}
		r.Payment.Method, r.Payment.Token = "card", "tok_ok"
		return r
	}
	tests := []struct {
		name      string
		q         orders.Quote
		qty       int64
		wantPrice int64
		wantErr   error
	}{
		// The price book still holds a price from before the bounds moved.
		{"below a raised floor", orders.Quote{Price: 9500, BasePrice: 50000, Floor: 50000, Ceiling: 60000}, 1, 50000, nil},
		{"above a lowered ceiling", orders.Quote{Price: 15000, BasePrice: 9000, Floor: 8000, Ceiling: 10000}, 2, 10000, nil},
		{"inside", orders.Quote{Price: 1200, BasePrice: 1000, Floor: 900, Ceiling: 1300}, 1, 1200, nil},
		{"forged negative price", orders.Quote{Price: -500, BasePrice: 1000, Floor: 900, Ceiling: 1300}, 1, 900, nil},
		{"no bounds, no price", orders.Quote{Price: 0}, 1, 0, orders.ErrUnpriceable},
		{"unit price past the maximum", orders.Quote{Price: 9_223_372_036_854_775_807}, 1, 0, orders.ErrAmountTooLarge},
		{"line past the maximum", orders.Quote{Price: 2_000_000_000, Floor: 1, Ceiling: 2_000_000_000}, 1000, 0, orders.ErrAmountTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, gw := setup(t)
			svc := orders.NewService(s, quoted(tt.q), s, gw, orders.Options{})
			o, err := svc.Place(context.Background(), "c", orders.IdemRef{}, req(tt.qty))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Place = %+v, %v; want %v", o, err, tt.wantErr)
				}
				if l, _ := s.Levels(context.Background(), "A"); l.Reserved != 0 || l.OnHand != 10 {
					t.Errorf("a refused order touched stock: %+v", l)
				}
				return
			}
			if err != nil || o.Status != orders.StatusPaid {
				t.Fatalf("Place = %+v, %v", o, err)
			}
			if got := o.Items[0].UnitPrice; got != tt.wantPrice || o.Total != tt.wantPrice*tt.qty {
				t.Errorf("charged %d × %d = %d, want unit price %d", got, tt.qty, o.Total, tt.wantPrice)
			}
		})
	}
}

// An order's total is checked as it is summed: lines each within the
// maximum may not add up past it.
func TestPlaceRefusesATotalPastTheMaximum(t *testing.T) {
	t.Parallel()
	s, gw := setup(t)
	ctx := context.Background()
	for _, sku := range []string{"B", "C"} {
		stock := int64(10)
		if _, _, err := catalog.NewService(s, nil, nil).Put(ctx, sku, catalog.PutRequest{
			Name: sku, Category: "c", BasePrice: 1000, PriceFloor: 1000, PriceCeiling: 1000, Stock: &stock}); err != nil {
			t.Fatal(err)
		}
	}
	q := orders.Quote{Price: 600_000_000_000, Floor: 1, Ceiling: 600_000_000_000}
	svc := orders.NewService(s, quoted(q), s, gw, orders.Options{})
	r := orders.Request{Items: []orders.RequestItem{{SKU: "B", Quantity: 1}, {SKU: "C", Quantity: 1}}}
	r.Payment.Method, r.Payment.Token = "card", "tok_ok"
	if o, err := svc.Place(ctx, "c", orders.IdemRef{}, r); !errors.Is(err, orders.ErrAmountTooLarge) {
		t.Fatalf("Place = %+v, %v; want ErrAmountTooLarge", o, err)
	}
}
