package simulate

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mercato-platform/mercato/internal/pricing"
)

// Policy names.
const (
	PolicyStaticList   = "static-list"
	PolicyRule         = "rule"
	PolicyLearn        = "learn"
	PolicyOracleStatic = "oracle-static"
	PolicyOracle       = "oracle"
)

// Policies lists every policy, in report order.
var Policies = []string{PolicyStaticList, PolicyRule, PolicyLearn, PolicyOracleStatic, PolicyOracle}

// oracleGrid is the candidate prices per SKU of the oracles.
const oracleGrid = 64

// trace records a few SKUs' price paths for the HTML report.
type trace struct {
	skus   map[int]int // SKU index → position in paths
	paths  [][]PricePoint
	active bool
}

// PricePoint is a price from a time on (hours since the start).
type PricePoint struct {
	Hour  float64 `json:"hour"`
	Price int64   `json:"price"`
}

func (tr *trace) record(i int, t int64, price int64) {
	if tr == nil || !tr.active {
		return
	}
	if k, ok := tr.skus[i]; ok {
		tr.paths[k] = append(tr.paths[k], PricePoint{Hour: float64(t-start) / float64(hourMs), Price: price})
	}
}

// fixed is a policy whose prices never change: list prices, or the best
// fixed price per SKU knowing the truth.
type fixed struct{ prices []int64 }

func (f *fixed) price(i int) int64                { return f.prices[i] }
func (f *fixed) sold(int, int64, int64, int64)    {}
func (f *fixed) stocked(int, int64, int64, int64) {}
func (f *fixed) minute(int64)                     {}
func (f *fixed) changes() int64                   { return 0 }

func staticList(t *Truth, tr *trace) *fixed {
	f := &fixed{prices: make([]int64, len(t.SKUs))}
	for i := range t.SKUs {
		f.prices[i] = t.SKUs[i].List
		tr.record(i, start, f.prices[i])
	}
	return f
}

// bestPrice is the objective's best price for k per shopper on the grid,
// among those whose expected demand over the next arrivals (expected
// shoppers) fits in stock; stock < 0 means unconstrained. With nothing
// feasible it is the ceiling (the least demand).
func bestPrice(k *SKU, objective string, shoppers float64, stock int64) int64 {
	cost := float64(k.Cost)
	if objective == pricing.ObjectiveRevenue {
		cost = 0
	}
	best, bestObj, found := float64(k.Ceiling), math.Inf(-1), false
	for g, p := range k.grid {
		buy := k.buy[g]
		if stock >= 0 && buy*shoppers > float64(stock) {
			continue
		}
		if obj := (p - cost) * buy; !found || obj > bestObj {
			best, bestObj, found = p, obj, true
		}
	}
	return int64(math.Round(best/10)) * 10
}

func oracleStatic(t *Truth, objective string, tr *trace) *fixed {
	f := &fixed{prices: make([]int64, len(t.SKUs))}
	for i := range t.SKUs {
		k := &t.SKUs[i]
		f.prices[i] = max(k.Floor, min(k.Ceiling, bestPrice(k, objective, 0, -1)))
		tr.record(i, start, f.prices[i])
	}
	return f
}

// oracle knows every SKU's demand curve, the shoppers to come (season,
// drift and shocks in expectation) and when its open order arrives. Every
// 15 minutes it picks the objective's best price whose expected demand until
// the order arrives (or a lead time, with none open) fits the stock, and
// walks there within the same step limit, cooldown and price unit as the
// pricer.
type oracle struct {
	t         *Truth
	objective string
	prices    []int64
	target    []int64
	stock     []int64
	eta       []int64 // open order's arrival, 0 none
	last      []int64 // last change
	step      float64
	cooldown  int64
	unit      int64
	n         int64
	tr        *trace
}

func newOracle(t *Truth, objective string, tr *trace) *oracle {
	r := pricing.DefaultRule()
	o := &oracle{t: t, objective: objective, prices: make([]int64, len(t.SKUs)), target: make([]int64, len(t.SKUs)),
		stock: make([]int64, len(t.SKUs)), last: make([]int64, len(t.SKUs)),
		step: r.StepLimit, cooldown: r.CooldownSeconds * 1000, unit: r.PriceUnit, tr: tr}
	for i := range t.SKUs {
		o.prices[i] = t.SKUs[i].List
		o.target[i] = o.prices[i]
		tr.record(i, start, o.prices[i])
	}
	return o
}

func (o *oracle) price(i int) int64 { return o.prices[i] }
func (o *oracle) sold(i int, _ int64, stock, _ int64) {
	o.stock[i] = stock
}
func (o *oracle) stocked(i int, _ int64, stock, _ int64) { o.stock[i] = stock }

// see gives the oracle the world's open orders: it knows when each arrives.
func (o *oracle) see(w *world)   { o.eta = w.eta }
func (o *oracle) changes() int64 { return o.n }

func (o *oracle) minute(t int64) {
	decide := (t-start)%(15*60_000) == 0
	for i := range o.t.SKUs {
		k := &o.t.SKUs[i]
		if decide {
			o.target[i] = o.decide(i, k, t)
		}
		cur := o.prices[i]
		if o.target[i] == cur || t-o.last[i] < o.cooldown {
			continue
		}
		if p := limit(cur, o.target[i], k.Floor, k.Ceiling, o.step, o.unit); p != cur {
			o.prices[i], o.last[i] = p, t
			o.n++
			o.tr.record(i, t, p)
		}
	}
}

func (o *oracle) decide(i int, k *SKU, t int64) int64 {
	until := t + int64(k.LeadDays*float64(dayMs))
	if o.eta != nil && o.eta[i] > 0 {
		until = o.eta[i]
	}
	return bestPrice(k, o.objective, k.ExpectedArrivals(t, until), o.stock[i])
}

// pricer runs the platform's pricing core (pricing.Pricer, the rule or the
// learn policy) in simulated time: every sale is a purchase event, every
// stock change an inventory event, at its simulated time; the wall clock
// the pricer sees is the simulated one.
type pricer struct {
	t      *Truth
	p      *pricing.Pricer
	index  map[string]int
	prices []int64
	buf    []pricing.PriceChange
	id     []byte
	n      int64
	seq    int64
	tr     *trace
	err    error
}

func newPricer(t *Truth, name, objective string, tr *trace) (*pricer, error) {
	rule := pricing.DefaultRule()
	rule.ID = name
	if name == PolicyRule {
		rule.Policy = pricing.PolicyRule
	} else {
		rule.Policy = pricing.PolicyLearn
		rule.Objective = objective
		// The shop's known demand profile (not any SKU's curve).
		rule.Learn.DemandByHour = Hourly[:]
		rule.Learn.DemandByWeekday = Weekday[:]
	}
	book, err := pricing.NewRuleBook(rule)
	if err != nil {
		return nil, err
	}
	p, err := pricing.NewPricer(pricing.DefaultConfig(), book)
	if err != nil {
		return nil, err
	}
	pr := &pricer{t: t, p: p, index: make(map[string]int, len(t.SKUs)), prices: make([]int64, len(t.SKUs)), tr: tr}
	for i := range t.SKUs {
		k := &t.SKUs[i]
		if err := p.Product(k.ID, k.Category, k.List, k.Floor, k.Ceiling); err != nil {
			return nil, fmt.Errorf("product %s: %w", k.ID, err)
		}
		if err := p.ProductCost(k.ID, k.Cost, time.Duration(k.LeadDays*float64(24*time.Hour))); err != nil {
			return nil, fmt.Errorf("product %s: %w", k.ID, err)
		}
		pr.index[k.ID] = i
		pr.prices[i] = k.List
		tr.record(i, start, k.List)
	}
	return pr, nil
}

func (pr *pricer) price(i int) int64 { return pr.prices[i] }
func (pr *pricer) changes() int64    { return pr.n }

func (pr *pricer) sold(i int, t int64, stock, onOrder int64) {
	at := time.UnixMilli(t)
	if _, err := pr.p.Purchase(pr.t.SKUs[i].ID, at, 1, at); err != nil && pr.err == nil {
		pr.err = err
	}
	pr.stocked(i, t, stock, onOrder)
}

func (pr *pricer) stocked(i int, t int64, stock, onOrder int64) {
	at := time.UnixMilli(t)
	pr.seq++
	// Event ids order stock records within a millisecond.
	pr.id = strconv.AppendInt(pr.id[:0], 1e15+pr.seq, 10)
	if _, err := pr.p.InventoryLevels(pr.t.SKUs[i].ID, at, stock, onOrder, string(pr.id), at); err != nil && pr.err == nil {
		pr.err = err
	}
	pr.take()
}

func (pr *pricer) minute(t int64) {
	pr.p.Tick(time.UnixMilli(t))
	pr.take()
}

func (pr *pricer) take() {
	pr.buf = pr.p.TakeChanges(pr.buf[:0])
	for _, ch := range pr.buf {
		i := pr.index[ch.SKU]
		pr.prices[i] = ch.Price
		pr.n++
		pr.tr.record(i, ch.At.UnixMilli(), ch.Price)
	}
	// The changelog is not needed here; forget what the batch touched.
	pr.p.TakeTouched(func(*pricing.SKUState) {})
}
