package pricing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is a minute boundary, so slide arithmetic in the tests reads plainly.
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// wall is the fixed wall clock of the tests; only Tick moves it.
var wall = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	kindPurchase = iota
	kindStock
)

// rec is one input record of a test stream.
type rec struct {
	kind int
	sku  string
	at   time.Time
	n    int64 // units sold or stock available
	id   string
}

// heuristicRule is DefaultRule under the rule policy, which most pricer
// tests pin down to the unit; learn has its own tests (learn_test.go).
func heuristicRule() Rule {
	r := DefaultRule()
	r.Policy = PolicyRule
	return r
}

func newTestPricer(t testing.TB, rules ...Rule) *Pricer {
	t.Helper()
	return newTestPricerWith(t, heuristicRule(), rules...)
}

func newTestPricerWith(t testing.TB, fallback Rule, rules ...Rule) *Pricer {
	t.Helper()
	book, err := NewRuleBook(fallback)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if err := book.Set(r); err != nil {
			t.Fatal(err)
		}
	}
	p, err := NewPricer(DefaultConfig(), book)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addProduct(t testing.TB, p *Pricer, sku, category string) {
	t.Helper()
	if err := p.Product(sku, category, 12900, 9900, 15900); err != nil {
		t.Fatal(err)
	}
}

// feed applies recs in order and returns the late ones.
func feed(t testing.TB, p *Pricer, recs []rec) (late []rec) {
	t.Helper()
	for _, r := range recs {
		var isLate bool
		var err error
		if r.kind == kindPurchase {
			isLate, err = p.Purchase(r.sku, r.at, r.n, wall)
		} else {
			isLate, err = p.Inventory(r.sku, r.at, r.n, r.id, wall)
		}
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if isLate && r.kind == kindPurchase {
			late = append(late, r)
		}
	}
	return late
}

func buy(sku string, at time.Duration, units int64) rec {
	return rec{kind: kindPurchase, sku: sku, at: t0.Add(at), n: units}
}

func TestPricerEmitsAtBoundariesWithReason(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	addProduct(t, p, "EARBUDS-01", "audio")
	var recs []rec
	for i := range 20 {
		recs = append(recs, buy("EARBUDS-01", time.Duration(i)*2*time.Second, 1))
	}
	feed(t, p, recs)
	if got := p.TakeChanges(nil); len(got) != 0 {
		t.Fatalf("changes before the watermark passed the boundary: %+v", got)
	}
	// 64 s: the watermark (59 s) has not reached the 60 s boundary yet.
	feed(t, p, []rec{buy("OTHER", 64*time.Second, 1)})
	if got := p.TakeChanges(nil); len(got) != 0 {
		t.Fatalf("changes before the watermark passed the boundary: %+v", got)
	}
	feed(t, p, []rec{buy("OTHER", 65*time.Second, 1)})
	got := p.TakeChanges(nil)
	if len(got) != 1 {
		t.Fatalf("want one change at the 60 s boundary, got %+v", got)
	}
	c := got[0]
	if c.SKU != "EARBUDS-01" || c.Price != 13540 || !c.At.Equal(t0.Add(time.Minute)) || c.BasePrice != 12900 {
		t.Errorf("change = %+v", c)
	}
	r := c.Reason
	if r.RuleID != "default" || r.PreviousPrice != 12900 || r.ClippedBy != ClippedByStep || r.UnitsInWindow != 20 || r.DemandRatio <= 1 {
		t.Errorf("reason = %+v", r)
	}
	// Cooldown is 60 s and the next boundary is 60 s later: the walk goes on.
	feed(t, p, []rec{buy("OTHER", 125*time.Second, 1)})
	if got := p.TakeChanges(nil); len(got) != 1 || got[0].Price != 14210 || got[0].Reason.PreviousPrice != 13540 {
		t.Errorf("second step = %+v, want 13540 → 14210 (+5%%, rounded down)", got)
	}
}

func TestPricerOutOfOrderAndLate(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	addProduct(t, p, "A", "audio")
	late := feed(t, p, []rec{
		buy("A", 130*time.Second, 1),
		buy("A", 126*time.Second, 2), // 4 s out of order: same slide 2
		buy("A", 119*time.Second, 4), // 11 s behind: slide 1, within lateness
		buy("A", 200*time.Second, 1), // watermark 195 s
		buy("A", 70*time.Second, 8),  // 125 s behind the watermark: late
		buy("A", 136*time.Second, 16),
	})
	if len(late) != 1 || late[0].n != 8 || p.Late() != 1 {
		t.Fatalf("late = %+v (counter %d), want the 70 s record only", late, p.Late())
	}
	s, _ := p.SKU("A")
	for slide, want := range map[time.Duration]uint32{time.Minute: 4, 2 * time.Minute: 19, 3 * time.Minute: 1} {
		if got := s.Window.Units(t0.Add(slide).UnixMilli() / 60_000); got != want {
			t.Errorf("slide at %v holds %d, want %d", slide, got, want)
		}
	}
}

func TestPricerRefusesBadInput(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	for _, r := range []rec{
		buy("", time.Second, 1),
		buy("A", time.Second, 0),
		buy("A", time.Second, -3),
		{kind: kindPurchase, sku: "A", at: time.UnixMilli(0), n: 1},
		{kind: kindPurchase, sku: "A", at: wall.Add(2 * time.Hour), n: 1}, // a broken clock
		{kind: kindStock, sku: "A", at: wall.Add(2 * time.Hour), n: 1},
	} {
		var err error
		if r.kind == kindPurchase {
			_, err = p.Purchase(r.sku, r.at, r.n, wall)
		} else {
			_, err = p.Inventory(r.sku, r.at, r.n, "x", wall)
		}
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: err = %v, want ErrInvalidInput", r, err)
		}
	}
	if _, ok := p.Watermark(); ok {
		t.Error("refused records moved the watermark")
	}
	if err := p.Product("A", "audio", 100, 200, 300); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("base below floor accepted: %v", err)
	}
}

func TestPricerIdlePartitionClosesItsWindow(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	addProduct(t, p, "A", "audio")
	for i := range 30 {
		if _, err := p.Purchase("A", t0.Add(time.Duration(i)*time.Second), 1, wall); err != nil {
			t.Fatal(err)
		}
	}
	p.Tick(wall.Add(29 * time.Second))
	if got := p.TakeChanges(nil); len(got) != 0 {
		t.Fatalf("changed before the idle timeout: %+v", got)
	}
	// 36 s idle: watermark = 29 s − 5 s + 36 s = 60 s, the first boundary.
	p.Tick(wall.Add(36 * time.Second))
	if got := p.TakeChanges(nil); len(got) != 1 || !got[0].At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("idle partition did not close its window: %+v", got)
	}
}

func TestPricerKillSwitchFreezesAndReleases(t *testing.T) {
	t.Parallel()
	frozen := heuristicRule()
	frozen.Category, frozen.ID, frozen.Frozen = "audio", "audio@2", true
	p := newTestPricer(t, frozen)
	addProduct(t, p, "A", "audio")
	addProduct(t, p, "B", "books")
	var recs []rec
	for i := range 40 {
		recs = append(recs, buy("A", time.Duration(i)*time.Second, 1), buy("B", time.Duration(i)*time.Second, 1))
	}
	feed(t, p, append(recs, buy("A", 70*time.Second, 1)))
	got := p.TakeChanges(nil)
	if len(got) != 1 || got[0].SKU != "B" {
		t.Fatalf("with audio frozen want only B to change, got %+v", got)
	}
	released := frozen
	released.Frozen, released.ID = false, "audio@3"
	if err := p.rules.Set(released); err != nil {
		t.Fatal(err)
	}
	feed(t, p, []rec{buy("A", 71*time.Second, 5), buy("A", 130*time.Second, 1)})
	got = p.TakeChanges(nil)
	if len(got) != 2 || got[0].SKU != "A" || got[0].Reason.RuleID != "audio@3" {
		t.Fatalf("after release want A to move under audio@3 (and B to walk on), got %+v", got)
	}
}

func TestPricerStockTakesEffectAtItsBoundary(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	addProduct(t, p, "A", "audio")
	feed(t, p, []rec{
		buy("A", 10*time.Second, 1),
		{kind: kindStock, sku: "A", at: t0.Add(20 * time.Second), n: 0, id: "01"}, // sold out before the 60 s boundary
		{kind: kindStock, sku: "A", at: t0.Add(62 * time.Second), n: 500, id: "02"},
		buy("A", 66*time.Second, 1),
	})
	got := p.TakeChanges(nil)
	if len(got) != 1 || got[0].Reason.Available == nil || *got[0].Reason.Available != 0 || got[0].Price <= 12900 {
		t.Fatalf("boundary 60 s must see the sold-out level, not the later restock: %+v", got)
	}
	s, _ := p.SKU("A")
	if s.Available != 0 {
		t.Errorf("restock at 62 s applied before the watermark passed it")
	}
}

// stream builds a random purchase and stock stream over skus, in event-time
// order, spanning about span.
func stream(rng *rand.Rand, skus []string, n int, span time.Duration) []rec {
	recs := make([]rec, 0, n)
	step := span / time.Duration(n)
	at := t0
	for i := range n {
		at = at.Add(time.Duration(rng.Int64N(int64(2 * step))))
		// Hot SKUs sell in bursts; some SKUs get stock updates.
		sku := skus[min(len(skus)-1, int(rng.ExpFloat64()*float64(len(skus))/4))]
		if rng.IntN(20) == 0 {
			recs = append(recs, rec{kind: kindStock, sku: sku, at: at, n: rng.Int64N(300), id: fmt.Sprintf("%08d", i)})
			continue
		}
		recs = append(recs, rec{kind: kindPurchase, sku: sku, at: at, n: 1 + rng.Int64N(3)})
	}
	return recs
}

// jitter reorders recs as a network would within the out-of-orderness: each
// record is delayed by less than ooo, so none arrives more than ooo behind
// the newest one seen.
func jitter(rng *rand.Rand, recs []rec, ooo time.Duration) []rec {
	type keyed struct {
		r   rec
		key time.Time
	}
	ks := make([]keyed, len(recs))
	for i, r := range recs {
		ks[i] = keyed{r, r.at.Add(time.Duration(rng.Int64N(int64(ooo))))}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return a.key.Compare(b.key) })
	out := make([]rec, len(recs))
	for i, k := range ks {
		out[i] = k.r
	}
	return out
}

func skuNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SKU-%04d", i)
	}
	return out
}

// runWith feeds recs to a fresh pricer under fallback, then lets it go
// idle so every window closes, and returns the changes and the final states.
func runWith(t testing.TB, fallback Rule, skus []string, recs []rec) ([]PriceChange, map[string]SKUState) {
	t.Helper()
	p := newTestPricerWith(t, fallback)
	for i, sku := range skus {
		cat := []string{"audio", "books", "toys"}[i%3]
		if err := p.Product(sku, cat, 10000+int64(i%7)*1000, 9000, 16000+int64(i%5)*100); err != nil {
			t.Fatal(err)
		}
	}
	if late := feed(t, p, recs); len(late) != 0 {
		t.Fatalf("%d records late; the stream must stay within the out-of-orderness", len(late))
	}
	for i := 1; i <= 30; i++ {
		p.Tick(wall.Add(time.Duration(i) * time.Minute))
	}
	states := map[string]SKUState{}
	p.Each(func(s *SKUState) { c := *s; c.flags &^= flagListed | flagTouched; states[s.SKU] = c })
	return perSKU(p.TakeChanges(nil)), states
}

// perSKU orders changes by SKU, keeping each SKU's own sequence: the order
// Kafka promises for a keyed topic.
func perSKU(changes []PriceChange) []PriceChange {
	slices.SortStableFunc(changes, func(a, b PriceChange) int { return strings.Compare(a.SKU, b.SKU) })
	return changes
}

func TestDeterministicAcrossArrivalOrders(t *testing.T) {
	t.Parallel()
	for _, fallback := range []Rule{heuristicRule(), DefaultRule()} {
		t.Run(fallback.Policy, func(t *testing.T) {
			t.Parallel()
			deterministicAcrossArrivalOrders(t, fallback)
		})
	}
}

func deterministicAcrossArrivalOrders(t *testing.T, fallback Rule) {
	rng := rand.New(rand.NewPCG(5, 5))
	skus := skuNames(40)
	recs := stream(rng, skus, 20_000, 90*time.Minute)
	want, wantStates := runWith(t, fallback, skus, recs)
	if len(want) < 50 {
		t.Fatalf("only %d changes; the stream should move prices", len(want))
	}
	for seed := range uint64(3) {
		shuffled := jitter(rand.New(rand.NewPCG(seed, 9)), recs, DefaultConfig().OutOfOrderness)
		if slices.EqualFunc(shuffled, recs, func(a, b rec) bool { return a == b }) {
			t.Fatal("jitter did not reorder anything")
		}
		got, gotStates := runWith(t, fallback, skus, shuffled)
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("seed %d: change %d differs:\n got %+v\nwant %+v", seed, i, got[i], want[i])
				}
			}
			t.Fatalf("seed %d: %d changes, want %d", seed, len(got), len(want))
		}
		if !reflect.DeepEqual(gotStates, wantStates) {
			t.Fatalf("seed %d: final states differ", seed)
		}
	}
}

// checkBounds asserts the invariant every emitted price keeps.
func checkBounds(t testing.TB, changes []PriceChange, floor, ceiling map[string]int64, step float64) {
	t.Helper()
	for _, c := range changes {
		lo, hi := floor[c.SKU], ceiling[c.SKU]
		if c.Price < lo || c.Price > hi {
			t.Fatalf("%s price %d outside [%d, %d]: %+v", c.SKU, c.Price, lo, hi, c)
		}
		prev := float64(c.Reason.PreviousPrice)
		inBounds := c.Reason.PreviousPrice >= lo && c.Reason.PreviousPrice <= hi
		if inBounds && (float64(c.Price) > prev*(1+step)+1e-9 || float64(c.Price) < prev*(1-step)-1e-9) {
			t.Fatalf("%s moved %d → %d, more than the %.0f%% step: %+v", c.SKU, c.Reason.PreviousPrice, c.Price, step*100, c)
		}
		if c.Price == c.Reason.PreviousPrice {
			t.Fatalf("%s emitted a non-change", c.SKU)
		}
	}
}

func TestPropertyPricesStayInBoundsAndSteps(t *testing.T) {
	t.Parallel()
	total := 0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 77))
		rule := heuristicRule()
		rule.Category = "audio"
		rule.DemandWeight = rng.Float64() * 0.5
		rule.ScarcityWeight = rng.Float64()
		rule.StepLimit = 0.001 + rng.Float64()*0.3
		rule.PriceUnit = []int64{1, 10, 100, 1000}[rng.IntN(4)]
		rule.CooldownSeconds = rng.Int64N(300)
		p := newTestPricer(t, rule)
		skus := skuNames(10)
		floor, ceiling := map[string]int64{}, map[string]int64{}
		for _, sku := range skus {
			lo := 1 + rng.Int64N(20000)
			base := lo + rng.Int64N(5000)
			hi := base + rng.Int64N(5000)
			floor[sku], ceiling[sku] = lo, hi
			if err := p.Product(sku, "audio", base, lo, hi); err != nil {
				t.Fatal(err)
			}
		}
		feed(t, p, jitter(rng, stream(rng, skus, 3000, time.Duration(1+rng.IntN(120))*time.Minute), 5*time.Second))
		p.Tick(wall.Add(time.Hour))
		changes := p.TakeChanges(nil)
		total += len(changes)
		checkBounds(t, changes, floor, ceiling, rule.StepLimit)
	}
	if total < 100 {
		t.Fatalf("only %d changes in 20 streams: the property is barely exercised", total)
	}
}

// A SKU's stock records within one slide wait as one, in the SKU's own
// state: the partition's state record does not grow with the inventory event
// rate or the number of SKUs, and the level the boundary applies is still
// the last record in (time, id) order, whatever the order of arrival.
func TestPricerMergesWaitingStockPerSlide(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	addProduct(t, p, "A", "audio")
	feed(t, p, []rec{buy("A", 10*time.Second, 1)})
	// The last record of the slide (50 s, id "z") arrives first.
	recs := []rec{{kind: kindStock, sku: "A", at: t0.Add(50 * time.Second), n: 7, id: "z"}}
	for i := range 20000 {
		at := t0.Add(20*time.Second + time.Duration(i)*time.Millisecond)
		recs = append(recs, rec{kind: kindStock, sku: "A", at: at, n: int64(1000 + i), id: fmt.Sprintf("%05d", i)})
	}
	recs = append(recs, rec{kind: kindStock, sku: "A", at: t0.Add(50 * time.Second), n: 9, id: "a"}) // same time, smaller id
	for i := range 5000 {
		recs = append(recs, rec{kind: kindStock, sku: fmt.Sprintf("S-%04d", i), at: t0.Add(30 * time.Second), n: 1, id: "x"})
	}
	feed(t, p, recs)
	if n := len(p.skus["A"].waiting); n != 1 {
		t.Fatalf("%d waiting stock records for one SKU in one slide, want 1", n)
	}
	if n := len(p.AppendPartitionState(nil)); n > 40 {
		t.Errorf("partition state is %d bytes with 5,001 SKUs waiting", n)
	}
	if b, _ := p.skus["A"].AppendBinary(nil); len(b) > 120 {
		t.Errorf("A's state is %d bytes", len(b))
	}
	feed(t, p, []rec{buy("A", 66*time.Second, 1)}) // the watermark passes the 60 s boundary
	if s, _ := p.SKU("A"); s.Available != 7 {
		t.Fatalf("available after the boundary = %d, want 7 (the 50 s record with the largest id)", s.Available)
	}
	if len(p.waiting) != 0 || len(p.skus["A"].waiting) != 0 || p.skus["A"].flags&flagWaiting != 0 {
		t.Fatalf("records still waiting after the boundary passed them")
	}
}

// A partition state written when waiting stock records lived there (version
// 1) restores into the SKUs' states and prices the same.
func TestPricerRestoresPartitionStateWithPendingStock(t *testing.T) {
	t.Parallel()
	q := newTestPricer(t)
	addProduct(t, q, "A", "audio")
	feed(t, q, []rec{buy("A", 10*time.Second, 1)})
	v2 := q.AppendPartitionState(nil)
	// Version 1: the same fields, then the pending records.
	old := append([]byte{partitionVersionPending}, v2[1:]...)
	old = binary.AppendUvarint(old, 3)
	for _, w := range []struct {
		sku   string
		at    time.Duration
		avail int64
		id    string
	}{{"A", 50 * time.Second, 7, "z"}, {"A", 30 * time.Second, 3, "b"}, {"B", 40 * time.Second, 4, "c"}} {
		old = appendString(old, w.sku)
		old = binary.AppendVarint(old, t0.Add(w.at).UnixMilli())
		old = binary.AppendVarint(old, w.avail)
		old = appendString(old, w.id)
	}
	r := newTestPricer(t)
	addProduct(t, r, "A", "audio")
	if err := r.RestorePartitionState(old, wall.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if got := r.AppendPartitionState(nil); !bytes.Equal(got[1:], v2[1:]) || got[0] != partitionVersion {
		t.Fatalf("restored partition state re-encodes to %x, want %x", got, v2)
	}
	feed(t, r, []rec{{kind: kindStock, sku: "A", at: t0.Add(40 * time.Second), n: 5, id: "c"}, buy("A", 66*time.Second, 1)})
	if a, _ := r.SKU("A"); a.Available != 7 {
		t.Fatalf("A available = %d, want 7", a.Available)
	}
	if b, _ := r.SKU("B"); b.Available != 4 {
		t.Fatalf("B available = %d, want 4", b.Available)
	}
}
