package sim

import (
	"slices"
	"time"
)

// PricePoint says that from At on a SKU sold at Price.
type PricePoint struct {
	At    time.Time `json:"at"`
	Price int64     `json:"price"`
}

// Delivery is stock that arrived for a SKU at At (a purchase order received).
type Delivery struct {
	At    time.Time `json:"at"`
	Units int64     `json:"units"`
}

// Expectation is what the model expects one SKU, or a catalogue, to sell
// over a period: expected values, not draws.
type Expectation struct {
	// Demand is the net orders the model expects at the prices, stock or
	// not; Units those that find stock, Lost those that do not.
	Demand, Units, Lost float64
	// Revenue and Margin (price − unit cost) of Units, in won.
	Revenue, Margin float64
}

func (e *Expectation) add(o Expectation) {
	e.Demand += o.Demand
	e.Units += o.Units
	e.Lost += o.Lost
	e.Revenue += o.Revenue
	e.Margin += o.Margin
}

// NetShare is the share of the model's orders that end as sales: the rest
// pay with a declining card (their stock is released) or cancel after
// paying (their stock comes back).
func (m Model) NetShare() float64 {
	return (1 - m.DeclineRate) * (1 - m.CancelRate)
}

// Expect integrates the model for p over [from, to) along path (the price
// from each point on; list price before the first), selling from stock
// that starts at stock and rises by each delivery at its time. Demand is a
// fluid: it flows at NetShare times the model's rate, and while the stock
// is empty what flows is lost. The rate is piecewise constant (it changes
// only with the price and the hour), so the integral is exact.
func (m Model) Expect(p Product, from, to time.Time, path []PricePoint, stock int64, deliveries []Delivery) Expectation {
	var e Expectation
	if !from.Before(to) {
		return e
	}
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	path = slices.SortedStableFunc(slices.Values(path), func(a, b PricePoint) int { return a.At.Compare(b.At) })
	// Stock already on hand at from is in stock; later deliveries arrive on time.
	deliveries = slices.DeleteFunc(slices.Clone(deliveries), func(d Delivery) bool { return d.At.Before(from) || !d.At.Before(to) })
	slices.SortStableFunc(deliveries, func(a, b Delivery) int { return a.At.Compare(b.At) })
	share := m.NetShare()
	cost := float64(p.Reorder.UnitCost)
	left := float64(max(stock, 0))
	price := p.ListPrice
	pi, di := 0, 0
	for t := from; t.Before(to); {
		for ; pi < len(path) && !path[pi].At.After(t); pi++ {
			price = path[pi].Price
		}
		for ; di < len(deliveries) && !deliveries[di].At.After(t); di++ {
			left += float64(max(deliveries[di].Units, 0))
		}
		// The segment ends at the next change of price, stock or hour.
		h := t.In(loc)
		next := time.Date(h.Year(), h.Month(), h.Day(), h.Hour()+1, 0, 0, 0, loc)
		if !next.After(t) { // a daylight-saving gap may normalise oddly
			next = t.Add(time.Hour)
		}
		end := earlier(to, next)
		if pi < len(path) {
			end = earlier(end, path[pi].At)
		}
		if di < len(deliveries) {
			end = earlier(end, deliveries[di].At)
		}
		demand := share * m.Rate(p, price, t) * end.Sub(t).Minutes()
		sold := min(demand, left)
		left -= sold
		e.Demand += demand
		e.Units += sold
		e.Lost += demand - sold
		e.Revenue += sold * float64(price)
		e.Margin += sold * (float64(price) - cost)
		t = end
	}
	return e
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// RunExpectations is the model's view of a run: per SKU and in total, what
// it expected at the prices the run charged and at static list prices,
// over the run's own time, from the stock on hand at its start and the
// deliveries that came during it.
type RunExpectations struct {
	Charged, List Expectation
	PerSKU        map[string]SKUExpectations
}

// SKUExpectations is one SKU's share of RunExpectations.
type SKUExpectations struct {
	Charged, List Expectation
}

// ExpectRun computes RunExpectations for the run s, whose SKUs received
// deliveries (by SKU).
func (m Model) ExpectRun(s Stats, deliveries map[string][]Delivery) RunExpectations {
	out := RunExpectations{PerSKU: make(map[string]SKUExpectations, len(m.Products))}
	from, to := s.Start, s.Start.Add(s.Elapsed)
	for _, p := range m.Products {
		k, ok := s.PerSKU[p.SKU]
		if !ok {
			continue
		}
		list := []PricePoint{{At: from, Price: p.ListPrice}}
		e := SKUExpectations{
			Charged: m.Expect(p, from, to, k.Prices, k.StartStock, deliveries[p.SKU]),
			List:    m.Expect(p, from, to, list, k.StartStock, deliveries[p.SKU]),
		}
		out.PerSKU[p.SKU] = e
		out.Charged.add(e.Charged)
		out.List.add(e.List)
	}
	return out
}
