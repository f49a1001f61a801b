package inventorytest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/money"
)

// Env is one fresh, empty inventory under test.
type Env struct {
	Store inventory.Store
	// CreateSKU adds a SKU with on-hand stock and a low-stock threshold.
	CreateSKU func(t testing.TB, sku string, stock, threshold int64)
	// Alerts lists the alerts stored for a SKU, oldest first.
	Alerts func(ctx context.Context, sku string) ([]inventory.Alert, error)
	// Lister, when set, is the store's alert listing; the paging cases run
	// against it.
	Lister inventory.AlertLister
}

// Run runs the suite; newEnv returns a fresh Env per subtest.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	tests := map[string]func(*testing.T, Env){
		"ReserveCommitRelease":       testLifecycle,
		"AllOrNothing":               testAllOrNothing,
		"Idempotency":                testIdempotency,
		"AdjustNeverBelowReserved":   testAdjust,
		"AdjustNeverAboveStockLimit": testStockLimit,
		"ExpiredReservations":        testExpiry,
		"NoOversellUnderConcurrency": testNoOversell,
		"MixedMultiSKUConservation":  testMixed,
		"AlertEdgesAndHysteresis":    testAlerts,
		"OneAlertPerCrossing":        testConcurrentAlerts,
		"Validation":                 testValidation,
		"BatchDecidesInOrder":        testBatch,
		"NewestAlertsPageByCursor":   testNewestAlerts,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t))
		})
	}
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func levels(t *testing.T, e Env, sku string) inventory.Levels {
	t.Helper()
	l, err := e.Store.Levels(bg(t), sku)
	if err != nil {
		t.Fatalf("Levels(%s): %v", sku, err)
	}
	if l.Available != l.OnHand-l.Reserved {
		t.Fatalf("%s: available %d != on_hand %d - reserved %d", sku, l.Available, l.OnHand, l.Reserved)
	}
	return l
}

func want(t *testing.T, e Env, sku string, onHand, reserved int64) {
	t.Helper()
	l := levels(t, e, sku)
	if l.OnHand != onHand || l.Reserved != reserved {
		t.Fatalf("%s: on_hand %d reserved %d, want %d and %d", sku, l.OnHand, l.Reserved, onHand, reserved)
	}
}

func items(kv ...any) []inventory.Item {
	var out []inventory.Item
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, inventory.Item{SKU: kv[i].(string), Qty: int64(kv[i+1].(int))})
	}
	return out
}

func testLifecycle(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	e.CreateSKU(t, "B", 5, 0)
	s := e.Store
	if err := s.Reserve(bg(t), "r1", items("B", 2, "A", 3), time.Minute); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 10, 3)
	want(t, e, "B", 5, 2)
	if err := s.Commit(bg(t), "r1"); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 7, 0)
	want(t, e, "B", 3, 0)
	if err := s.Reserve(bg(t), "r2", items("A", 7), time.Minute); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 7, 7)
	if err := s.Release(bg(t), "r2"); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 7, 0)
	if _, err := s.Levels(bg(t), "NOPE"); !errors.Is(err, inventory.ErrUnknownSKU) {
		t.Errorf("Levels(unknown) err = %v", err)
	}
}

func testAllOrNothing(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	e.CreateSKU(t, "B", 1, 0)
	err := e.Store.Reserve(bg(t), "r1", items("A", 5, "B", 2), time.Minute)
	var ise *inventory.InsufficientStockError
	if !errors.As(err, &ise) || ise.SKU != "B" || ise.Available != 1 || !errors.Is(err, inventory.ErrInsufficientStock) {
		t.Fatalf("err = %v, want InsufficientStockError on B", err)
	}
	want(t, e, "A", 10, 0)
	want(t, e, "B", 1, 0)
	if err := e.Store.Reserve(bg(t), "r2", items("A", 1, "ZZ", 1), time.Minute); !errors.Is(err, inventory.ErrUnknownSKU) {
		t.Fatalf("unknown sku: err = %v", err)
	}
	want(t, e, "A", 10, 0)
	// The failed ids were not recorded: they can be used again.
	if err := e.Store.Reserve(bg(t), "r1", items("A", 1), time.Minute); err != nil {
		t.Fatalf("reusing a failed reservation id: %v", err)
	}
}

func testIdempotency(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	s := e.Store
	for range 3 {
		if err := s.Reserve(bg(t), "r1", items("A", 4), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	want(t, e, "A", 10, 4)
	for range 3 {
		if err := s.Commit(bg(t), "r1"); err != nil {
			t.Fatal(err)
		}
	}
	want(t, e, "A", 6, 0)
	if err := s.Release(bg(t), "r1"); !errors.Is(err, inventory.ErrReservationClosed) {
		t.Errorf("release after commit: err = %v", err)
	}
	if err := s.Reserve(bg(t), "r1", items("A", 4), time.Minute); err != nil {
		t.Errorf("reserve replay after commit: err = %v", err)
	}
	want(t, e, "A", 6, 0)
	if err := s.Reserve(bg(t), "r2", items("A", 2), time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Release(bg(t), "r2"); err != nil {
			t.Fatal(err)
		}
	}
	want(t, e, "A", 6, 0)
	if err := s.Commit(bg(t), "r2"); !errors.Is(err, inventory.ErrReservationClosed) {
		t.Errorf("commit after release: err = %v", err)
	}
	if err := s.Reserve(bg(t), "r2", items("A", 2), time.Minute); !errors.Is(err, inventory.ErrReservationClosed) {
		t.Errorf("reserve again after release: err = %v", err)
	}
	for _, op := range []func(context.Context, string) error{s.Commit, s.Release} {
		if err := op(bg(t), "never"); !errors.Is(err, inventory.ErrUnknownReservation) {
			t.Errorf("unknown reservation: err = %v", err)
		}
	}
	for range 3 {
		if _, err := s.Adjust(bg(t), "A", 5, "receiving", "po-1"); err != nil {
			t.Fatal(err)
		}
	}
	want(t, e, "A", 11, 0)
}

func testAdjust(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	s := e.Store
	if err := s.Reserve(bg(t), "r1", items("A", 6), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Adjust(bg(t), "A", -5, "damage", ""); !errors.Is(err, inventory.ErrWouldGoNegative) {
		t.Fatalf("err = %v, want ErrWouldGoNegative", err)
	}
	want(t, e, "A", 10, 6)
	l, err := s.Adjust(bg(t), "A", -4, "damage", "")
	if err != nil || l.OnHand != 6 || l.Available != 0 {
		t.Fatalf("Adjust = %+v, %v", l, err)
	}
	if _, err := s.Adjust(bg(t), "NOPE", 1, "count", ""); !errors.Is(err, inventory.ErrUnknownSKU) {
		t.Errorf("unknown sku: err = %v", err)
	}
	if _, err := s.Adjust(bg(t), "A", 0, "count", ""); !errors.Is(err, inventory.ErrInvalid) {
		t.Errorf("zero delta: err = %v", err)
	}
}

// testStockLimit: no change takes on-hand above money.MaxStock, and a
// refused one changes nothing. Stock stored above the bound before it
// existed (SQLite once turned int64 max + 1 into a float) is refused an
// increase, not failed, and may still be brought down.
func testStockLimit(t *testing.T, e Env) {
	e.CreateSKU(t, "A", money.MaxStock-5, 0)
	e.CreateSKU(t, "LEGACY", math.MaxInt64, 0)
	s := e.Store
	// A hold makes adapters that cache counters load them.
	if err := s.Reserve(bg(t), "r1", items("A", 2, "LEGACY", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Adjust(bg(t), "A", 5, "count", ""); err != nil || l.OnHand != money.MaxStock {
		t.Fatalf("Adjust up to the limit = %+v, %v", l, err)
	}
	before := levels(t, e, "A")
	refused := []struct {
		sku        string
		delta      int64
		ref        string
		onHandWant int64
	}{
		{"A", 1, "", money.MaxStock},
		{"A", 1, "po:over", money.MaxStock},
		{"A", money.MaxStock + 1, "", money.MaxStock},
		{"A", math.MaxInt64, "", money.MaxStock},
		{"A", math.MinInt64, "", money.MaxStock},
		{"LEGACY", 1, "", math.MaxInt64},
	}
	for _, c := range refused {
		if _, err := s.Adjust(bg(t), c.sku, c.delta, "receive", c.ref); !errors.Is(err, inventory.ErrStockLimit) {
			t.Errorf("Adjust(%s, %d) err = %v, want ErrStockLimit", c.sku, c.delta, err)
		}
		if l := levels(t, e, c.sku); l.OnHand != c.onHandWant || l.Reserved == 0 {
			t.Errorf("%s after a refused adjustment: %+v", c.sku, l)
		}
	}
	if after := levels(t, e, "A"); after != before {
		t.Errorf("refused adjustments changed A: %+v, was %+v", after, before)
	}
	// The refused ref was not recorded: it applies once there is room.
	if _, err := s.Adjust(bg(t), "A", -10, "damage", ""); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Adjust(bg(t), "A", 1, "receive", "po:over"); err != nil || l.OnHand != money.MaxStock-9 {
		t.Fatalf("Adjust after room was made = %+v, %v", l, err)
	}
	if l, err := s.Adjust(bg(t), "LEGACY", -1, "count", ""); err != nil || l.OnHand != math.MaxInt64-1 {
		t.Fatalf("bringing legacy stock down = %+v, %v", l, err)
	}
	// The counters an adapter caches followed only the accepted changes.
	if err := s.Commit(bg(t), "r1"); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", money.MaxStock-11, 0)
	want(t, e, "LEGACY", math.MaxInt64-2, 0)
}

func testExpiry(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	s := e.Store
	if err := s.Reserve(bg(t), "short", items("A", 3), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(bg(t), "long", items("A", 2), time.Hour); err != nil {
		t.Fatal(err)
	}
	ids, err := s.ExpiredReservations(bg(t), time.Now().Add(time.Minute), 10)
	if err != nil || len(ids) != 1 || ids[0] != "short" {
		t.Fatalf("expired = %v, %v; want [short]", ids, err)
	}
	if err := s.Release(bg(t), "short"); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 10, 2)
	if ids, _ := s.ExpiredReservations(bg(t), time.Now().Add(time.Minute), 10); len(ids) != 0 {
		t.Errorf("released reservation still listed: %v", ids)
	}
}

func testNoOversell(t *testing.T, e Env) {
	e.CreateSKU(t, "HOT", 50, 0)
	var ok, short atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Store.Reserve(bg(t), fmt.Sprintf("r%d", i), items("HOT", 1), time.Minute)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, inventory.ErrInsufficientStock):
				short.Add(1)
			default:
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 50 || short.Load() != 150 {
		t.Fatalf("%d reserved, %d refused; want exactly 50 and 150", ok.Load(), short.Load())
	}
	want(t, e, "HOT", 50, 50)
}

func testMixed(t *testing.T, e Env) {
	skus := []string{"A", "B", "C"}
	for _, s := range skus {
		e.CreateSKU(t, s, 30, 0)
	}
	var (
		mu        sync.Mutex
		succeeded = map[string][]inventory.Item{}
		wg        sync.WaitGroup
	)
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			a, b := r.IntN(3), r.IntN(3)
			its := items(skus[a], 1+r.IntN(2))
			if b != a {
				its = append(its, items(skus[b], 1+r.IntN(2))...)
			}
			id := fmt.Sprintf("m%d", i)
			err := e.Store.Reserve(bg(t), id, its, time.Minute)
			if err != nil && !errors.Is(err, inventory.ErrInsufficientStock) {
				t.Errorf("reserve: %v", err)
				return
			}
			if err == nil {
				mu.Lock()
				succeeded[id] = its
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	held := map[string]int64{}
	for _, its := range succeeded {
		for _, it := range its {
			held[it.SKU] += it.Qty
		}
	}
	for _, s := range skus {
		if l := levels(t, e, s); l.Reserved != held[s] || l.Reserved > 30 {
			t.Fatalf("%s reserved %d, successful reservations hold %d (stock 30)", s, l.Reserved, held[s])
		}
	}
	// Commit half, release the rest, adjust, and check conservation:
	// on_hand + sold == initial + adjustments.
	sold := map[string]int64{}
	n := 0
	for id, its := range succeeded {
		var err error
		if n%2 == 0 {
			err = e.Store.Commit(bg(t), id)
			for _, it := range its {
				sold[it.SKU] += it.Qty
			}
		} else {
			err = e.Store.Release(bg(t), id)
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if _, err := e.Store.Adjust(bg(t), "A", 7, "receiving", "po-a"); err != nil {
		t.Fatal(err)
	}
	adjust := map[string]int64{"A": 7}
	for _, s := range skus {
		l := levels(t, e, s)
		if l.Reserved != 0 || l.OnHand+sold[s] != 30+adjust[s] {
			t.Errorf("%s: on_hand %d + sold %d != 30 + %d (reserved %d)", s, l.OnHand, sold[s], adjust[s], l.Reserved)
		}
	}
}

func alertTypes(t *testing.T, e Env, sku string) []string {
	t.Helper()
	as, err := e.Alerts(bg(t), sku)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		if a.SKU != sku || a.ID == "" {
			t.Fatalf("alert %+v", a)
		}
		out = append(out, a.Type)
	}
	return out
}

func testAlerts(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 20, 10) // re-arms at 11 (10 + 10 %)
	s := e.Store
	step := 0
	reserve := func(q int) {
		t.Helper()
		step++
		if err := s.Reserve(bg(t), fmt.Sprintf("a%d", step), items("A", q), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	reserve(10) // available 10: not below threshold
	if got := alertTypes(t, e, "A"); len(got) != 0 {
		t.Fatalf("alerts at available 10 = %v", got)
	}
	reserve(1) // 9: crosses
	reserve(1) // 8: still low, no new alert
	if got := fmt.Sprint(alertTypes(t, e, "A")); got != "[low_stock]" {
		t.Fatalf("alerts = %s, want one low_stock", got)
	}
	if err := s.Release(bg(t), "a2"); err != nil { // back to 9
		t.Fatal(err)
	}
	if _, err := s.Adjust(bg(t), "A", 1, "count", ""); err != nil { // 10: at threshold, not re-armed
		t.Fatal(err)
	}
	reserve(1) // 9: no alert, not re-armed yet
	if got := fmt.Sprint(alertTypes(t, e, "A")); got != "[low_stock]" {
		t.Fatalf("alerts = %s, want still one (hysteresis)", got)
	}
	if _, err := s.Adjust(bg(t), "A", 2, "receiving", ""); err != nil { // 11: re-armed
		t.Fatal(err)
	}
	reserve(2) // 9: second crossing
	if got := fmt.Sprint(alertTypes(t, e, "A")); got != "[low_stock low_stock]" {
		t.Fatalf("alerts = %s, want two low_stock", got)
	}
	reserve(9) // 0: out of stock
	if got := fmt.Sprint(alertTypes(t, e, "A")); got != "[low_stock low_stock out_of_stock]" {
		t.Fatalf("alerts = %s", got)
	}
}

func testConcurrentAlerts(t *testing.T, e Env) {
	e.CreateSKU(t, "HOT", 100, 50)
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Store.Reserve(bg(t), fmt.Sprintf("c%d", i), items("HOT", 1), time.Minute)
			if err != nil && !errors.Is(err, inventory.ErrInsufficientStock) {
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := fmt.Sprint(alertTypes(t, e, "HOT")); got != "[low_stock out_of_stock]" {
		t.Fatalf("alerts = %s, want exactly one low_stock and one out_of_stock", got)
	}
}

func testValidation(t *testing.T, e Env) {
	e.CreateSKU(t, "A", 10, 0)
	bad := [][]inventory.Item{nil, items("A", 0), items("A", -1), items("A", 1, "A", 2)}
	for _, its := range bad {
		if err := e.Store.Reserve(bg(t), "v", its, time.Minute); !errors.Is(err, inventory.ErrInvalid) {
			t.Errorf("Reserve(%v) err = %v, want ErrInvalid", its, err)
		}
	}
	want(t, e, "A", 10, 0)
}

// AlertsOf adapts a store that lists all alerts to Env.Alerts.
func AlertsOf(l inventory.AlertLister) func(ctx context.Context, sku string) ([]inventory.Alert, error) {
	return func(ctx context.Context, sku string) ([]inventory.Alert, error) {
		all, err := l.Alerts(ctx, "", time.Time{}, 1000)
		var out []inventory.Alert
		for _, a := range all {
			if a.SKU == sku {
				out = append(out, a)
			}
		}
		return out, err
	}
}

// testBatch: a store that reserves in batches gives each request the
// outcome Reserve would have, deciding them in order; the ledger, events
// and alerts are those of the same reservations made one by one.
func testBatch(t *testing.T, e Env) {
	b, ok := e.Store.(inventory.BatchReserver)
	if !ok {
		t.Skip("the store has no batch reservations")
	}
	e.CreateSKU(t, "A", 10, 5) // low_stock below 5
	e.CreateSKU(t, "B", 3, 0)
	s := e.Store
	if err := s.Reserve(bg(t), "old", items("A", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(bg(t), "gone", items("B", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(bg(t), "gone"); err != nil {
		t.Fatal(err)
	}
	req := func(id string, ttl time.Duration, kv ...any) inventory.ReserveRequest {
		return inventory.ReserveRequest{ID: id, Items: items(kv...), TTL: ttl}
	}
	reqs := []inventory.ReserveRequest{
		req("b1", time.Minute, "A", 3, "B", 2), // A 9→6, B 3→1
		req("b2", time.Minute, "A", 2, "B", 2), // B short (1 left): nothing held
		req("b3", time.Minute, "A", 2),         // A 6→4: crosses the threshold
		req("old", time.Minute, "A", 1),        // replay: held already, no change
		req("gone", time.Minute, "B", 1),       // replay of a released one
		req("b4", time.Minute, "NOPE", 1),      // unknown SKU
		req("b5", time.Minute, "A", 1),         // 4→3: still low, no second alert
		req("b1", time.Minute, "A", 1),         // b1 again: its outcome, no second hold
		req("b6", 0, "A", 1),                   // invalid
		req("b7", time.Minute, "A", 4),         // short: 3 left
		req("b8", time.Minute, "A", 3),         // 3→0: out of stock
		req("b2", time.Minute, "B", 1),         // b2 again, smaller: b2 was refused, so this one is tried (B 1→0)
	}
	errs := b.ReserveBatch(bg(t), reqs)
	if len(errs) != len(reqs) {
		t.Fatalf("%d outcomes for %d requests", len(errs), len(reqs))
	}
	var short *inventory.InsufficientStockError
	checks := []func(error) bool{
		func(err error) bool { return err == nil },
		func(err error) bool { return errors.As(err, &short) && short.SKU == "B" && short.Available == 1 },
		func(err error) bool { return err == nil },
		func(err error) bool { return err == nil },
		func(err error) bool { return errors.Is(err, inventory.ErrReservationClosed) },
		func(err error) bool { return errors.Is(err, inventory.ErrUnknownSKU) },
		func(err error) bool { return err == nil },
		func(err error) bool { return err == nil },
		func(err error) bool { return errors.Is(err, inventory.ErrInvalid) },
		func(err error) bool { return errors.As(err, &short) && short.SKU == "A" && short.Available == 3 },
		func(err error) bool { return err == nil },
		func(err error) bool { return err == nil },
	}
	for i, ok := range checks {
		if !ok(errs[i]) {
			t.Errorf("request %d (%s): %v", i, reqs[i].ID, errs[i])
		}
	}
	want(t, e, "A", 10, 10)
	want(t, e, "B", 3, 3)
	if got := fmt.Sprint(alertTypes(t, e, "A")); got != "[low_stock out_of_stock]" {
		t.Fatalf("alerts = %s, want one low_stock and one out_of_stock", got)
	}
	// The batch's holds behave as any other: commit one, release another.
	if err := s.Commit(bg(t), "b3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(bg(t), "b8"); err != nil {
		t.Fatal(err)
	}
	want(t, e, "A", 8, 5)
	// A second identical batch replays: nothing changes.
	for i, err := range b.ReserveBatch(bg(t), []inventory.ReserveRequest{req("b1", time.Minute, "A", 3, "B", 2), req("b5", time.Minute, "A", 1)}) {
		if err != nil {
			t.Errorf("replayed request %d: %v", i, err)
		}
	}
	want(t, e, "A", 8, 5)
	want(t, e, "B", 3, 3)
}

// testNewestAlerts: newest-first pages, followed by their cursor, list
// every alert once, newest first, also with a type filter and when new
// alerts arrive between pages.
func testNewestAlerts(t *testing.T, e Env) {
	if e.Lister == nil {
		t.Skip("the env has no alert listing")
	}
	// Each SKU fires low_stock (available 1 < 2) then out_of_stock (0).
	const skus = 7
	for i := range skus {
		sku := fmt.Sprintf("N%d", i)
		e.CreateSKU(t, sku, 2, 2)
		for q := range 2 {
			if err := e.Store.Reserve(bg(t), fmt.Sprintf("n%d-%d", i, q), items(sku, 1), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldest, err := e.Lister.Alerts(bg(t), "", time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(oldest) != 2*skus {
		t.Fatalf("%d alerts stored, want %d", len(oldest), 2*skus)
	}
	ids := func(as []inventory.Alert) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.ID
		}
		return out
	}
	reversed := func(as []inventory.Alert) []string {
		out := ids(as)
		slices.Reverse(out)
		return out
	}
	pages := func(typ string, limit int, between func(n int)) ([]string, int) {
		t.Helper()
		var (
			got    []string
			before int64
			n      int
		)
		for {
			p, err := e.Lister.NewestAlerts(bg(t), typ, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) > limit {
				t.Fatalf("page of %d alerts, limit %d", len(p.Items), limit)
			}
			n++
			got = append(got, ids(p.Items)...)
			if p.Next == 0 {
				return got, n
			}
			if n > 100 {
				t.Fatal("paging does not end")
			}
			if between != nil {
				between(n)
			}
			before = p.Next
		}
	}
	all, n := pages("", 3, nil)
	if want := reversed(oldest); !slices.Equal(all, want) || n != 5 {
		t.Fatalf("pages of 3 = %v in %d pages, want %v in 5", all, n, want)
	}
	var outs []inventory.Alert
	for _, a := range oldest {
		if a.Type == inventory.AlertOutOfStock {
			outs = append(outs, a)
		}
	}
	got, _ := pages(inventory.AlertOutOfStock, 2, nil)
	if want := reversed(outs); !slices.Equal(got, want) {
		t.Fatalf("out_of_stock pages = %v, want %v", got, want)
	}
	// A page exactly as long as what is left ends the listing.
	if got, n := pages("", 2*skus, nil); len(got) != 2*skus || n != 1 {
		t.Fatalf("one full page: %d alerts in %d pages", len(got), n)
	}
	// New alerts stored while a client pages do not shift its pages: it
	// still sees every older alert exactly once.
	e.CreateSKU(t, "LATE", 2, 2)
	late := 0
	got, _ = pages("", 4, func(int) {
		late++
		if err := e.Store.Reserve(bg(t), fmt.Sprintf("late%d", late), items("LATE", 1), time.Minute); err != nil && !errors.Is(err, inventory.ErrInsufficientStock) {
			t.Fatal(err)
		}
	})
	if want := reversed(oldest); !slices.Equal(got, want) {
		t.Fatalf("pages while alerts arrive = %v, want %v", got, want)
	}
	first, err := e.Lister.NewestAlerts(bg(t), "", 0, 1)
	if err != nil || len(first.Items) != 1 || first.Items[0].SKU != "LATE" || first.Items[0].Type != inventory.AlertOutOfStock {
		t.Fatalf("newest alert = %+v, %v; want LATE's out_of_stock", first, err)
	}
}
