package replenishment_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mercato-platform/mercato/internal/replenishment"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Reference quantiles of the standard normal distribution, as printed in
// standard tables and computed by scipy.stats.norm.ppf.
func TestInverseNormal(t *testing.T) {
	t.Parallel()
	tests := []struct{ p, z float64 }{
		{0.5, 0},
		{0.8413447460685429, 1},
		{0.9, 1.2815515655446004},
		{0.95, 1.6448536269514722},
		{0.975, 1.959963984540054},
		{0.99, 2.3263478740408408},
		{0.999, 3.090232306167813},
		{0.05, -1.6448536269514729},
		{1e-10, -6.361340902404056},
	}
	for _, tt := range tests {
		z, err := replenishment.InverseNormal(tt.p)
		if err != nil || !near(z, tt.z, 1e-9) {
			t.Errorf("InverseNormal(%v) = %v, %v; want %v", tt.p, z, err, tt.z)
		}
	}
	for _, p := range []float64{0, 1, -0.1, 1.5, math.NaN()} {
		if _, err := replenishment.InverseNormal(p); err == nil {
			t.Errorf("InverseNormal(%v) accepted", p)
		}
	}
}

// Hand-computed: d=10/day, σ=3, L=4 days, z(95 %)=1.6448536:
// ROP = 10·4 + 1.6448536·3·√4 = 40 + 9.8691218 = 49.8691218.
// D = 3650/year, S = 50,000, H = 7,000 × 0.25 = 1,750:
// EOQ = √(2·3650·50000/1750) = √208571.43 = 456.6962.
func TestReorderPointAndEOQ(t *testing.T) {
	t.Parallel()
	if got := replenishment.ReorderPoint(10, 3, 4, 1.6448536269514722); !near(got, 49.86912176170883, 1e-9) {
		t.Errorf("ROP = %v", got)
	}
	if got := replenishment.EOQ(3650, 50000, 1750); !near(got, 456.69621037559375, 1e-9) {
		t.Errorf("EOQ = %v", got)
	}
	if got := replenishment.EOQ(0, 50000, 1750); got != 0 {
		t.Errorf("EOQ without demand = %v", got)
	}
	tests := []struct {
		q         float64
		pack, moq int64
		want      int64
	}{
		{456.7, 0, 0, 457}, {456.7, 12, 0, 468}, {456.7, 12, 500, 504}, {456, 12, 0, 456}, {0.2, 0, 0, 1}, {3, 1, 10, 10},
	}
	for _, tt := range tests {
		if got := replenishment.RoundUpToPack(tt.q, tt.pack, tt.moq); got != tt.want {
			t.Errorf("RoundUpToPack(%v, %d, %d) = %d, want %d", tt.q, tt.pack, tt.moq, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	p := replenishment.Policy{LeadTimeDays: 4, ServiceLevel: 0.95, OrderCost: 50000, UnitCost: 7000, HoldingRate: 0.25}
	j, need, err := replenishment.Decide(40, 10, 3, p)
	if err != nil || !need || j.Quantity != 457 || !near(j.ROP, 49.869, 1e-3) || !near(j.EOQ, 456.696, 1e-3) || !near(j.Z, 1.6449, 1e-4) {
		t.Errorf("position 40: %+v need=%v err=%v", j, need, err)
	}
	if _, need, _ := replenishment.Decide(50, 10, 3, p); need {
		t.Error("position 50 above ROP 49.87 ordered")
	}
	// Far below ROP with a small EOQ: the order lifts the position above ROP.
	small := p
	small.OrderCost = 10
	j, _, _ = replenishment.Decide(-30, 10, 3, small)
	if float64(-30+j.Quantity) <= j.ROP {
		t.Errorf("order %d from position -30 does not clear ROP %v", j.Quantity, j.ROP)
	}
	// No costs configured: two weeks of demand.
	j, _, _ = replenishment.Decide(0, 10, 3, replenishment.Policy{LeadTimeDays: 4})
	if j.Quantity != 140 {
		t.Errorf("fallback quantity = %d, want 140", j.Quantity)
	}
}

func TestStatsBlendsPrior(t *testing.T) {
	t.Parallel()
	prior := replenishment.Prior{Daily: 5, StdDev: 2, MinDays: 7}
	if d, s := replenishment.Stats(nil, prior); d != 5 || s != 2 {
		t.Errorf("no history: %v %v", d, s)
	}
	d, s := replenishment.Stats([]float64{10, 12, 8, 10, 14, 6, 10}, prior)
	if d != 10 || !near(s, 2.581988897, 1e-6) {
		t.Errorf("7 days: %v %v", d, s)
	}
	if d, _ := replenishment.Stats([]float64{12, 12}, prior); !near(d, (2*12+5*5)/7.0, 1e-9) {
		t.Errorf("2 days blended: %v", d)
	}
}

// TestSimulated60Days runs a few SKUs with random daily demand for 60 days
// under the reorder policy (95 % service level): deliveries arrive after
// the lead time, demand that finds no stock is lost. The share of days on
// which all demand was served must be at least 93 %.
func TestSimulated60Days(t *testing.T) {
	t.Parallel()
	type sku struct {
		mean  float64
		lead  float64
		stock int64
	}
	skus := []sku{{mean: 20, lead: 3, stock: 80}, {mean: 5, lead: 7, stock: 40}, {mean: 50, lead: 2, stock: 150}, {mean: 1.5, lead: 5, stock: 10}}
	rng := rand.New(rand.NewPCG(2026, 11))
	prior := replenishment.Prior{Daily: 10, StdDev: 5, MinDays: 7}
	var daysInStock, days, served, demanded float64
	var stockSum float64
	for _, s := range skus {
		p := replenishment.Policy{LeadTimeDays: s.lead, ServiceLevel: 0.95, OrderCost: 30000, UnitCost: 5000, HoldingRate: 0.25}
		onHand := s.stock
		arrivals := map[int]int64{}
		var onOrder int64
		var history []float64
		for day := range 60 {
			if q := arrivals[day]; q > 0 {
				onHand += q
				onOrder -= q
			}
			want := poisson(rng, s.mean)
			sold := min(want, onHand)
			onHand -= sold
			days++
			if sold == want {
				daysInStock++
			}
			served += float64(sold)
			demanded += float64(want)
			stockSum += float64(onHand)
			history = append(history, float64(want))
			if len(history) > 28 {
				history = history[1:]
			}
			d, sigma := replenishment.Stats(history, prior)
			j, need, err := replenishment.Decide(onHand+onOrder, d, sigma, p)
			if err != nil {
				t.Fatal(err)
			}
			if need && onOrder == 0 {
				arrivals[day+int(math.Ceil(s.lead))] += j.Quantity
				onOrder += j.Quantity
			}
		}
	}
	inStock := daysInStock / days
	t.Logf("60 days x %d SKUs: in-stock days %.1f %%, fill rate %.1f %%, average stock %.1f units", len(skus), 100*inStock, 100*served/demanded, stockSum/days)
	if inStock < 0.93 {
		t.Errorf("in-stock rate %.3f below 0.93 at a 95 %% service level", inStock)
	}
}

// poisson draws from a Poisson distribution (Knuth; fine for small means,
// normal approximation above 30).
func poisson(rng *rand.Rand, mean float64) int64 {
	if mean > 30 {
		return max(0, int64(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), int64(0), 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
