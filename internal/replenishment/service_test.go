package replenishment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestLifecycleExhaustive(t *testing.T) {
	t.Parallel()
	allowed := map[[2]replenishment.Status]bool{
		{"requested", "confirmed"}: true, {"confirmed", "shipped"}: true, {"shipped", "received"}: true,
		{"requested", "cancelled"}: true, {"confirmed", "cancelled"}: true, {"shipped", "cancelled"}: true,
	}
	for _, from := range replenishment.Statuses {
		for _, to := range replenishment.Statuses {
			if got := replenishment.CanTransition(from, to); got != allowed[[2]replenishment.Status{from, to}] {
				t.Errorf("%s -> %s = %v", from, to, got)
			}
		}
	}
}

// store is the system of record as these tests use it: the ports the
// service takes, the catalogue that creates SKUs, and their stock levels.
type store interface {
	replenishment.Store
	replenishment.Stock
	replenishment.Catalog
	catalog.Repository
	Levels(ctx context.Context, sku string) (inventory.Levels, error)
}

type fixture struct {
	store store
	svc   *replenishment.Service
	now   time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(memstore.New(memstore.Options{}))
}

func newFixtureOn(s store) *fixture {
	f := &fixture{store: s, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f.svc = replenishment.NewService(s, s, s, replenishment.Options{
		Now: func() time.Time { return f.now }, Urgent: replenishment.UrgentRule{Limit: 48 * time.Hour},
	})
	return f
}

func (f *fixture) product(t testing.TB, sku string, stock int64, lead float64) {
	t.Helper()
	_, _, err := catalog.NewService(f.store, func() time.Time { return f.now.Add(-30 * 24 * time.Hour) }, nil).Put(context.Background(), sku, catalog.PutRequest{
		Name: "생수 2L", Category: "grocery", BasePrice: 1000, PriceFloor: 800, PriceCeiling: 1200, Stock: &stock,
		Reorder: catalog.ReorderPolicy{LeadTimeDays: lead, ServiceLevel: 0.95, OrderCost: 30000, UnitCost: 500, Supplier: "acme", PackSize: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// demand records n units a day for the last days days.
func (f *fixture) demand(t *testing.T, sku string, days int, n int64) {
	t.Helper()
	for d := range days {
		at := f.now.Add(-time.Duration(d) * 24 * time.Hour)
		if _, err := f.store.RecordDemands(context.Background(), []replenishment.Demand{{EventID: fmt.Sprintf("%s-%d", sku, d), SKU: sku, At: at, Units: n}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReorderReceiveOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.product(t, "WATER", 100, 3)
	f.demand(t, "WATER", 28, 20)
	// Position 100 > ROP (20·3 = 60, σ = 0): no order.
	if po, err := f.svc.Consider(ctx, "WATER", 100, 0, 0, "e1:WATER", f.now); err != nil || po != nil {
		t.Fatalf("above ROP: %v %v", po, err)
	}
	po, err := f.svc.Consider(ctx, "WATER", 50, 0, 0, "e2:WATER", f.now)
	if err != nil || po == nil {
		t.Fatalf("below ROP: %v %v", po, err)
	}
	if po.Quantity%12 != 0 || po.Reason.ROP != 60 || po.Reason.Position != 50 || po.Status != replenishment.StatusRequested ||
		!po.ExpectedAt.Equal(f.now.Add(72*time.Hour)) {
		t.Errorf("po = %+v", po)
	}
	// Redelivery and later events raise no second order.
	for _, key := range []string{"e2:WATER", "e3:WATER"} {
		if again, err := f.svc.Consider(ctx, "WATER", 40, 0, 0, key, f.now); err != nil || again != nil {
			t.Fatalf("%s: %v %v", key, again, err)
		}
	}
	if l, _ := f.store.Levels(ctx, "WATER"); l.OnOrder != po.Quantity {
		t.Errorf("on_order = %d, want %d", l.OnOrder, po.Quantity)
	}
	if _, err := f.svc.Transition(ctx, po.ID, replenishment.StatusReceived); !errors.Is(err, replenishment.ErrIllegalTransition) {
		t.Fatalf("requested -> received: %v", err)
	}
	for _, to := range []replenishment.Status{"confirmed", "shipped", "received", "received"} {
		if _, err := f.svc.Transition(ctx, po.ID, to); err != nil {
			t.Fatalf("-> %s: %v", to, err)
		}
	}
	l, _ := f.store.Levels(ctx, "WATER")
	if l.OnHand != 100+po.Quantity || l.OnOrder != 0 {
		t.Errorf("after receiving twice: on_hand %d on_order %d, want %d and 0", l.OnHand, l.OnOrder, 100+po.Quantity)
	}
	if _, err := f.svc.Transition(ctx, po.ID, replenishment.StatusCancelled); !errors.Is(err, replenishment.ErrIllegalTransition) {
		t.Errorf("cancel after received: %v", err)
	}
	// With the order received, a new low position orders again.
	if po2, err := f.svc.Consider(ctx, "WATER", 30, 0, 0, "e4:WATER", f.now); err != nil || po2 == nil {
		t.Errorf("after receipt: %v %v", po2, err)
	}
}

func TestUrgentOrderWhenOutAndTheOpenOrderIsLate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.product(t, "RICE", 5, 10) // 10-day lead time
	f.demand(t, "RICE", 28, 4)
	po, err := f.svc.Consider(ctx, "RICE", 5, 0, 0, "e1:RICE", f.now)
	if err != nil || po == nil || po.Urgent {
		t.Fatalf("regular order: %v %v", po, err)
	}
	urgent, err := f.svc.Consider(ctx, "RICE", 0, 0, po.Quantity, "e2:RICE", f.now)
	if err != nil || urgent == nil || !urgent.Urgent || !urgent.ExpectedAt.Equal(f.now.Add(48*time.Hour)) || urgent.Quantity < 8 {
		t.Fatalf("urgent order: %+v %v", urgent, err)
	}
	if again, _ := f.svc.Consider(ctx, "RICE", 0, 0, po.Quantity+urgent.Quantity, "e3:RICE", f.now); again != nil {
		t.Errorf("second urgent order: %+v", again)
	}
}

// TestRoleTwiceOnTheSameInput: two replenishment consumers (two groups, so
// each sees every record) read the same inventory events, some of them
// redelivered copies; each SKU ends with exactly one open order.
func TestRoleTwiceOnTheSameInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	skus := []string{"S1", "S2", "S3", "S4"}
	for _, sku := range skus {
		f.product(t, sku, 10, 2)
		f.demand(t, sku, 14, 10)
	}
	b := testenv.Kafka(t, 4)
	c := testenv.BusClient(t, b.Addr(), "")
	var msgs []event.Message
	for i := range 40 {
		sku := skus[i%len(skus)]
		env, err := event.New(inventory.TypeReserved, "test", sku, f.now, inventory.Event{SKU: sku, OnHand: 10, Reserved: int64(i % 5), Available: 10 - int64(i%5)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, event.Message{Topic: event.TopicInventory, Envelope: env})
		if i%3 == 0 {
			msgs = append(msgs, event.Message{Topic: event.TopicInventory, Envelope: env}) // redelivered copy
		}
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, group := range []string{"replenishment-a", "replenishment-b"} {
		cons, err := c.NewConsumer(bus.ConsumerOptions{Group: group, Topics: []string{event.TopicInventory}, FromStart: true,
			Handler: func(ctx context.Context, env event.Envelope, r *bus.Record) error {
				defer handled.Add(1)
				return f.svc.Dispatch(ctx, event.TopicInventory, env)
			}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = cons.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for handled.Load() < int64(2*len(msgs)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for _, sku := range skus {
		open, err := f.store.OpenPurchaseOrders(context.Background(), sku)
		if err != nil || len(open) != 1 {
			t.Errorf("%s has %d open orders (%v), want 1", sku, len(open), err)
		}
	}
}

func TestSimulatedSupplierDeliversOnItsClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.product(t, "OIL", 5, 4) // 4-day lead time
	f.demand(t, "OIL", 28, 3)
	po, err := f.svc.Consider(ctx, "OIL", 5, 0, 0, "e1:OIL", f.now)
	if err != nil || po == nil {
		t.Fatalf("order: %v %v", po, err)
	}
	sup := replenishment.NewSupplier(f.svc, 1)
	clock := f.now
	sup.Now = func() time.Time { return clock }
	steps := []struct {
		after time.Duration
		want  replenishment.Status
	}{
		{time.Hour, "requested"}, {10 * time.Hour, "confirmed"}, {48 * time.Hour, "shipped"}, {96 * time.Hour, "received"},
	}
	for _, st := range steps {
		clock = f.now.Add(st.after)
		if _, err := sup.Step(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := f.svc.Get(ctx, po.ID)
		if got.Status != st.want {
			t.Fatalf("after %s: %s, want %s", st.after, got.Status, st.want)
		}
	}
	if l, _ := f.store.Levels(ctx, "OIL"); l.OnHand != 5+po.Quantity {
		t.Errorf("on_hand %d after delivery, want %d", l.OnHand, 5+po.Quantity)
	}
	// A faster clock: the same lead time passes in a 1440th of it.
	fast := replenishment.NewSupplier(f.svc, 1440)
	if fast.TimeScale != 1440 {
		t.Fatal("time scale not kept")
	}
}
