package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

type basePrices struct{ s *sqlstore.Store }

func (p basePrices) Quote(ctx context.Context, sku string) (orders.Quote, error) {
	cur, err := p.s.GetProduct(ctx, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return orders.Quote{}, orders.ErrUnknownSKU
	}
	return orders.Quote{Price: cur.Product.BasePrice, BasePrice: cur.Product.BasePrice}, err
}

type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// The console's reads of the orders (pages, events, sales by day and by
// minute, refusals for stock) on both engines.
func TestConsoleReads(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := filepath.Join(t.TempDir(), "m.db")
			if kind == "postgres" {
				dsn = testenv.PostgresDB(t)
			}
			testConsoleReads(t, open(t, kind, dsn))
		})
	}
}

func testConsoleReads(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	for _, p := range []struct {
		sku       string
		price, uc int64
		stock     int64
	}{{"COST", 1000, 600, 100}, {"NOCOST", 500, 0, 100}, {"FEW", 300, 100, 1}} {
		prod := storetest.Product(p.sku, "c")
		prod.BasePrice, prod.PriceFloor, prod.PriceCeiling = p.price, p.price, p.price
		prod.Reorder.UnitCost = p.uc
		if _, _, err := s.PutProduct(ctx, p.sku, func(*catalog.Current) (catalog.Write, error) {
			return catalog.Write{Product: prod, StockDelta: p.stock, StockReason: "initial_stock"}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	clock := &stepClock{t: base}
	svc := orders.NewService(s, basePrices{s}, s, payments.NewSimulated(payments.SimulatedOptions{}), orders.Options{Now: clock.Now})
	place := func(at time.Duration, token string, kv ...any) orders.Order {
		t.Helper()
		clock.set(base.Add(at))
		var req orders.Request
		for i := 0; i < len(kv); i += 2 {
			req.Items = append(req.Items, orders.RequestItem{SKU: kv[i].(string), Quantity: int64(kv[i+1].(int))})
		}
		req.Payment.Method, req.Payment.Token = "card", token
		o, err := svc.Place(ctx, "c1", orders.IdemRef{}, req)
		var fe *orders.FailureError
		if errors.As(err, &fe) {
			return fe.Order
		}
		if err != nil {
			t.Fatalf("placing: %v", err)
		}
		return o
	}
	a := place(0, "tok_ok", "COST", 2, "NOCOST", 1)      // 2000 + 500, cost 1200
	b := place(30*time.Second, "tok_ok", "COST", 1)      // 1000, cost 600
	c := place(90*time.Second, "tok_decline", "COST", 1) // payment failed
	d := place(150*time.Second, "tok_ok", "FEW", 1)      // 300, cost 100; then cancelled
	clock.set(base.Add(160 * time.Second))
	if _, err := svc.Cancel(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	clock.set(base.Add(170 * time.Second))
	// Refusals for stock leave no order but are kept (FEW has 1 again).
	for _, qty := range []int64{5, 2} {
		req := orders.Request{Items: []orders.RequestItem{{SKU: "FEW", Quantity: qty}}}
		req.Payment.Method, req.Payment.Token = "card", "tok_ok"
		if _, err := svc.Place(ctx, "c1", orders.IdemRef{}, req); !errors.Is(err, inventory.ErrInsufficientStock) {
			t.Fatalf("refusal: %v", err)
		}
	}

	// Pages newest first, by status.
	var ids []string
	q := orders.ListQuery{Limit: 3}
	for {
		page, next, err := svc.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			ids = append(ids, o.ID)
		}
		if next == nil {
			break
		}
		q.After = next
	}
	if want := []string{d.ID, c.ID, b.ID, a.ID}; !slices.Equal(ids, want) {
		t.Fatalf("orders = %v, want %v", ids, want)
	}
	failed, _, err := svc.List(ctx, orders.ListQuery{Status: orders.StatusPaymentFailed, Limit: 10})
	if err != nil || len(failed) != 1 || failed[0].ID != c.ID {
		t.Fatalf("payment_failed = %v, %v", failed, err)
	}

	// Timelines from the kept events.
	for _, tc := range []struct {
		o    orders.Order
		want string
	}{
		{a, "[created reserved paid]"},
		{c, "[created reserved payment_failed]"},
		{d, "[created reserved paid cancelled refunded]"},
	} {
		tl, err := svc.Timeline(ctx, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range tl.Events {
			types = append(types, e.Type)
		}
		if fmt.Sprint(types) != tc.want {
			t.Errorf("timeline of %s = %v, want %s", tc.o.ID, tl.Events, tc.want)
		}
	}

	// The day's figures.
	sales, err := svc.Sales(ctx, base.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := orders.Sales{Paid: 3, Revenue: 3500, Cost: 1800, CostedRevenue: 3000, PaymentFailed: 1, OutOfStockRefusals: 2}
	if sales != want {
		t.Errorf("sales = %+v, want %+v", sales, want)
	}
	if none, err := svc.Sales(ctx, base.Add(time.Hour), base.Add(2*time.Hour)); err != nil || none != (orders.Sales{}) {
		t.Errorf("sales of an empty hour = %+v, %v", none, err)
	}
	series, err := svc.SalesByMinute(ctx, base, base.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range series {
		got = append(got, fmt.Sprintf("%s:%d/%d", m.Minute.Format("15:04"), m.Orders, m.Revenue))
	}
	if fmt.Sprint(got) != "[03:00:2/3500 03:01:0/0 03:02:1/0 03:03:0/0]" {
		t.Errorf("per minute = %v", got)
	}
}
