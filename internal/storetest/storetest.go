package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Store is everything the contract covers.
type Store interface {
	catalog.Repository
	outbox.Store
	reports.RunStore
	orders.StockStore
	idempotency.Store
	idempotency.Deferred
	GetOrder(ctx context.Context, id string) (orders.Order, error)
	Levels(ctx context.Context, sku string) (inventory.Levels, error)
	Ledger(ctx context.Context, sku string) ([]inventory.LedgerEntry, error)
}

// Features says what an adapter promises beyond the common contract.
type Features struct {
	// ExclusiveRelayLease: a second AcquireRelayLease waits until the first
	// is released (a single-process store's lease is immediate instead).
	ExclusiveRelayLease bool
}

// Run runs the suite. newStore returns a fresh, empty, migrated store.
func Run(t *testing.T, f Features, newStore func(t *testing.T) Store) {
	t.Run("PutCreatesProductStockLedgerAndEvents", func(t *testing.T) { t.Parallel(); testCreate(t, newStore(t)) })
	t.Run("PutUpdatesAndCountsStock", func(t *testing.T) { t.Parallel(); testUpdate(t, newStore(t)) })
	t.Run("FailedDecisionWritesNothing", func(t *testing.T) { t.Parallel(); testRollback(t, newStore(t)) })
	t.Run("GetUnknownIsNotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, newStore(t)) })
	t.Run("ListPagesByCategory", func(t *testing.T) { t.Parallel(); testList(t, newStore(t)) })
	t.Run("ConcurrentPutsOfOneSKU", func(t *testing.T) { t.Parallel(); testConcurrentPuts(t, newStore(t)) })
	t.Run("OutboxOrderAndMark", func(t *testing.T) { t.Parallel(); testOutbox(t, newStore(t)) })
	t.Run("RelayLease", func(t *testing.T) { t.Parallel(); testLease(t, newStore(t), f) })
	t.Run("ReportRuns", func(t *testing.T) { t.Parallel(); testReportRuns(t, newStore(t)) })
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

// put writes p with a stock delta and one event per topic.
func put(t *testing.T, s Store, p catalog.Product, delta int64, topics ...string) (catalog.Current, bool) {
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

func pending(t *testing.T, s Store) []outbox.Row {
	t.Helper()
	rows, err := s.PendingOutbox(ctx(t), 10000)
	if err != nil {
		t.Fatalf("PendingOutbox: %v", err)
	}
	return rows
}

func testCreate(t *testing.T, s Store) {
	p := Product("SKU-1", "audio")
	cur, created := put(t, s, p, 40, event.TopicProducts)
	if !created || cur.Stock.OnHand != 40 || cur.Stock.Reserved != 0 {
		t.Fatalf("created=%v stock=%+v, want created with 40 on hand", created, cur.Stock)
	}
	got, err := s.GetProduct(ctx(t), "SKU-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Product != p {
		t.Errorf("GetProduct =\n%+v\nwant\n%+v", got.Product, p)
	}
	if got.Stock.OnHand != 40 {
		t.Errorf("on_hand = %d, want 40", got.Stock.OnHand)
	}
	ledger, err := s.Ledger(ctx(t), "SKU-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 1 || ledger[0].Kind != inventory.KindInitial || ledger[0].OnHandDelta != 40 {
		t.Errorf("ledger = %+v, want one initial entry of 40", ledger)
	}
	rows := pending(t, s)
	if len(rows) != 2 || rows[0].Topic != event.TopicProducts || rows[1].Topic != event.TopicInventory {
		t.Fatalf("outbox = %+v, want the product event, then the store's inventory event", rows)
	}
	for i, typ := range []string{"test.event", inventory.TypeAdjusted} {
		r := rows[i]
		env, err := event.Decode(r.Payload)
		if err != nil {
			t.Fatalf("outbox payload does not decode: %v", err)
		}
		if env.ID != r.EventID || r.Key != "SKU-1" || r.Type != typ || env.Type != typ {
			t.Errorf("outbox row %+v does not match its envelope %+v", r, env)
		}
	}
	var inv inventory.Event
	env, _ := event.Decode(rows[1].Payload)
	if err := env.DecodeData(&inv); err != nil || inv.OnHand != 40 || inv.Available != 40 || inv.Delta != 40 {
		t.Errorf("inventory event = %+v, %v", inv, err)
	}
}

func testUpdate(t *testing.T, s Store) {
	p := Product("SKU-2", "audio")
	put(t, s, p, 10)
	p2 := p
	p2.Name, p2.BasePrice = "새 이름 <b>", 13900
	p2.UpdatedAt = p.UpdatedAt.Add(time.Hour)
	cur, created := put(t, s, p2, -4)
	if created {
		t.Fatal("second put reported created")
	}
	if cur.Product.Version != 2 || !cur.Product.CreatedAt.Equal(p.CreatedAt) || cur.Stock.OnHand != 6 {
		t.Errorf("after update: %+v, want version 2, created_at kept, on_hand 6", cur)
	}
	got, err := s.GetProduct(ctx(t), "SKU-2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Product.Name != "새 이름 <b>" || got.Product.BasePrice != 13900 || got.Stock.OnHand != 6 {
		t.Errorf("GetProduct after update = %+v", got)
	}
	ledger, _ := s.Ledger(ctx(t), "SKU-2")
	if len(ledger) != 2 || ledger[1].Kind != inventory.KindAdjust || ledger[1].OnHandDelta != -4 {
		t.Errorf("ledger = %+v, want initial then adjust -4", ledger)
	}
	// A stock count below zero must fail and change nothing.
	_, _, err = s.PutProduct(ctx(t), "SKU-2", func(c *catalog.Current) (catalog.Write, error) {
		w := catalog.Write{Product: p2, StockDelta: -7, StockReason: "test"}
		w.Product.Version = c.Product.Version + 1
		return w, nil
	})
	if !errors.Is(err, catalog.ErrWouldGoNegative) {
		t.Fatalf("stock below zero: err = %v, want ErrWouldGoNegative", err)
	}
	got, _ = s.GetProduct(ctx(t), "SKU-2")
	if got.Stock.OnHand != 6 || got.Product.Version != 2 {
		t.Errorf("failed write changed state: %+v", got)
	}
}

func testRollback(t *testing.T, s Store) {
	boom := errors.New("decided no")
	_, _, err := s.PutProduct(ctx(t), "SKU-3", func(*catalog.Current) (catalog.Write, error) { return catalog.Write{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the decision's error", err)
	}
	// An error after rows were written (a bad event) must roll them back.
	_, _, err = s.PutProduct(ctx(t), "SKU-3", func(*catalog.Current) (catalog.Write, error) {
		return catalog.Write{Product: Product("SKU-3", "x"), StockDelta: 5, Events: []event.Message{{Topic: event.TopicProducts}}}, nil
	})
	if err == nil {
		t.Fatal("a malformed event was accepted")
	}
	if _, err := s.GetProduct(ctx(t), "SKU-3"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetProduct after failed writes: err = %v, want ErrNotFound", err)
	}
	if rows := pending(t, s); len(rows) != 0 {
		t.Errorf("outbox has %d rows after failed writes", len(rows))
	}
	if ledger, _ := s.Ledger(ctx(t), "SKU-3"); len(ledger) != 0 {
		t.Errorf("ledger has %d rows after failed writes", len(ledger))
	}
}

func testNotFound(t *testing.T, s Store) {
	if _, err := s.GetProduct(ctx(t), "NOPE"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s Store) {
	for i := range 7 {
		cat := "audio"
		if i%2 == 1 {
			cat = "food"
		}
		put(t, s, Product(fmt.Sprintf("L-%02d", i), cat), 1)
	}
	var all []string
	after := ""
	for range 10 {
		page, err := s.ListProducts(ctx(t), catalog.ListQuery{AfterSKU: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			all = append(all, p.SKU)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].SKU
	}
	if fmt.Sprint(all) != "[L-00 L-01 L-02 L-03 L-04 L-05 L-06]" {
		t.Errorf("paged listing = %v", all)
	}
	food, err := s.ListProducts(ctx(t), catalog.ListQuery{Category: "food", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(food) != 3 || food[0].SKU != "L-01" {
		t.Errorf("food = %+v, want L-01, L-03, L-05", food)
	}
}

func testConcurrentPuts(t *testing.T, s Store) {
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		creates int
	)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := s.PutProduct(ctx(t), "HOT", func(c *catalog.Current) (catalog.Write, error) {
				w := catalog.Write{Product: Product("HOT", "audio"), StockDelta: 1, StockReason: "test"}
				if c != nil {
					w.Product.Version = c.Product.Version + 1
				}
				w.Events = []event.Message{msg(t, event.TopicProducts, "test.event", "HOT")}
				return w, nil
			})
			if err != nil {
				errs <- err
				return
			}
			if created {
				mu.Lock()
				creates++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent put: %v", err)
	}
	got, err := s.GetProduct(ctx(t), "HOT")
	if err != nil {
		t.Fatal(err)
	}
	if creates != 1 || got.Product.Version != n || got.Stock.OnHand != n {
		t.Errorf("creates=%d version=%d on_hand=%d, want 1, %d, %d", creates, got.Product.Version, got.Stock.OnHand, n, n)
	}
	if rows := pending(t, s); len(rows) != 2*n {
		t.Errorf("outbox rows = %d, want %d (a product and a stock event per put)", len(rows), 2*n)
	}
}

func testOutbox(t *testing.T, s Store) {
	for i := range 5 {
		put(t, s, Product(fmt.Sprintf("O-%d", i), "audio"), 1, event.TopicProducts)
	}
	rows := pending(t, s)
	if len(rows) != 10 {
		t.Fatalf("pending = %d, want 10", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].ID <= rows[i-1].ID {
			t.Fatalf("outbox not in id order: %d then %d", rows[i-1].ID, rows[i].ID)
		}
	}
	first, err := s.PendingOutbox(ctx(t), 2)
	if err != nil || len(first) != 2 || first[0].ID != rows[0].ID {
		t.Fatalf("PendingOutbox(limit 2) = %v, %v", first, err)
	}
	if err := s.MarkOutboxSent(ctx(t), []int64{rows[0].ID, rows[1].ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxBacklog(ctx(t)); err != nil || n != 8 {
		t.Fatalf("backlog = %d, %v; want 8", n, err)
	}
	rest := pending(t, s)
	if len(rest) != 8 || rest[0].ID != rows[2].ID {
		t.Fatalf("pending after mark = %+v", rest)
	}
	// Marking twice is harmless.
	if err := s.MarkOutboxSent(ctx(t), []int64{rows[0].ID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx(t)); n != 8 {
		t.Fatalf("marking again touched unsent rows: backlog %d", n)
	}
	// Large batches are marked in chunks.
	var ids []int64
	for _, r := range rest {
		ids = append(ids, r.ID)
	}
	for i := range 1200 {
		ids = append(ids, int64(1_000_000+i))
	}
	if err := s.MarkOutboxSent(ctx(t), ids); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx(t)); n != 0 {
		t.Fatalf("backlog after marking all = %d", n)
	}
}

func testLease(t *testing.T, s Store, f Features) {
	lease, err := s.AcquireRelayLease(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Check(ctx(t)); err != nil {
		t.Fatalf("check of a held lease: %v", err)
	}
	if f.ExclusiveRelayLease {
		c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
		_, err := s.AcquireRelayLease(c)
		cancel()
		if err == nil {
			t.Fatal("a second relay lease was granted while the first was held")
		}
		if err := lease.Check(ctx(t)); err != nil {
			t.Fatalf("check after a refused second lease: %v", err)
		}
	}
	lease.Release()
	lease.Release() // releasing twice is harmless
	lease2, err := s.AcquireRelayLease(ctx(t))
	if err != nil {
		t.Fatalf("lease after release: %v", err)
	}
	if err := lease2.Check(ctx(t)); err != nil {
		t.Fatalf("check of the second lease: %v", err)
	}
	lease2.Release()
}

func testReportRuns(t *testing.T, s Store) {
	if _, _, err := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24"); !errors.Is(err, reports.ErrNoReport) {
		t.Fatalf("no run yet: err = %v, want ErrNoReport", err)
	}
	t0 := time.Date(2026, 11, 25, 0, 10, 0, 0, time.UTC)
	runs := []reports.Run{
		{ID: "rpt_1", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "schedule", Attempt: 1, Status: reports.RunRunning, StartedAt: t0, Fingerprint: "a"},
		{ID: "rpt_2", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "schedule", Attempt: 2, Status: reports.RunRunning, StartedAt: t0.Add(time.Minute), Fingerprint: "a"},
		{ID: "rpt_3", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "stale", Attempt: 1, Status: reports.RunRunning, StartedAt: t0.Add(time.Hour), Fingerprint: "b"},
	}
	for _, r := range runs {
		if err := s.StartRun(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(r reports.Run, status reports.RunStatus, result []byte, errText string) {
		r.Status, r.FinishedAt, r.Error = status, r.StartedAt.Add(2*time.Second), errText
		r.Inputs = []reports.Input{{Table: "sales", Date: r.From, Rows: 42}}
		if err := s.FinishRun(ctx(t), r, result); err != nil {
			t.Fatal(err)
		}
	}
	finish(runs[0], reports.RunFailed, nil, "engine down")
	finish(runs[1], reports.RunSucceeded, []byte(`{"v":2}`), "")
	got, res, err := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24")
	if err != nil || got.ID != "rpt_2" || string(res) != `{"v":2}` || got.Attempt != 2 || got.DurationMS != 2000 ||
		len(got.Inputs) != 1 || got.Inputs[0].Rows != 42 || got.Fingerprint != "a" || !got.StartedAt.Equal(runs[1].StartedAt) {
		t.Fatalf("last good run = %+v %s %v", got, res, err)
	}
	finish(runs[2], reports.RunSucceeded, []byte(`{"v":3}`), "")
	if got, res, _ := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24"); got.ID != "rpt_3" || string(res) != `{"v":3}` {
		t.Fatalf("a newer good run replaces the result: %+v %s", got, res)
	}
	list, err := s.Runs(ctx(t), "sales", 2)
	if err != nil || len(list) != 2 || list[0].ID != "rpt_3" || list[1].ID != "rpt_2" {
		t.Fatalf("runs = %+v, %v", list, err)
	}
	all, _ := s.Runs(ctx(t), "sales", 10)
	if len(all) != 3 || all[2].Status != reports.RunFailed || all[2].Error != "engine down" {
		t.Fatalf("history keeps failures: %+v", all)
	}
	if got, err := s.GetRun(ctx(t), "rpt_1"); err != nil || got.Status != reports.RunFailed || got.Error != "engine down" ||
		got.DurationMS != 2000 || !got.StartedAt.Equal(runs[0].StartedAt) || len(got.Inputs) != 1 {
		t.Fatalf("get run = %+v, %v", got, err)
	}
	if _, err := s.GetRun(ctx(t), "rpt_nope"); !errors.Is(err, reports.ErrRunNotFound) {
		t.Fatalf("get unknown run: %v", err)
	}
	// A run its process left "running" is failed by the next scheduler.
	orphan := reports.Run{ID: "rpt_4", Report: "sales", From: "2026-11-23", To: "2026-11-23", Engine: "duckdb", Trigger: "schedule", Attempt: 1, Status: reports.RunRunning, StartedAt: t0}
	if err := s.StartRun(ctx(t), orphan); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonRuns(ctx(t), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	list, _ = s.Runs(ctx(t), "sales", 10)
	for _, r := range list {
		if r.ID == "rpt_4" && (r.Status != reports.RunFailed || r.Error == "") {
			t.Fatalf("orphan run not failed: %+v", r)
		}
		if r.ID == "rpt_3" && r.Status != reports.RunSucceeded {
			t.Fatalf("a finished run was touched: %+v", r)
		}
	}
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
	if err := s.Settle(ctx(t), "c1", "k2", claim, 409, []byte(`{"error":1}`)); err != nil {
		t.Fatal(err)
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
	if err := s.Settle(ctx(t), "c1", "k1", claim, 404, []byte(`x`)); err != nil {
		t.Fatal(err)
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
