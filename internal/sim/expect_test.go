package sim

import (
	"math"
	"testing"
	"time"
)

// flat is a model anyone can check by hand: demand does not move with the
// hour, in UTC, and every order is kept.
func flat(p Product) Model {
	var h [24]float64
	for i := range h {
		h[i] = 1
	}
	return Model{Products: []Product{p}, Hourly: h, Location: time.UTC}
}

func TestExpectIntegratesTheModelUnderStock(t *testing.T) {
	t.Parallel()
	// 2 orders a minute at the list price of 1000, elasticity 1: at 2000
	// the rate halves to 1 a minute. Each unit costs 400.
	p := Product{SKU: "A", ListPrice: 1000, BaseRate: 2, Elasticity: 1, Reorder: Reorder{UnitCost: 400}}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }
	doubled := []PricePoint{{At: t0, Price: 1000}, {At: at(5), Price: 2000}}
	peaky := flat(p)
	peaky.Hourly[10], peaky.Hourly[11] = 1, 3
	halfKept := flat(p)
	halfKept.DeclineRate, halfKept.CancelRate = 0.5, 0.2
	for _, tc := range []struct {
		name       string
		m          Model
		from, to   time.Time
		path       []PricePoint
		stock      int64
		deliveries []Delivery
		want       Expectation
	}{
		{"list price, plenty of stock", flat(p), t0, at(10), nil, 100, nil,
			Expectation{Demand: 20, Units: 20, Revenue: 20000, Margin: 12000}},
		// 5 min × 2 at 1000, then 5 min × 1 at 2000.
		{"price doubled halfway", flat(p), t0, at(10), doubled, 100, nil,
			Expectation{Demand: 15, Units: 15, Revenue: 10*1000 + 5*2000, Margin: 10*600 + 5*1600}},
		// 12 units run out at minute 6; minutes 6-8 lose 4; 10 arrive at 8
		// and minutes 8-10 sell 4 of them.
		{"stock-out, then a delivery", flat(p), t0, at(10), nil, 12, []Delivery{{At: at(8), Units: 10}},
			Expectation{Demand: 20, Units: 16, Lost: 4, Revenue: 16000, Margin: 16 * 600}},
		// At 2000 after minute 5: 10 sold by then, 2 left last until 7,
		// minute 7-8 is lost, 8-10 sells 2.
		{"doubled price, stock-out, delivery", flat(p), t0, at(10), doubled, 12, []Delivery{{At: at(8), Units: 10}},
			Expectation{Demand: 15, Units: 14, Lost: 1, Revenue: 10*1000 + 4*2000, Margin: 10*600 + 4*1600}},
		// A delivery before the period is already in the stock; one after
		// it never counts; a price set before the period holds from its start.
		{"points outside the period", flat(p), at(10), at(20), []PricePoint{{At: t0, Price: 2000}}, 3,
			[]Delivery{{At: t0, Units: 50}, {At: at(20), Units: 50}},
			Expectation{Demand: 10, Units: 3, Lost: 7, Revenue: 6000, Margin: 3 * 1600}},
		// 10:50-11:10 crosses into an hour with three times the demand.
		{"across an hour", peaky, at(50), at(70), nil, 1000, nil,
			Expectation{Demand: 20 + 60, Units: 80, Revenue: 80000, Margin: 80 * 600}},
		// Half pay with a declining card, a fifth of the rest cancel.
		{"declines and cancellations", halfKept, t0, at(10), nil, 100, nil,
			Expectation{Demand: 8, Units: 8, Revenue: 8000, Margin: 8 * 600}},
		{"empty period", flat(p), at(10), at(10), nil, 100, nil, Expectation{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.m.Expect(p, tc.from, tc.to, tc.path, tc.stock, tc.deliveries)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"demand", got.Demand, tc.want.Demand}, {"units", got.Units, tc.want.Units}, {"lost", got.Lost, tc.want.Lost},
				{"revenue", got.Revenue, tc.want.Revenue}, {"margin", got.Margin, tc.want.Margin},
			} {
				if math.Abs(f.got-f.want) > 1e-6 {
					t.Errorf("%s %.6f, want %.6f", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestExpectRunComparesChargedWithListPrices(t *testing.T) {
	t.Parallel()
	a := Product{SKU: "A", ListPrice: 1000, BaseRate: 2, Elasticity: 1, Reorder: Reorder{UnitCost: 400}}
	b := Product{SKU: "B", ListPrice: 500, BaseRate: 1, Elasticity: 2, Reorder: Reorder{UnitCost: 100}}
	m := flat(a)
	m.Products = []Product{a, b}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := Stats{Start: t0, Elapsed: 10 * time.Minute, PerSKU: map[string]SKUStats{
		"A": {StartStock: 12, Prices: []PricePoint{{At: t0, Price: 1000}, {At: t0.Add(5 * time.Minute), Price: 2000}}},
		"B": {StartStock: 100, Prices: []PricePoint{{At: t0, Price: 500}}},
	}}
	got := m.ExpectRun(s, map[string][]Delivery{"A": {{At: t0.Add(8 * time.Minute), Units: 10}}})
	// A as in the table above; B sells 10 at list either way.
	if got.Charged.Units != 14+10 || got.List.Units != 16+10 ||
		got.Charged.Margin != 10*600+4*1600+10*400 || got.List.Margin != 16*600+10*400 {
		t.Fatalf("charged %+v, list %+v", got.Charged, got.List)
	}
	if got.PerSKU["B"].Charged != got.PerSKU["B"].List || got.PerSKU["A"].Charged.Revenue != 18000 {
		t.Fatalf("per SKU %+v", got.PerSKU)
	}
}
