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
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/outbox"
)

// Catalog is the catalogue port with what its writes leave behind: the
// SKU's ledger and the outbox rows of its events.
type Catalog interface {
	catalog.Repository
	outbox.Store
	Ledger(ctx context.Context, sku string) ([]inventory.LedgerEntry, error)
}

// RunCatalog runs the catalogue cases. newStore returns a fresh, empty store.
func RunCatalog(t *testing.T, newStore func(t *testing.T) Catalog) {
	t.Run("PutCreatesProductStockLedgerAndEvents", func(t *testing.T) { t.Parallel(); testCreate(t, newStore(t)) })
	t.Run("PutUpdatesAndCountsStock", func(t *testing.T) { t.Parallel(); testUpdate(t, newStore(t)) })
	t.Run("FailedDecisionWritesNothing", func(t *testing.T) { t.Parallel(); testRollback(t, newStore(t)) })
	t.Run("GetUnknownIsNotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, newStore(t)) })
	t.Run("ListPagesByCategory", func(t *testing.T) { t.Parallel(); testList(t, newStore(t)) })
	t.Run("ConcurrentPutsOfOneSKU", func(t *testing.T) { t.Parallel(); testConcurrentPuts(t, newStore(t)) })
}

func testCreate(t *testing.T, s Catalog) {
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

func testUpdate(t *testing.T, s Catalog) {
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

func testRollback(t *testing.T, s Catalog) {
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

func testNotFound(t *testing.T, s Catalog) {
	if _, err := s.GetProduct(ctx(t), "NOPE"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s Catalog) {
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

func testConcurrentPuts(t *testing.T, s Catalog) {
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
