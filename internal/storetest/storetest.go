package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/reports"
)

// Store is everything the contract covers: each port's suite and the
// cases that cross ports in one transaction (checkout).
type Store interface {
	Catalog
	Outbox
	PurchaseOrders
	reports.RunStore
	orders.StockStore
	idempotency.Store
	idempotency.Deferred
	// Exists reports whether scope/key has a row, reading only.
	Exists(ctx context.Context, scope, key string) (bool, error)
	GetOrder(ctx context.Context, id string) (orders.Order, error)
}

// Features says what an adapter promises beyond the common contract.
type Features struct {
	// ExclusiveRelayLease: a second AcquireRelayLease waits until the first
	// is released (a single-process store's lease is immediate instead).
	ExclusiveRelayLease bool
}

// Run runs every suite of the package. newStore returns a fresh, empty,
// migrated store.
func Run(t *testing.T, f Features, newStore func(t *testing.T) Store) {
	RunCatalog(t, func(t *testing.T) Catalog { return newStore(t) })
	RunOutbox(t, f, func(t *testing.T) Outbox { return newStore(t) })
	RunReportRuns(t, func(t *testing.T) reports.RunStore { return newStore(t) })
	RunPurchaseOrders(t, func(t *testing.T) PurchaseOrders { return newStore(t) })
	t.Run("JointCheckoutIsAtomic", func(t *testing.T) { t.Parallel(); testJointCheckout(t, newStore(t)) })
	t.Run("DeferredIdempotencyClaim", func(t *testing.T) { t.Parallel(); testDeferredClaim(t, newStore(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Product returns a valid product for tests.
func Product(sku, category string) catalog.Product {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	return catalog.Product{
		SKU: sku, Name: "무선 이어폰 " + sku, Category: category,
		BasePrice: 12900, PriceFloor: 9900, PriceCeiling: 15900, LowStockThreshold: 5,
		Reorder: catalog.ReorderPolicy{LeadTimeDays: 3, ServiceLevel: 0.95, OrderCost: 50000, UnitCost: 7000, Supplier: "acme"},
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
}

func msg(t *testing.T, topic, typ, sku string) event.Message {
	env, err := event.New(typ, "storetest", sku, time.Now(), map[string]string{"sku": sku})
	if err != nil {
		t.Fatal(err)
	}
	return event.Message{Topic: topic, Envelope: env}
}

// malformed is an event the outbox cannot encode: a write carrying it must
// fail whole.
var malformed = event.Message{Topic: event.TopicProducts}

// put writes p with a stock delta and one event per topic.
func put(t *testing.T, s catalog.Repository, p catalog.Product, delta int64, topics ...string) (catalog.Current, bool) {
	t.Helper()
	cur, created, err := s.PutProduct(ctx(t), p.SKU, func(c *catalog.Current) (catalog.Write, error) {
		w := catalog.Write{Product: p, StockDelta: delta, StockReason: "test"}
		if c != nil {
			w.Product.Version = c.Product.Version + 1
			w.Product.CreatedAt = c.Product.CreatedAt
		}
		for _, topic := range topics {
			w.Events = append(w.Events, msg(t, topic, "test.event", p.SKU))
		}
		return w, nil
	})
	if err != nil {
		t.Fatalf("PutProduct(%s): %v", p.SKU, err)
	}
	return cur, created
}

func pending(t *testing.T, s outbox.Store) []outbox.Row {
	t.Helper()
	rows, err := s.PendingOutbox(ctx(t), 10000)
	if err != nil {
		t.Fatalf("PendingOutbox: %v", err)
	}
	return rows
}

// testJointCheckout: reserving and creating an order is one transaction, and
// so is selling the stock, marking the order paid and storing the
// idempotent response.
func testJointCheckout(t *testing.T, s Store) {
	put(t, s, Product("J-1", "audio"), 3)
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	order := func(id string, qty int64) orders.Order {
		return orders.Order{ID: id, CustomerID: "c1", Status: orders.StatusReserved, Total: qty * 100,
			Items: []orders.Line{{SKU: "J-1", Quantity: qty, UnitPrice: 100}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	// Not enough stock: neither the hold nor the order exists afterwards.
	err := s.CreateReservedOrder(ctx(t), order("ord_big", 5), orders.IdemRef{}, []inventory.Item{{SKU: "J-1", Qty: 5}}, time.Minute, nil)
	if !errors.Is(err, inventory.ErrInsufficientStock) {
		t.Fatalf("over-reserve: err = %v", err)
	}
	if _, err := s.GetOrder(ctx(t), "ord_big"); !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("order of a failed reservation exists: %v", err)
	}
	// A duplicate order id rolls the second reservation back.
	if err := s.CreateReservedOrder(ctx(t), order("ord_1", 2), orders.IdemRef{}, []inventory.Item{{SKU: "J-1", Qty: 2}}, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 2 || l.OnHand != 3 {
		t.Fatalf("after reserve: %+v", l)
	}
	// The same id again finds its reservation held (a replay, no second
	// hold) and fails on the order that exists: nothing changes.
	if err := s.CreateReservedOrder(ctx(t), order("ord_1", 1), orders.IdemRef{}, []inventory.Item{{SKU: "J-1", Qty: 1}}, time.Minute, nil); err == nil {
		t.Fatal("a second order under an existing id was stored")
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 2 || l.OnHand != 3 {
		t.Fatalf("after a duplicate order id: %+v", l)
	}
	if o, err := s.GetOrder(ctx(t), "ord_1"); err != nil || o.Total != 200 {
		t.Fatalf("the first order changed: %+v %v", o, err)
	}
	// Paid: stock sold, order paid and the idempotent response stored, together.
	if _, err := s.Begin(ctx(t), "c1", "k1", "h", now, time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	idem := orders.IdemRef{Scope: "c1", Key: "k1", Respond: func(o orders.Order) (int, []byte) { return 201, []byte(`{"id":"` + o.ID + `"}`) }}
	paid, err := s.CommitAndUpdateOrder(ctx(t), "ord_1", idem, func(o *orders.Order) ([]event.Message, error) {
		return nil, o.Move(orders.StatusPaid, now)
	})
	if err != nil || paid.Status != orders.StatusPaid {
		t.Fatalf("pay: %+v %v", paid, err)
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 0 || l.OnHand != 1 {
		t.Fatalf("after pay: %+v", l)
	}
	rec, err := s.Begin(ctx(t), "c1", "k1", "h", now, time.Hour, time.Minute)
	if err != nil || rec.Outcome != idempotency.Replay || rec.Status != 201 || string(rec.Body) != `{"id":"ord_1"}` {
		t.Fatalf("replay after the joint pay: %+v %v", rec, err)
	}
	// A failing update rolls the sale back.
	if err := s.CreateReservedOrder(ctx(t), order("ord_2", 1), orders.IdemRef{}, []inventory.Item{{SKU: "J-1", Qty: 1}}, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.CommitAndUpdateOrder(ctx(t), "ord_2", orders.IdemRef{}, func(*orders.Order) ([]event.Message, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 1 || l.OnHand != 1 {
		t.Fatalf("a failed pay sold stock: %+v", l)
	}
	// A paid order paid again changes nothing and sells nothing twice.
	if again, err := s.CommitAndUpdateOrder(ctx(t), "ord_1", orders.IdemRef{}, func(*orders.Order) ([]event.Message, error) { return nil, nil }); err != nil || again.Status != orders.StatusPaid {
		t.Fatalf("pay replay: %+v %v", again, err)
	}
	// Giving an order up returns its stock in the same transaction; an
	// update that changes nothing releases nothing.
	if _, err := s.ReleaseAndUpdateOrder(ctx(t), "ord_2", func(*orders.Order) ([]event.Message, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 1 {
		t.Fatalf("an unchanged order released its stock: %+v", l)
	}
	failed, err := s.ReleaseAndUpdateOrder(ctx(t), "ord_2", func(o *orders.Order) ([]event.Message, error) {
		return nil, o.Move(orders.StatusFailing, now)
	})
	if err != nil || failed.Status != orders.StatusFailing {
		t.Fatalf("give up: %+v %v", failed, err)
	}
	if l, _ := s.Levels(ctx(t), "J-1"); l.Reserved != 0 || l.OnHand != 1 {
		t.Fatalf("after giving up: %+v", l)
	}
	// A sold reservation is never released: the whole update fails.
	if _, err := s.ReleaseAndUpdateOrder(ctx(t), "ord_1", func(o *orders.Order) ([]event.Message, error) {
		return nil, o.Move(orders.StatusCancelled, now)
	}); !errors.Is(err, inventory.ErrReservationClosed) {
		t.Fatalf("release of a sold reservation: %v", err)
	}
	if o, _ := s.GetOrder(ctx(t), "ord_1"); o.Status != orders.StatusPaid {
		t.Fatalf("the failed release changed the order: %+v", o)
	}
	// A pay after the release finds the reservation closed and changes nothing.
	if _, err := s.CommitAndUpdateOrder(ctx(t), "ord_2", orders.IdemRef{}, func(o *orders.Order) ([]event.Message, error) {
		o.Status = orders.StatusReserved // as if the order had not been given up
		return nil, o.Move(orders.StatusPaid, now)
	}); !errors.Is(err, inventory.ErrReservationClosed) {
		t.Fatalf("pay after release: %v", err)
	}
	if o, _ := s.GetOrder(ctx(t), "ord_2"); o.Status != orders.StatusFailing {
		t.Fatalf("a pay of a released reservation stored the order: %+v", o)
	}
}

// testDeferredClaim: a key claimed by the transaction that reserves and
// stores the order exists exactly when that order does; a second claim of
// the key writes nothing; Settle stores an answer under a new key only.
func testDeferredClaim(t *testing.T, s Store) {
	put(t, s, Product("D-1", "audio"), 3)
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	claim := idempotency.Claim{Hash: "h1", At: now, Expires: now.Add(time.Hour)}
	order := func(id string, qty int64) orders.Order {
		return orders.Order{ID: id, CustomerID: "c1", Status: orders.StatusReserved, Total: qty * 100,
			Items: []orders.Line{{SKU: "D-1", Quantity: qty, UnitPrice: 100}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	idem := orders.IdemRef{Scope: "c1", Key: "k1", Claim: &claim}
	if ok, err := s.Exists(ctx(t), "c1", "k1"); ok || err != nil {
		t.Fatalf("exists before any claim: %v %v", ok, err)
	}
	// A failed reservation leaves no claim behind.
	if err := s.CreateReservedOrder(ctx(t), order("ord_no", 5), idem, []inventory.Item{{SKU: "D-1", Qty: 5}}, time.Minute, nil); !errors.Is(err, inventory.ErrInsufficientStock) {
		t.Fatalf("over-reserve: %v", err)
	}
	if ok, _ := s.Exists(ctx(t), "c1", "k1"); ok {
		t.Fatal("a rolled-back checkout left its claim")
	}
	if err := s.CreateReservedOrder(ctx(t), order("ord_1", 1), idem, []inventory.Item{{SKU: "D-1", Qty: 1}}, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Begin(ctx(t), "c1", "k1", "h1", now, time.Hour, time.Minute)
	if err != nil || rec.Outcome != idempotency.InProgress {
		t.Fatalf("begin on a deferred claim: %+v %v", rec, err)
	}
	if rec, _ := s.Begin(ctx(t), "c1", "k1", "h1", now.Add(2*time.Minute), time.Hour, time.Minute); rec.Outcome != idempotency.Resume || rec.ResourceID != "ord_1" {
		t.Fatalf("the claim names its order once its lease ran out: %+v", rec)
	}
	// The same key again (another body too): nothing of it is written.
	other := idempotency.Claim{Hash: "h2", At: now, Expires: now.Add(time.Hour)}
	err = s.CreateReservedOrder(ctx(t), order("ord_2", 1), orders.IdemRef{Scope: "c1", Key: "k1", Claim: &other}, []inventory.Item{{SKU: "D-1", Qty: 1}}, time.Minute, nil)
	if !errors.Is(err, idempotency.ErrTaken) {
		t.Fatalf("second claim: %v", err)
	}
	if _, err := s.GetOrder(ctx(t), "ord_2"); !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("the loser's order exists: %v", err)
	}
	if l, _ := s.Levels(ctx(t), "D-1"); l.Reserved != 1 {
		t.Fatalf("the loser reserved stock: %+v", l)
	}
	// Settle stores an answer under a new key and leaves a held key alone.
	if written, err := s.Settle(ctx(t), "c1", "k2", claim, 409, []byte(`{"error":1}`)); err != nil || !written {
		t.Fatalf("Settle under a new key = %v, %v; want written", written, err)
	}
	if rec, _ := s.Begin(ctx(t), "c1", "k2", "h1", now, time.Hour, time.Minute); rec.Outcome != idempotency.Replay || rec.Status != 409 || string(rec.Body) != `{"error":1}` {
		t.Fatalf("settled key: %+v", rec)
	}
	// Forget drops a claim only when it names no work, or the work named.
	if err := s.Forget(ctx(t), "c1", "k1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx(t), "c1", "k1", "ord_other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Exists(ctx(t), "c1", "k1"); !ok {
		t.Fatal("Forget dropped a claim that names an order")
	}
	if _, err := s.Begin(ctx(t), "c1", "k3", "h3", now, time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx(t), "c1", "k3", ""); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Exists(ctx(t), "c1", "k3"); ok {
		t.Fatal("Forget kept a claim that names nothing")
	}
	if written, err := s.Settle(ctx(t), "c1", "k1", claim, 404, []byte(`x`)); err != nil || written {
		t.Fatalf("Settle under a claimed key = %v, %v; want not written", written, err)
	}
	if rec, _ := s.Begin(ctx(t), "c1", "k1", "h1", now.Add(3*time.Minute), time.Hour, time.Minute); rec.Outcome == idempotency.Replay {
		t.Fatalf("Settle overwrote a claimed key: %+v", rec)
	}
	if err := s.Forget(ctx(t), "c1", "k1", "ord_1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Exists(ctx(t), "c1", "k1"); ok {
		t.Fatal("Forget kept a claim whose named order it was told to drop")
	}
}
