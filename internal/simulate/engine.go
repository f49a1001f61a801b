package simulate

import (
	"cmp"
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mercato-platform/mercato/internal/replenishment"
)

// policy prices the catalogue during one run. The engine tells it of every
// sale and stock change, in time order, and asks it every minute.
type policy interface {
	// price is SKU i's current price.
	price(i int) int64
	// sold: one unit of i sold at t; stock and onOrder are after the sale.
	sold(i int, t int64, stock, onOrder int64)
	// stocked: i's stock changed otherwise (order placed or received).
	stocked(i int, t int64, stock, onOrder int64)
	// minute: time passed to t (a whole minute).
	minute(t int64)
	// changes is the number of price changes so far.
	changes() int64
}

// Metrics are one policy's totals over one run.
type Metrics struct {
	Revenue, Margin     float64
	Units, Lost         int64
	StockoutHours       float64
	PriceChanges        int64
	POsRaised, POsRecvd int64
	skuHours, skuDays   float64
}

// arrival is one shopper: when, for which SKU, and what they would pay.
type arrival struct {
	t   int64
	sku int32
	wtp float64
}

// po is an open purchase order.
type po struct {
	sku int
	eta int64
	qty int64
}

type poHeap []po

func (h poHeap) Len() int { return len(h) }
func (h poHeap) Less(i, j int) bool {
	return h[i].eta < h[j].eta || (h[i].eta == h[j].eta && h[i].sku < h[j].sku)
}
func (h poHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *poHeap) Push(x any)   { *h = append(*h, x.(po)) }
func (h *poHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// world is the inventory side of one run: stock, orders and the demand
// history replenishment decides from.
type world struct {
	t       *Truth
	stock   []int64
	onOrder []int64
	eta     []int64 // of the open order; 0 when none
	// daily holds each SKU's units sold per day, last 28 days (ring).
	daily   [][28]float64
	d, sd   []float64
	outFrom []int64 // when the SKU ran out; 0 when in stock
	orders  poHeap
	lead    []*rand.Rand
	m       Metrics
	day     int
}

func newWorld(t *Truth, seed uint64) *world {
	n := len(t.SKUs)
	w := &world{t: t, stock: make([]int64, n), onOrder: make([]int64, n), eta: make([]int64, n),
		daily: make([][28]float64, n), d: make([]float64, n), sd: make([]float64, n), outFrom: make([]int64, n),
		lead: make([]*rand.Rand, n)}
	for i := range t.SKUs {
		w.stock[i] = t.SKUs[i].initial
		w.d[i], w.sd[i] = t.SKUs[i].prior.Daily, t.SKUs[i].prior.StdDev
		w.lead[i] = rand.New(rand.NewPCG(seed^uint64(i)*0x9e3779b97f4a7c15, 0x6c656164))
	}
	return w
}

// replenish is the replenishment role's decision (ROP/EOQ from the SKU's
// demand history) for SKU i at t.
func (w *world) replenish(i int, t int64, pol policy) {
	if w.eta[i] != 0 {
		return // one open order per SKU
	}
	k := &w.t.SKUs[i]
	j, ok, err := replenishment.Decide(w.stock[i], w.d[i], w.sd[i], k.repl)
	if err != nil || !ok {
		return
	}
	w.eta[i] = t + k.leadTime(w.lead[i])
	w.onOrder[i] = j.Quantity
	heap.Push(&w.orders, po{sku: i, eta: w.eta[i], qty: j.Quantity})
	w.m.POsRaised++
	pol.stocked(i, t, w.stock[i], w.onOrder[i])
}

// receive books every order due by t.
func (w *world) receive(t int64, pol policy) {
	for len(w.orders) > 0 && w.orders[0].eta <= t {
		o := heap.Pop(&w.orders).(po)
		i := o.sku
		if w.stock[i] <= 0 && w.outFrom[i] != 0 {
			w.m.StockoutHours += float64(o.eta-w.outFrom[i]) / float64(hourMs)
			w.outFrom[i] = 0
		}
		w.stock[i] += o.qty
		w.onOrder[i], w.eta[i] = 0, 0
		w.m.POsRecvd++
		pol.stocked(i, o.eta, w.stock[i], 0)
		w.replenish(i, o.eta, pol)
	}
}

// newDay rolls the demand history: replenishment reads the last 28 days.
func (w *world) newDay(day int, t int64, pol policy) {
	w.day = day
	for i := range w.stock {
		w.daily[i][day%28] = 0
		n := min(day, 28)
		series := make([]float64, 0, 28)
		for k := day - n; k < day; k++ {
			series = append(series, w.daily[i][k%28])
		}
		w.d[i], w.sd[i] = replenishment.Stats(series, w.t.SKUs[i].prior)
		w.replenish(i, t, pol)
	}
}

// shopper is one arrival meeting the policy's price and the stock.
func (w *world) shopper(a arrival, pol policy) {
	i := int(a.sku)
	price := pol.price(i)
	if float64(price) > a.wtp {
		return
	}
	if w.stock[i] <= 0 {
		w.m.Lost++
		return
	}
	k := &w.t.SKUs[i]
	w.stock[i]--
	w.m.Units++
	w.m.Revenue += float64(price)
	w.m.Margin += float64(price - k.Cost)
	w.daily[i][w.day%28]++
	if w.stock[i] == 0 {
		w.outFrom[i] = a.t
	}
	pol.sold(i, a.t, w.stock[i], w.onOrder[i])
	w.replenish(i, a.t, pol)
}

// arrivals generates the shoppers of every SKU, hour by hour, from one
// stream per SKU and seed: every policy meets the same shoppers (common
// random numbers). A Poisson process with the hourly rates, drawn exactly
// by cumulative hazard.
type arrivals struct {
	t    *Truth
	rng  []*rand.Rand
	need []float64
	buf  []arrival
}

func newArrivals(t *Truth, seed uint64) *arrivals {
	a := &arrivals{t: t, rng: make([]*rand.Rand, len(t.SKUs)), need: make([]float64, len(t.SKUs))}
	for i := range t.SKUs {
		a.rng[i] = rand.New(rand.NewPCG(seed^uint64(i)*0x9e3779b97f4a7c15, 0x617272))
		a.need[i] = a.rng[i].ExpFloat64()
	}
	return a
}

// hour returns hour h's shoppers in time order (SKU order breaks ties).
func (a *arrivals) hour(h int) []arrival {
	a.buf = a.buf[:0]
	from := start + int64(h)*hourMs
	for i := range a.t.SKUs {
		k := &a.t.SKUs[i]
		lambda := float64(k.arrivals[h])
		if lambda <= 0 {
			continue
		}
		rng := a.rng[i]
		pos := 0.0
		for {
			left := (1 - pos) * lambda
			if a.need[i] >= left {
				a.need[i] -= left
				break
			}
			pos += a.need[i] / lambda
			a.need[i] = rng.ExpFloat64()
			t := from + min(int64(pos*float64(hourMs)), hourMs-1)
			a.buf = append(a.buf, arrival{t: t, sku: int32(i), wtp: k.wtp(rng)})
		}
	}
	slices.SortFunc(a.buf, func(x, y arrival) int {
		if c := cmp.Compare(x.t, y.t); c != 0 {
			return c
		}
		return cmp.Compare(x.sku, y.sku)
	})
	return a.buf
}

// run simulates one policy over one seed's truth.
func run(t *Truth, seed uint64, pol policy) Metrics {
	w := newWorld(t, seed)
	if o, ok := pol.(interface{ see(*world) }); ok {
		o.see(w)
	}
	arr := newArrivals(t, seed)
	n := len(t.SKUs)
	for i := range n {
		pol.stocked(i, start, w.stock[i], 0)
		w.replenish(i, start, pol)
	}
	nextMinute := start + 60_000
	for h := range t.Hours {
		if h%24 == 0 && h > 0 {
			w.newDay(h/24, start+int64(h)*hourMs, pol)
		}
		for _, a := range arr.hour(h) {
			for nextMinute <= a.t {
				w.receive(nextMinute, pol)
				pol.minute(nextMinute)
				nextMinute += 60_000
			}
			w.receive(a.t, pol)
			w.shopper(a, pol)
		}
		end := start + int64(h+1)*hourMs
		for nextMinute <= end {
			w.receive(nextMinute, pol)
			pol.minute(nextMinute)
			nextMinute += 60_000
		}
	}
	finish := start + int64(t.Hours)*hourMs
	for i := range n {
		if w.stock[i] <= 0 && w.outFrom[i] != 0 {
			w.m.StockoutHours += float64(finish-w.outFrom[i]) / float64(hourMs)
		}
	}
	w.m.PriceChanges = pol.changes()
	w.m.skuHours = float64(n) * float64(t.Hours)
	w.m.skuDays = w.m.skuHours / 24
	return w.m
}

// limit moves cur towards target by at most step (relative), inside
// [floor, ceiling], rounded to unit: the same limits the pricing rule
// applies, for the policies that do not run through the pricer.
func limit(cur, target, floor, ceiling int64, step float64, unit int64) int64 {
	p := float64(target)
	lo := math.Max(float64(floor), float64(cur)*(1-step))
	hi := math.Min(float64(ceiling), float64(cur)*(1+step))
	p = math.Max(lo, math.Min(hi, p))
	q := int64(math.Round(p/float64(unit))) * unit
	if float64(q) > hi {
		q -= unit
	}
	if float64(q) < lo {
		q += unit
	}
	if float64(q) < lo || float64(q) > hi {
		q = int64(math.Round(p))
		q = max(int64(math.Ceil(lo)), min(int64(math.Floor(hi)), q))
	}
	return q
}
