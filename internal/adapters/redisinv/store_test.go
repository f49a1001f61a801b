package redisinv_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/adapters/redisinv"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/money"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	sql   *sqlstore.Store
	rdb   redis.UniversalClient
	store *redisinv.Store
}

func newFixture(t testing.TB, addr string, shards int) fixture {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	// Tests share one server; a prefix per test keeps their keys apart.
	return newFixtureOn(t, rdb, fmt.Sprintf("t%d:", time.Now().UnixNano()), shards)
}

// newFixtureOn builds the adapter over a client of any kind (one server,
// Sentinel or Cluster) and a fresh SQLite ledger.
func newFixtureOn(t testing.TB, rdb redis.UniversalClient, prefix string, shards int) fixture {
	t.Helper()
	// The ledger's writer at the nice value mercato serve gives it
	// (--sqlite-writer-nice); unprivileged it runs at normal priority.
	sql, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "ledger.db"), sqlstore.Options{WriterNice: -10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sql.Close)
	return fixture{sql: sql, rdb: rdb, store: redisinv.New(rdb, sql, redisinv.Options{Prefix: prefix, Shards: shards})}
}

func (f fixture) env() inventorytest.Env {
	return inventorytest.Env{
		Store: f.store,
		CreateSKU: func(t testing.TB, sku string, stock, threshold int64) {
			t.Helper()
			p := storetest.Product(sku, "test")
			p.LowStockThreshold = threshold
			if _, _, err := f.sql.PutProduct(context.Background(), sku, func(*catalog.Current) (catalog.Write, error) {
				return catalog.Write{Product: p, StockDelta: stock, StockReason: "initial_stock"}, nil
			}); err != nil {
				t.Fatal(err)
			}
		},
		Alerts: inventorytest.AlertsOf(f.sql),
	}
}

func TestRedisInventoryContract(t *testing.T) {
	t.Parallel()
	addr := testenv.Redis(t)
	for _, shards := range []int{1, 4} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			inventorytest.Run(t, func(t *testing.T) inventorytest.Env { return newFixture(t, addr, shards).env() })
		})
	}
}

func TestReconcileFindsAndFixesCorruptedCounters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testenv.Redis(t), 1)
	e := f.env()
	ctx := context.Background()
	for _, sku := range []string{"A", "B", "C"} {
		e.CreateSKU(t, sku, 10, 0)
	}
	if err := f.store.Reserve(ctx, "r1", []inventory.Item{{SKU: "A", Qty: 2}, {SKU: "B", Qty: 1}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Commit(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.store.Reconcile(ctx, false); err != nil || len(got) != 0 {
		t.Fatalf("consistent cache reported %v, %v", got, err)
	}
	// Corrupt B's reserved counter, as a crash between the two writes would.
	if err := f.rdb.HSet(ctx, f.store.CounterKey("B"), "reserved", 5).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Reconcile(ctx, true)
	if err != nil || len(got) != 1 || got[0] != (redisinv.Mismatch{SKU: "B", Field: "reserved", Redis: 5, Ledger: 0}) {
		t.Fatalf("reconcile = %+v, %v; want B reserved 5 vs 0", got, err)
	}
	if got, err := f.store.Reconcile(ctx, false); err != nil || len(got) != 0 {
		t.Fatalf("after --fix: %v, %v", got, err)
	}
	// The repaired cache sells B's full stock again.
	if err := f.store.Reserve(ctx, "r2", []inventory.Item{{SKU: "B", Qty: 9}}, time.Minute); err != nil {
		t.Fatalf("reserve after repair: %v", err)
	}
}

// Reconcile reads the counters a page of SKUs at a time; mismatches on
// either side of a page boundary, and SKUs never cached, come out right.
func TestReconcileAcrossPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testenv.Redis(t), 1)
	e := f.env()
	ctx := context.Background()
	const n = 1203
	for i := range n {
		sku := fmt.Sprintf("P-%04d", i)
		e.CreateSKU(t, sku, int64(i+1), 0)
		if i%3 != 0 { // every third SKU is never loaded
			if err := f.store.Load(ctx, sku); err != nil {
				t.Fatal(err)
			}
		}
	}
	corrupt := map[string]int64{"P-0001": 7, "P-0499": 1, "P-0500": 2, "P-1202": 9}
	for sku, v := range corrupt {
		if err := f.rdb.HSet(ctx, f.store.CounterKey(sku), "on_hand", v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.store.Reconcile(ctx, true)
	if err != nil || len(got) != len(corrupt) {
		t.Fatalf("reconcile = %+v, %v; want %d mismatches", got, err, len(corrupt))
	}
	for _, m := range got {
		var i int
		fmt.Sscanf(m.SKU, "P-%d", &i)
		if m.Field != "on_hand" || m.Redis != corrupt[m.SKU] || m.Ledger != int64(i+1) {
			t.Errorf("mismatch %+v", m)
		}
	}
	if got, err := f.store.Reconcile(ctx, false); err != nil || len(got) != 0 {
		t.Fatalf("after --fix: %v, %v", got, err)
	}
}

// overstated is a fixture whose Redis believes SKU A has 50 on hand while
// the ledger holds 5.
func overstated(t *testing.T) fixture {
	t.Helper()
	f := newFixture(t, testenv.Redis(t), 1)
	f.env().CreateSKU(t, "A", 5, 0)
	if err := f.store.Load(context.Background(), "A"); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.HSet(context.Background(), f.store.CounterKey("A"), "on_hand", 50).Err(); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLedgerRefusalCompensatesRedisHold(t *testing.T) {
	t.Parallel()
	f := overstated(t)
	ctx := context.Background()
	err := f.store.Reserve(ctx, "big", []inventory.Item{{SKU: "A", Qty: 20}}, time.Minute)
	if err == nil {
		t.Fatal("the ledger accepted a reservation beyond its stock")
	}
	held, _ := f.rdb.HGet(ctx, f.store.CounterKey("A"), "reserved").Int64()
	if held != 0 {
		t.Fatalf("Redis kept a hold of %d after the ledger refused", held)
	}
}

// In a batch, the ledger's refusal of one reservation returns that one's
// Redis hold and keeps the others'.
func TestBatchLedgerRefusalCompensatesOnlyTheRefused(t *testing.T) {
	t.Parallel()
	f := overstated(t)
	ctx := context.Background()
	errs := f.store.ReserveBatch(ctx, []inventory.ReserveRequest{
		{ID: "fits", Items: []inventory.Item{{SKU: "A", Qty: 4}}, TTL: time.Minute},
		{ID: "beyond", Items: []inventory.Item{{SKU: "A", Qty: 3}}, TTL: time.Minute},
	})
	if errs[0] != nil || !errors.Is(errs[1], inventory.ErrInsufficientStock) {
		t.Fatalf("outcomes %v, want the first held and the second refused by the ledger", errs)
	}
	held, _ := f.rdb.HGet(ctx, f.store.CounterKey("A"), "reserved").Int64()
	if held != 4 {
		t.Fatalf("Redis holds %d, want only the admitted 4", held)
	}
	if l, _ := f.store.Levels(ctx, "A"); l.Reserved != 4 {
		t.Fatalf("ledger %+v", l)
	}
}

// A product write that counts stock reaches the cached counters, so Redis
// and the ledger still agree; SKUs not cached stay uncached.
func TestProductStockWriteReachesTheCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testenv.Redis(t), 1)
	e := f.env()
	ctx := context.Background()
	e.CreateSKU(t, "A", 10, 0)
	e.CreateSKU(t, "B", 10, 0)
	if err := f.store.Reserve(ctx, "r1", []inventory.Item{{SKU: "A", Qty: 2}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	products := catalog.NewService(f.sql, nil, nil)
	products.CacheStock(f.store)
	for _, sku := range []string{"A", "B"} {
		stock := int64(25)
		if _, _, err := products.Put(ctx, sku, catalog.PutRequest{Name: sku, Category: "test", BasePrice: 1000, PriceFloor: 1000, PriceCeiling: 1000,
			Stock: &stock, LowStockThreshold: 7}); err != nil {
			t.Fatal(err)
		}
	}
	vals, err := f.rdb.HMGet(ctx, f.store.CounterKey("A"), "on_hand", "reserved", "threshold").Result()
	if err != nil || fmt.Sprint(vals) != "[25 2 7]" {
		t.Fatalf("cached A = %v (%v), want on_hand 25, reserved 2, threshold 7", vals, err)
	}
	if n, _ := f.rdb.Exists(ctx, f.store.CounterKey("B")).Result(); n != 0 {
		t.Fatal("a product write cached a SKU nobody reserved")
	}
	if got, err := f.store.Reconcile(ctx, false); err != nil || len(got) != 0 {
		t.Fatalf("reconcile after a stock count: %v, %v", got, err)
	}
}

// A SKU loaded into Redis between a ledger change and that change's cache
// update holds the change already: the update must not apply it twice.
// Changes the load did not see still apply.
func TestCacheUpdatesAfterAColdLoadApplyOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testenv.Redis(t), 1)
	ctx := context.Background()
	f.env().CreateSKU(t, "A", 10, 3)
	onHand := func() int64 {
		t.Helper()
		v, err := f.rdb.HGet(ctx, f.store.CounterKey("A"), "on_hand").Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// A stock count (+15) commits; a reservation loads the SKU; then the
	// count's cache update arrives.
	stock := int64(25)
	products := catalog.NewService(f.sql, nil, nil) // the ledger alone: the cache step is driven by hand
	counted, _, err := products.Put(ctx, "A", catalog.PutRequest{Name: "A", Category: "test", BasePrice: 1000, PriceFloor: 1000, PriceCeiling: 1000, Stock: &stock, LowStockThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Load(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	f.store.StockWritten(ctx, "A", 15, 3, counted.Stock.Version)
	if got := onHand(); got != 25 {
		t.Fatalf("on_hand %d after a count the load already held, want 25", got)
	}
	// An adjustment the same way round.
	l, err := f.sql.Adjust(ctx, "A", 5, "receiving", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Del(ctx, f.store.CounterKey("A")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Load(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AdjustCache(ctx, "A", 5, "", l.Version); err != nil {
		t.Fatal(err)
	}
	if got := onHand(); got != 30 {
		t.Fatalf("on_hand %d after an adjustment the load already held, want 30", got)
	}
	// Changes after the load apply, in any order.
	l1, _ := f.sql.Adjust(ctx, "A", 2, "receiving", "")
	l2, _ := f.sql.Adjust(ctx, "A", 3, "receiving", "")
	for _, c := range []struct {
		delta   int64
		version int64
	}{{3, l2.Version}, {2, l1.Version}} {
		if err := f.store.AdjustCache(ctx, "A", c.delta, "", c.version); err != nil {
			t.Fatal(err)
		}
	}
	if got := onHand(); got != 35 {
		t.Fatalf("on_hand %d, want 35", got)
	}
	if got, err := f.store.Reconcile(ctx, false); err != nil || len(got) != 0 {
		t.Fatalf("reconcile: %v, %v", got, err)
	}
}

// The cached counters never pass the stock limit either: a change the
// ledger accepted but cached counters that disagree with it (here, pushed
// to the limit behind the ledger's back) would take past it is not applied
// to them, and reconcile repairs them from the ledger.
func TestCachedCountersStayWithinTheStockLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testenv.Redis(t), 1)
	e := f.env()
	ctx := context.Background()
	e.CreateSKU(t, "A", 10, 0)
	if err := f.store.Load(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.HSet(ctx, f.store.CounterKey("A"), "on_hand", money.MaxStock).Err(); err != nil {
		t.Fatal(err)
	}
	if l, err := f.store.Adjust(ctx, "A", 1, "count", ""); err != nil || l.OnHand != 11 {
		t.Fatalf("Adjust = %+v, %v; the ledger has room", l, err)
	}
	onHand, err := f.rdb.HGet(ctx, f.store.CounterKey("A"), "on_hand").Int64()
	if err != nil || onHand != money.MaxStock {
		t.Fatalf("cached on_hand = %d, %v; want it left at %d", onHand, err, money.MaxStock)
	}
	if _, err := f.store.Reconcile(ctx, true); err != nil {
		t.Fatal(err)
	}
	if onHand, err := f.rdb.HGet(ctx, f.store.CounterKey("A"), "on_hand").Int64(); err != nil || onHand != 11 {
		t.Fatalf("cached on_hand after reconcile = %d, %v; want 11", onHand, err)
	}
}
