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
	// Product is a product without its stock (replenishment's port).
	Product(ctx context.Context, sku string) (catalog.Product, error)
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
	t.Run("ListSearchesSKUAndName", func(t *testing.T) { t.Parallel(); testSearch(t, newStore(t)) })
	t.Run("ListCurrentCarriesStock", func(t *testing.T) { t.Parallel(); testListCurrent(t, newStore(t)) })
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
	if alone, err := s.Product(ctx(t), "SKU-1"); err != nil || alone != p {
		t.Errorf("Product = %+v, %v\nwant %+v", alone, err, p)
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
	if _, err := s.Product(ctx(t), "NOPE"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Product: err = %v, want ErrNotFound", err)
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

func testSearch(t *testing.T, s Catalog) {
	named := func(sku, name, category string) catalog.Product {
		p := Product(sku, category)
		p.Name = name
		return p
	}
	for _, p := range []catalog.Product{
		named("EAR-01", "Wireless Earbuds", "audio"),
		named("EAR-02", "무선 이어폰 프로", "audio"),
		named("CAB_10", "USB-C Cable 100% copper", "cables"),
		named("CBL-20", "Lightning cable", "cables"),
		named("APL-1", "사과 1kg", "fresh"),
		named("BRD-1", "Pain d'École", "bakery"),
	} {
		put(t, s, p, 1)
	}
	tests := []struct {
		name string
		q    catalog.ListQuery
		want string
	}{
		{"name ignoring case", catalog.ListQuery{Search: "EARBUDS"}, "[EAR-01]"},
		{"sku ignoring case", catalog.ListQuery{Search: "ear-0"}, "[EAR-01 EAR-02]"},
		{"hangul in the name", catalog.ListQuery{Search: "이어폰"}, "[EAR-02]"},
		{"non-ASCII letters as written", catalog.ListQuery{Search: "D'ÉCOLE"}, "[BRD-1]"},
		{"sku or name", catalog.ListQuery{Search: "cab"}, "[CAB_10 CBL-20]"},
		{"with category", catalog.ListQuery{Search: "cable", Category: "audio"}, "[]"},
		{"underscore is literal", catalog.ListQuery{Search: "b_1"}, "[CAB_10]"},
		{"percent is literal", catalog.ListQuery{Search: "0%"}, "[CAB_10]"},
		{"percent alone matches only a percent", catalog.ListQuery{Search: "%"}, "[CAB_10]"},
		{"backslash is literal", catalog.ListQuery{Search: `\`}, "[]"},
		{"quote is data", catalog.ListQuery{Search: `' OR 1=1 --`}, "[]"},
		{"paged", catalog.ListQuery{Search: "a", AfterSKU: "CAB_10"}, "[CBL-20 EAR-01 EAR-02]"},
	}
	for _, tt := range tests {
		q := tt.q
		q.Limit = 10
		page, err := s.ListProducts(ctx(t), q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		skus := []string{}
		for _, p := range page {
			skus = append(skus, p.SKU)
		}
		if got := fmt.Sprint(skus); got != tt.want {
			t.Errorf("%s: ListProducts(%+v) = %s, want %s", tt.name, tt.q, got, tt.want)
		}
		cur, err := s.ListCurrent(ctx(t), q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(cur) != len(page) {
			t.Errorf("%s: ListCurrent has %d products, ListProducts %d", tt.name, len(cur), len(page))
		}
	}
}

func testListCurrent(t *testing.T, s Catalog) {
	for i := range 5 {
		cat := "audio"
		if i%2 == 1 {
			cat = "food"
		}
		put(t, s, Product(fmt.Sprintf("C-%02d", i), cat), int64(10*i))
	}
	page, err := s.ListCurrent(ctx(t), catalog.ListQuery{Category: "food", AfterSKU: "C-00", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Product.SKU != "C-01" || page[1].Product.SKU != "C-03" {
		t.Fatalf("ListCurrent = %+v, want C-01, C-03", page)
	}
	if page[0].Stock.OnHand != 10 || page[1].Stock.OnHand != 30 || page[1].Product != Product("C-03", "food") {
		t.Errorf("ListCurrent = %+v, want on hand 10 and 30 with the products as written", page)
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
