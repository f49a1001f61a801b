package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// The quote cache of one process follows every change of products: one
// made by another store on the same database (another api process) and one
// made by hand in SQL (an operator), and after its listener's connection
// is killed it answers from the database until it listens again, then
// caches again.
func TestQuoteCacheFollowsEveryChange(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := testenv.PostgresDB(t)
	open := func() *Store {
		s, err := Open(ctx, "postgres", dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	api, other := open(), open()
	put := func(s *Store, sku string, ceiling int64) {
		t.Helper()
		p := storetest.Product(sku, "test")
		p.PriceCeiling = ceiling
		if _, _, err := s.PutProduct(ctx, sku, func(*catalog.Current) (catalog.Write, error) {
			return catalog.Write{Product: p, StockDelta: 1, StockReason: "initial_stock"}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	base := storetest.Product("Q-1", "test").PriceCeiling
	put(other, "Q-1", base)
	quote := func() orders.Quote {
		t.Helper()
		q, err := api.ProductQuote(ctx, "Q-1")
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	// cached waits until the cache holds Q-1 (the listener connects in the
	// background after the first quote).
	cached := func() {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			quote()
			c := api.quoteCache()
			c.mu.Lock()
			_, ok := c.entries["Q-1"]
			c.mu.Unlock()
			if ok {
				return
			}
		}
		t.Fatal("the quote of Q-1 was never cached")
	}
	// sees waits until a quote shows ceiling; a cache that missed the
	// change would show the old one for ever.
	sees := func(ceiling int64, how string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if quote().Ceiling == ceiling {
				return
			}
		}
		t.Fatalf("after a change %s the quote still shows ceiling %d, not %d", how, quote().Ceiling, ceiling)
	}

	cached()
	put(other, "Q-1", base+10)
	sees(base+10, "by another store")

	cached()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE products SET price_ceiling = price_ceiling + 5 WHERE sku = 'Q-1'`); err != nil {
		t.Fatal(err)
	}
	sees(base+15, "in SQL")
	// Replenishment's reorder policy comes from the same cached row.
	cached()
	if _, err := db.ExecContext(ctx, `UPDATE products SET reorder = '{"lead_time_days": 9}' WHERE sku = 'Q-1'`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p, err := api.Product(ctx, "Q-1")
		if err != nil {
			t.Fatal(err)
		}
		if p.Reorder.LeadTimeDays == 9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a change of its reorder policy in SQL the product still shows %+v", p.Reorder)
		}
	}

	// Kill the listener's connection: the cache stops answering at once
	// and starts again, empty, when the listener is back.
	cached()
	c := api.quoteCache()
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	var killed int
	if err := db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = 'LISTEN `+probeChannel+`' AND datname = current_database()`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminating the listener: %d backends, %v", killed, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		back := c.live && c.gen >= gen+2 // stopped, then listening again
		c.mu.Unlock()
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not come back after its connection was killed")
		}
	}
	put(other, "Q-1", base+20)
	sees(base+20, "after the listener came back")
	cached()
}

// A read that raced a change is answered but not kept, and a cache whose
// listener is down keeps nothing.
func TestQuoteCacheKeepsNoReadThatRacedAChange(t *testing.T) {
	c := &quoteCache{entries: map[string]catalog.Product{}}
	if _, _, ok := c.get("A"); ok {
		t.Fatal("an empty cache answered")
	}
	c.setLive(true)
	_, gen, _ := c.get("A")
	c.changed("A") // the change commits while the read is under way
	c.put("A", catalog.Product{BasePrice: 1}, gen)
	if _, _, ok := c.get("A"); ok {
		t.Fatal("a read that raced a change was kept")
	}
	_, gen, _ = c.get("A")
	c.put("A", catalog.Product{BasePrice: 2}, gen)
	if q, _, ok := c.get("A"); !ok || q.BasePrice != 2 {
		t.Fatalf("a read with no change under way was not kept: %+v %v", q, ok)
	}
	c.changed("")
	if _, _, ok := c.get("A"); ok {
		t.Fatal("a truncate left an entry")
	}
	_, gen, _ = c.get("A")
	c.setLive(false)
	c.put("A", catalog.Product{BasePrice: 3}, gen)
	c.setLive(true)
	if _, _, ok := c.get("A"); ok {
		t.Fatal("a read finished while nobody listened was kept")
	}
}

// A listener that hears nothing for a while sends itself a probe and goes
// on listening: changes after several quiet spells still arrive.
func TestQuoteListenerSurvivesQuietSpells(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, c := listening(ctx, t, nil)
	live := func() (bool, uint64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.live, c.gen
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ok, _ := live(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener never listened")
		}
	}
	_, gen := live()
	time.Sleep(time.Second) // ten quiet spells
	if ok, g := live(); !ok || g != gen {
		t.Fatalf("quiet spells reconnected the listener: live %v, generation %d → %d", ok, gen, g)
	}
	if _, err := s.w.ExecContext(ctx, `SELECT pg_notify('`+quotesChannel+`', 'X')`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, g := live(); g == gen+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a change after quiet spells was not heard")
		}
	}
}

// Behind something that accepts LISTEN but delivers nothing (PgBouncer in
// transaction mode), the probe never comes back: the cache never goes live
// and every quote is read from the database.
func TestQuoteCacheStaysOffWhenProbesDoNotComeBack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var probes atomic.Int64
	lost := func(context.Context, string) error { probes.Add(1); return nil } // sent, never delivered
	_, c := listening(ctx, t, lost)
	for deadline := time.Now().Add(20 * time.Second); probes.Load() < 3; time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		live := c.live
		c.mu.Unlock()
		if live {
			t.Fatal("the cache went live though no probe came back")
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d probes in 20 s: the listener stopped trying", probes.Load())
		}
	}
	c.mu.Lock()
	live := c.live
	c.mu.Unlock()
	if live {
		t.Fatal("the cache went live though no probe came back")
	}
}

// listening opens a PostgreSQL store (with migration 14) and runs a quote
// listener on its database that probes every 100 ms with probe (the
// store's own when nil), until the test ends.
func listening(ctx context.Context, t *testing.T, probe func(context.Context, string) error) (*Store, *quoteCache) {
	t.Helper()
	dsn := testenv.PostgresDB(t)
	s, err := Open(ctx, "postgres", dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if probe == nil {
		probe = s.probeQuotes
	}
	c := &quoteCache{entries: map[string]catalog.Product{}, idle: 100 * time.Millisecond}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.listen(lctx, dsn, probe, s.log)
	}()
	t.Cleanup(func() { stop(); <-done; s.Close() })
	return s, c
}
