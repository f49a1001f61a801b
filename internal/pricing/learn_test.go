package pricing

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// learnRule is the learn policy with the given objective, for category cat.
func learnRule(cat string) Rule {
	r := DefaultRule()
	r.Category, r.ID = cat, cat+"@learn"
	return r
}

// market simulates shoppers of one SKU with constant elasticity e against
// the pricer's live price: Poisson arrivals at rate(p) = base·(p/list)^−e
// per hour, one purchase each, stock replenished so it never binds.
type market struct {
	p         *Pricer
	sku       string
	list      int64
	perHour   float64
	e         float64
	rng       *rand.Rand
	t         time.Time
	units     int64
	prices    map[int64]int64 // units sold per price
	revenueAt func(int64) float64
}

func (m *market) trade(t *testing.T, d time.Duration) {
	t.Helper()
	end := m.t.Add(d)
	// Shoppers are drawn by thinning: candidates at the rate of the lowest
	// price, each buying with the probability the price it meets gives, so
	// every sale is made at the price live at its own time.
	s, _ := m.p.SKU(m.sku)
	top := m.perHour * math.Pow(float64(s.PriceFloor)/float64(m.list), -m.e)
	for m.t.Before(end) {
		m.t = m.t.Add(time.Duration(m.rng.ExpFloat64() / top * float64(time.Hour)))
		m.p.Tick(m.t)
		m.p.TakeChanges(nil)
		s, _ := m.p.SKU(m.sku)
		price := s.CurrentPrice()
		if m.rng.Float64() > m.perHour*math.Pow(float64(price)/float64(m.list), -m.e)/top {
			continue
		}
		if _, err := m.p.Purchase(m.sku, m.t, 1, m.t); err != nil {
			t.Fatal(err)
		}
		m.units++
		m.prices[price]++
		if _, err := m.p.InventoryLevels(m.sku, m.t, 1_000_000, 0, "", m.t); err != nil {
			t.Fatal(err)
		}
		m.p.TakeChanges(nil)
		m.p.TakeTouched(func(*SKUState) {})
	}
	m.p.Tick(m.t.Add(time.Hour))
}

func newMarket(t *testing.T, rule Rule, e, perHour float64, cost int64) *market {
	t.Helper()
	p := newTestPricerWith(t, rule)
	if err := p.Product("X", rule.Category, 10000, 7500, 13000); err != nil {
		t.Fatal(err)
	}
	if err := p.ProductCost("X", cost, 3*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return &market{p: p, sku: "X", list: 10000, perHour: perHour, e: e, rng: rand.New(rand.NewPCG(3, 4)), t: t0, prices: map[int64]int64{}}
}

// TestLearnRecoversElasticity: after 2,000 to 4,000 sales at prices it chose
// itself (10 days at 16 units an hour at the list price), the learn policy's estimate of a
// constant-elasticity SKU's elasticity is within ±0.2 of the truth.
func TestLearnRecoversElasticity(t *testing.T) {
	t.Parallel()
	for _, e := range []float64{1.3, 2.0, 2.8} {
		m := newMarket(t, DefaultRule(), e, 16, 5000)
		m.trade(t, 10*24*time.Hour)
		s, _ := m.p.SKU("X")
		got := -float64(s.Learn.B)
		t.Logf("elasticity %.1f: estimated %.3f ± %.3f after %d sales at %d prices", e, got, s.Learn.SdB, m.units, len(m.prices))
		if m.units < 2000 || len(m.prices) < 3 {
			t.Fatalf("elasticity %.1f: %d sales at %d prices: the policy did not explore", e, m.units, len(m.prices))
		}
		if math.Abs(got-e) > 0.2 {
			t.Errorf("elasticity %.1f: estimated %.3f, want within ±0.2", e, got)
		}
	}
}

// TestLearnColdStartHoldsBasePrice: a new SKU keeps its base price until it
// has MinUnits of evidence, and steady demand at a SKU whose best price is
// its base price never ratchets it to the ceiling (the rule's failure).
func TestLearnColdStartHoldsBasePrice(t *testing.T) {
	t.Parallel()
	rule := learnRule("audio")
	p := newTestPricerWith(t, rule)
	if err := p.Product("N", "audio", 10000, 7500, 13000); err != nil {
		t.Fatal(err)
	}
	// Four sales, a minute apart, then a quiet day: below MinUnits (5).
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if _, err := p.Purchase("N", at, 1, at); err != nil {
			t.Fatal(err)
		}
	}
	for h := 1; h <= 24; h++ {
		at := t0.Add(time.Duration(h) * time.Hour)
		if _, err := p.Inventory("N", at, 50, "", at); err != nil {
			t.Fatal(err)
		}
	}
	if ch := p.TakeChanges(nil); len(ch) != 0 {
		t.Fatalf("a SKU with 4 sales moved its price: %+v", ch[0])
	}

	// Steady demand with elasticity 2 and cost half the list price: the
	// best price is the list price. Over two weeks the price stays near
	// it and never sits at the ceiling.
	m := newMarket(t, rule, 2, 8, 5000)
	m.trade(t, 14*24*time.Hour)
	var atCeiling, total int64
	var sum float64
	for price, n := range m.prices {
		total += n
		sum += float64(price * n)
		if price >= 13000 {
			atCeiling += n
		}
	}
	s, _ := m.p.SKU("X")
	mean := sum / float64(total)
	t.Logf("mean price paid %.0f; %d of %d sales at the ceiling (exploration)", mean, atCeiling, total)
	if share := float64(atCeiling) / float64(total); share > 0.2 {
		t.Errorf("%.0f%% of sales at the ceiling under steady demand", 100*share)
	}
	if mean < 9000 || mean > 11500 {
		t.Errorf("mean price paid %.0f, want near the base price 10000", mean)
	}
	if cur := s.CurrentPrice(); cur < 8500 || cur > 11800 {
		t.Errorf("price after two weeks of steady demand = %d, want near the base price 10000", cur)
	}
}

// TestLearnPricesStayInBoundsAndSteps is the bounds property for learn over
// random rules, products, costs, stock and demand.
func TestLearnPricesStayInBoundsAndSteps(t *testing.T) {
	t.Parallel()
	total := 0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 78))
		rule := learnRule("audio")
		rule.StepLimit = 0.001 + rng.Float64()*0.3
		rule.PriceUnit = []int64{1, 10, 100, 1000}[rng.IntN(4)]
		rule.CooldownSeconds = rng.Int64N(300)
		rule.Learn.DecisionSeconds = 60 + rng.Int64N(1800)
		rule.Learn.MinUnits = rng.Int64N(10)
		rule.Objective = []string{ObjectiveMargin, ObjectiveRevenue}[rng.IntN(2)]
		p := newTestPricerWith(t, heuristicRule(), rule)
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
			if err := p.ProductCost(sku, rng.Int64N(hi+1), time.Duration(rng.Int64N(10*24))*time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		feed(t, p, jitter(rng, stream(rng, skus, 3000, time.Duration(1+rng.IntN(180))*time.Minute), 5*time.Second))
		p.Tick(wall.Add(time.Hour))
		changes := p.TakeChanges(nil)
		total += len(changes)
		checkBounds(t, changes, floor, ceiling, rule.StepLimit)
		for _, c := range changes {
			if c.Reason.Learn == nil {
				t.Fatalf("learn change without its reason: %+v", c)
			}
		}
	}
	if total < 100 {
		t.Fatalf("only %d changes in 20 streams: the property is barely exercised", total)
	}
}

// TestLearnStateRoundTrip: a SKU's learn state goes through the changelog
// encoding unchanged, stays under 1 KiB, and states before it still decode.
func TestLearnStateRoundTrip(t *testing.T) {
	t.Parallel()
	m := newMarket(t, DefaultRule(), 1.8, 10, 4000)
	m.trade(t, 3*24*time.Hour)
	s, _ := m.p.SKU("X")
	s.flags &^= flagTouched | flagWaiting // not part of the changelog
	if s.Learn == nil || s.Learn.SdB == 0 {
		t.Fatal("no learn state after three days of sales")
	}
	got, b := roundTrip(t, &s)
	if !reflect.DeepEqual(got, &s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got.Learn, s.Learn)
	}
	if len(b) >= 1024 {
		t.Errorf("learn state encodes to %d bytes, goal < 1 KiB", len(b))
	}
	t.Logf("learn state: %d bytes", len(b))
	old, err := sampleState().AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != stateVersion {
		t.Errorf("a state without learn data is written as version %d, want %d", old[0], stateVersion)
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := DecodeSKUState(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("DecodeSKUState(truncated or padded) = %v, want ErrCorruptState", err)
		}
	}
}

// FuzzDecodeLearnState: version 3 states (learn evidence, costs, orders)
// never panic the decoder, and whatever it accepts re-encodes to bytes that
// decode to the same state.
func FuzzDecodeLearnState(f *testing.F) {
	s := sampleState()
	s.UnitCost, s.LeadTimeMs, s.OnOrder, s.OrderedAt = 6400, 3*86_400_000, 120, 1_800_000_000_000
	s.Learn = &LearnState{Next: 29_000_010, Decide: 1_800_000_900_000, Target: 13000, Seen: 812,
		A: 2.1, B: -1.7, C: 0.4, SdB: 0.21, PoolW: 20_000, PoolWB: -34_000}
	s.Learn.Units[7], s.Learn.Exposure[7] = 310, 41.5
	s.Learn.Units[9], s.Learn.Exposure[9] = 88, 19.25
	b, err := s.AppendBinary(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	s.waiting = []stockUpdate{{At: 1_800_000_001_000, Available: 40, OnOrder: -1, ID: "e1"}, {At: 1_800_000_061_000, Available: 39, OnOrder: 120, ID: "e2"}}
	if b, err = s.AppendBinary(nil); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSKUState(data)
		if err != nil {
			return
		}
		again, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		s2, err := DecodeSKUState(again)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", s, s2)
		}
	})
}
