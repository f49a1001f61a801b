package pricing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SKU state flags.
const (
	flagListed        uint8 = 1 << iota // in Pricer.active
	flagWalking                         // last evaluation did not reach its target
	flagHadDemand                       // last evaluation saw units in the window
	flagDirty                           // stock or product changed since the last evaluation
	flagBaselineMoved                   // the baseline folded at least one slide
	flagTouched                         // changed since the last TakeTouched
	flagWaiting                         // in Pricer.waiting (has stock records waiting)
)

// persistedFlags survive the changelog; flagTouched is per batch and
// flagWaiting follows from the SKU's waiting records.
const persistedFlags = flagListed | flagWalking | flagHadDemand | flagDirty | flagBaselineMoved

// SKUState is everything pricing knows about one SKU. It is small and flat so
// a partition can hold a million of them and write each to the changelog in a
// few dozen bytes.
type SKUState struct {
	SKU      string
	Category string
	Window   DemandWindow
	Baseline Baseline
	// Available is the latest stock level, as of event time StockAt (Unix ms;
	// 0 = unknown).
	Available int64
	StockAt   int64
	// Price is the current price, 0 until the first change (then the base
	// price is the price).
	Price                               int64
	BasePrice, PriceFloor, PriceCeiling int64 // 0 until the product is known
	// LastChange is the event time (Unix ms) of the last emitted change.
	LastChange int64
	// UnitCost (minor units) and LeadTimeMs come from the product's reorder
	// policy; 0 when unknown. The learn policy's margin and stock horizon
	// use them.
	UnitCost, LeadTimeMs int64
	// OnOrder is the quantity on open purchase orders as of StockAt, and
	// OrderedAt the event time it became positive (0: none open).
	OnOrder, OrderedAt int64
	// Learn is the learn policy's evidence; nil until the SKU is first
	// priced by it.
	Learn *LearnState
	flags uint8
	// waiting holds the SKU's stock records the watermark has not passed,
	// one per slide (see Pricer.Inventory), in time order. It is part of the
	// SKU's changelog record, so the partition's own record stays small
	// however many SKUs' stock moves.
	waiting []stockUpdate
}

// CurrentPrice is the price a customer pays now.
func (s *SKUState) CurrentPrice() int64 {
	if s.Price != 0 {
		return s.Price
	}
	return s.BasePrice
}

// PriceChange is one emitted price: what commerce.prices carries.
type PriceChange struct {
	SKU       string
	Price     int64
	BasePrice int64
	// At is the event time of the window boundary that produced the change.
	At     time.Time
	Reason Reason
}

// stockUpdate is an inventory record waiting for the watermark, so that each
// boundary sees exactly the stock levels that precede it in event time.
type stockUpdate struct {
	At        int64
	Available int64
	// OnOrder is the quantity on open purchase orders; −1 when the record
	// did not say.
	OnOrder int64
	ID      string
}

// after reports whether u comes after v in the (time, id) order stock
// records apply in.
func (u stockUpdate) after(v stockUpdate) bool {
	return u.At > v.At || (u.At == v.At && u.ID > v.ID)
}

// Errors for input the pricer refuses; the processor dead-letters such records.
var (
	ErrInvalidInput = errors.New("invalid pricing input")
)

// Pricer prices the SKUs of one input partition. It is not safe for
// concurrent use: one goroutine feeds it, like a Kafka partition is consumed.
//
// Purchases go straight into their SKU's DemandWindow bucket (sums commute,
// so arrival order does not matter). Prices are evaluated only at slide
// boundaries, once the watermark has passed them, for the SKUs whose window,
// stock or walk towards a target asks for it. Stock records wait for the
// watermark too. Hence two arrival orders of the same records within the
// allowed out-of-orderness give every SKU the same sequence of prices. (The
// interleaving of different SKUs within one boundary follows arrival; like
// Kafka, only per-key order is promised.)
type Pricer struct {
	d     derived
	rules *RuleBook
	wm    Watermark
	next  int64 // next boundary (slide index) to evaluate; 0 = not started

	skus       map[string]*SKUState
	categories map[string]string // interned category names
	active     []*SKUState
	waiting    []*SKUState // SKUs with stock records the watermark has not passed
	touched    []*SKUState
	changes    []PriceChange

	late, stale uint64

	// pools are the learn policy's category priors: the sums of their SKUs'
	// contributions (LearnState.contribution), derived state rebuilt on
	// Restore. poolDelta holds a boundary's contributions until it ends.
	pools     map[string]*categoryPool
	poolDelta map[string]*categoryPool
	// asleep holds the quiet learn SKUs by the boundary of their next
	// decision (derived: Restore rebuilds it from LearnState.Decide), so a
	// boundary visits the SKUs with something to do rather than every
	// learn SKU of the partition.
	asleep map[int64][]*SKUState
}

// sleep wakes s at boundary k, unless a record lists it before.
func (p *Pricer) sleep(s *SKUState, k int64) {
	p.asleep[k] = append(p.asleep[k], s)
}

// wakeOverdue moves sleepers due before the next boundary to it: SKUs
// restored before the partition's next boundary was known.
func (p *Pricer) wakeOverdue() {
	for k, sleepers := range p.asleep {
		if k < p.next {
			delete(p.asleep, k)
			p.asleep[p.next] = append(p.asleep[p.next], sleepers...)
		}
	}
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// NewPricer builds an empty pricer. rules is shared broadcast state: the
// caller must not change it while the pricer runs.
func NewPricer(c Config, rules *RuleBook) (*Pricer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if rules == nil {
		return nil, fmt.Errorf("%w: a pricer needs a rule book", ErrInvalidConfig)
	}
	return &Pricer{
		d:          c.derive(),
		rules:      rules,
		wm:         NewWatermark(c),
		skus:       map[string]*SKUState{},
		categories: map[string]string{},
		pools:      map[string]*categoryPool{},
		poolDelta:  map[string]*categoryPool{},
		asleep:     map[int64][]*SKUState{},
	}, nil
}

// Late is how many purchases were beyond the allowed lateness.
func (p *Pricer) Late() uint64 { return p.late }

// StaleStock is how many late inventory records were older than the stock
// level already known, and so superseded.
func (p *Pricer) StaleStock() uint64 { return p.stale }

// Watermark is the partition's current watermark.
func (p *Pricer) Watermark() (time.Time, bool) {
	return time.UnixMilli(p.wm.Current()).UTC(), p.wm.Started()
}

// Len is the number of SKUs held.
func (p *Pricer) Len() int { return len(p.skus) }

// SKU returns a copy of a SKU's state.
func (p *Pricer) SKU(sku string) (SKUState, bool) {
	s, ok := p.skus[sku]
	if !ok {
		return SKUState{}, false
	}
	return *s, true
}

// Each calls f for every SKU state, in no particular order.
func (p *Pricer) Each(f func(*SKUState)) {
	for _, s := range p.skus {
		f(s)
	}
}

// Purchase records units of sku sold at event time at; now is the wall
// clock. It reports late = true for a purchase beyond the allowed lateness:
// it is counted and not applied, and the caller sends it to the late topic.
func (p *Pricer) Purchase(sku string, at time.Time, units int64, now time.Time) (late bool, err error) {
	t := at.UnixMilli()
	if sku == "" || units <= 0 || t <= 0 {
		return false, fmt.Errorf("%w: purchase of %q: need a SKU, positive units (got %d) and a time after 1970", ErrInvalidInput, sku, units)
	}
	if err := p.checkSkew(sku, at, now); err != nil {
		return false, err
	}
	if p.wm.Observe(t, now.UnixMilli()) {
		p.late++
		return true, nil
	}
	p.advance()
	slide := t / p.d.slideMs
	s := p.skus[sku]
	if s == nil {
		s = p.newSKU(sku)
	}
	b := &s.Baseline
	if b.Next == 0 || (s.flags&flagBaselineMoved == 0 && slide < b.Next) {
		// The baseline starts at the SKU's earliest slide; until it has folded
		// anything an earlier record may still move that start.
		b.Next, b.Since = slide, slide
	}
	if slide < b.Next || (s.Window.head != 0 && slide <= s.Window.head-int64(s.Window.size)) {
		// Already folded: only possible when the config's bounds were
		// bypassed; counting it as late keeps the rule "never silently drop".
		p.late++
		return true, nil
	}
	if s.Window.head != 0 && slide > s.Window.head {
		p.foldBaseline(s, slide-int64(s.Window.size)+1)
	}
	s.Window.Add(slide, uint32(min(units, 1<<31)))
	p.list(s)
	p.touch(s)
	return false, nil
}

// Inventory records the available stock of sku at event time at; id orders
// records with the same time, as text (the processor passes the record's
// zero-padded offset, so the last written wins). Stock takes effect at the
// next boundary the watermark passes. A late record still updates the stock
// when it is newer than the level known; it reports late all the same.
func (p *Pricer) Inventory(sku string, at time.Time, available int64, id string, now time.Time) (late bool, err error) {
	return p.InventoryLevels(sku, at, available, -1, id, now)
}

// InventoryLevels is Inventory with the quantity on open purchase orders
// (−1: unknown, keep the last known), which tells the learn policy when the
// next replenishment is due.
func (p *Pricer) InventoryLevels(sku string, at time.Time, available, onOrder int64, id string, now time.Time) (late bool, err error) {
	t := at.UnixMilli()
	if sku == "" || t <= 0 {
		return false, fmt.Errorf("%w: inventory of %q: need a SKU and a time after 1970", ErrInvalidInput, sku)
	}
	if err := p.checkSkew(sku, at, now); err != nil {
		return false, err
	}
	if p.wm.Observe(t, now.UnixMilli()) {
		s := p.skus[sku]
		if s == nil {
			s = p.newSKU(sku)
		}
		if t > s.StockAt {
			p.setStock(s, stockUpdate{At: t, Available: available, OnOrder: max(onOrder, -1), ID: id})
		} else {
			p.stale++
		}
		return true, nil
	}
	p.advance()
	s := p.skus[sku]
	if s == nil {
		s = p.newSKU(sku)
	}
	p.wait(s, stockUpdate{At: t, Available: available, OnOrder: max(onOrder, -1), ID: id})
	return false, nil
}

// wait queues a stock record until the watermark passes it. A boundary
// applies a slide's records together and only the last one (in time, id
// order) sets the level, so a SKU keeps one record per slide: the state
// grows with the SKUs whose stock moved, not with the inventory event rate.
func (p *Pricer) wait(s *SKUState, u stockUpdate) {
	slide := floorDiv(u.At, p.d.slideMs)
	i, found := slices.BinarySearchFunc(s.waiting, slide, func(w stockUpdate, slide int64) int {
		return cmp.Compare(floorDiv(w.At, p.d.slideMs), slide)
	})
	switch {
	case found && !u.after(s.waiting[i]):
		return
	case found:
		s.waiting[i] = u
	case len(s.waiting) >= maxWaiting:
		// Only reachable with the future-skew check off and a flood of
		// far-future records: the state stays bounded and the record is
		// counted, like a stale one.
		p.stale++
		return
	default:
		s.waiting = slices.Insert(s.waiting, i, u)
	}
	if s.flags&flagWaiting == 0 {
		s.flags |= flagWaiting
		p.waiting = append(p.waiting, s)
	}
	p.touch(s)
}

// Product sets a SKU's category and price bounds. Products are configuration,
// not demand: they apply on arrival; a current price outside the new bounds
// moves to the bound at the next boundary.
func (p *Pricer) Product(sku, category string, base, floor, ceiling int64) error {
	if sku == "" || floor <= 0 || floor > base || base > ceiling {
		return fmt.Errorf("%w: product %q: need 0 < price_floor ≤ base_price ≤ price_ceiling, got %d ≤ %d ≤ %d",
			ErrInvalidInput, sku, floor, base, ceiling)
	}
	s := p.skus[sku]
	if s == nil {
		s = p.newSKU(sku)
	}
	if s.Learn != nil && s.Category != category {
		// The SKU's evidence moves to its new category's prior.
		p.addPool(s.Category, s.Learn.contribution(), -1)
		p.addPool(category, s.Learn.contribution(), 1)
	}
	s.Category = p.intern(category)
	s.BasePrice, s.PriceFloor, s.PriceCeiling = base, floor, ceiling
	if cur := s.CurrentPrice(); cur < floor || cur > ceiling {
		// Only a price the new bounds exclude needs a boundary of its own; a
		// new base price shows at the SKU's next demand evaluation.
		s.flags |= flagDirty
		p.list(s)
	}
	p.touch(s)
	return nil
}

// ProductCost sets a SKU's unit cost (minor units, the product's
// reorder.unit_cost) and its replenishment lead time: the learn policy's
// margin and how long stock must last. Zero means unknown.
func (p *Pricer) ProductCost(sku string, unitCost int64, leadTime time.Duration) error {
	if sku == "" || unitCost < 0 || leadTime < 0 || leadTime > 366*24*time.Hour {
		return fmt.Errorf("%w: product %q: need unit cost ≥ 0 (got %d) and a lead time of 0 to 366 days (got %v)",
			ErrInvalidInput, sku, unitCost, leadTime)
	}
	s := p.skus[sku]
	if s == nil {
		s = p.newSKU(sku)
	}
	s.UnitCost, s.LeadTimeMs = unitCost, leadTime.Milliseconds()
	p.touch(s)
	return nil
}

// Tick lets an idle partition's watermark follow the wall clock (see
// Watermark.Idle) and evaluates the boundaries that passes.
func (p *Pricer) Tick(now time.Time) {
	if p.wm.Idle(now.UnixMilli()) {
		p.advance()
	}
}

// TakeChanges appends the price changes emitted since the last call to dst.
func (p *Pricer) TakeChanges(dst []PriceChange) []PriceChange {
	dst = append(dst, p.changes...)
	clear(p.changes)
	p.changes = p.changes[:0]
	return dst
}

// TakeTouched calls f for each SKU whose state changed since the last call
// (the changelog records of a batch) and forgets them.
func (p *Pricer) TakeTouched(f func(*SKUState)) {
	for _, s := range p.touched {
		s.flags &^= flagTouched
		f(s)
	}
	clear(p.touched)
	p.touched = p.touched[:0]
}

func (p *Pricer) checkSkew(sku string, at, now time.Time) error {
	if p.d.skewMs > 0 && at.UnixMilli() > now.UnixMilli()+p.d.skewMs {
		return fmt.Errorf("%w: %q dated %s, more than %v ahead of the clock (%s)",
			ErrInvalidInput, sku, at.UTC().Format(time.RFC3339), time.Duration(p.d.skewMs)*time.Millisecond, now.UTC().Format(time.RFC3339))
	}
	return nil
}

func (p *Pricer) newSKU(sku string) *SKUState {
	s := &SKUState{SKU: sku, Window: NewDemandWindow(p.d.size), Baseline: Baseline{Rate: p.d.prior}}
	p.skus[sku] = s
	return s
}

func (p *Pricer) intern(category string) string {
	if c, ok := p.categories[category]; ok {
		return c
	}
	p.categories[category] = category
	return category
}

func (p *Pricer) list(s *SKUState) {
	if s.flags&flagListed == 0 {
		s.flags |= flagListed
		p.active = append(p.active, s)
	}
}

func (p *Pricer) touch(s *SKUState) {
	if s.flags&flagTouched == 0 {
		s.flags |= flagTouched
		p.touched = append(p.touched, s)
	}
}

func (p *Pricer) setStock(s *SKUState, u stockUpdate) {
	if u.OnOrder >= 0 {
		switch {
		case u.OnOrder == 0:
			s.OrderedAt = 0
		case s.OnOrder <= 0 || s.OrderedAt == 0:
			s.OrderedAt = u.At
		case s.StockAt != 0 && u.Available-s.Available >= max(1, s.OnOrder/2):
			// Stock rose by at least half of what was on order while an
			// order is still open: that order arrived and a new one was
			// placed, within one slide (whose records collapse to the
			// last, so the receipt's on_order 0 was never seen).
			s.OrderedAt = u.At
		}
		s.OnOrder = u.OnOrder
	}
	s.Available, s.StockAt = u.Available, u.At
	s.flags |= flagDirty
	p.list(s)
	p.touch(s)
}

func (p *Pricer) foldBaseline(s *SKUState, upTo int64) {
	if s.Baseline.Next == 0 {
		return // no purchase yet: the prior stands
	}
	if s.Baseline.fold(&s.Window, upTo, &p.d) {
		// Every change of state is touched, so the changelog written at the
		// end of a batch is exactly the state in memory.
		s.flags |= flagBaselineMoved
		p.touch(s)
	}
}

// advance evaluates every boundary the watermark has passed.
func (p *Pricer) advance() {
	wm := p.wm.Current()
	if p.next == 0 {
		// Boundaries at or before the first watermark can hold no record that
		// is within the out-of-orderness, so evaluation starts after it.
		p.next = floorDiv(wm, p.d.slideMs) + 1
		p.wakeOverdue()
		return
	}
	for p.next*p.d.slideMs <= wm {
		if len(p.active) == 0 && len(p.waiting) == 0 && len(p.asleep) == 0 {
			p.next = floorDiv(wm, p.d.slideMs) + 1 // nothing to evaluate: skip ahead
			return
		}
		p.evaluate(p.next)
		p.next++
	}
}

// evaluate prices the active SKUs at boundary k, whose window is slides
// [k−n, k−1].
func (p *Pricer) evaluate(k int64) {
	at := k * p.d.slideMs
	p.applyStock(at)
	if sleepers, ok := p.asleep[k]; ok {
		for _, s := range sleepers {
			if p.skus[s.SKU] == s { // not replaced by a Restore since
				p.list(s) // a no-op for one a record listed already
			}
		}
		delete(p.asleep, k)
	}
	kept := p.active[:0]
	// One rule lookup per run of a category's SKUs: the map lookup per SKU
	// was an eighth of the core loop's time.
	var cat string
	var rule *Rule
	for _, s := range p.active {
		if rule == nil || s.Category != cat {
			cat, rule = s.Category, p.rules.For(s.Category)
		}
		p.evaluateSKU(s, rule, k, at)
		if s.Window.head >= k+1-p.d.n || s.flags&(flagWalking|flagHadDemand|flagDirty) != 0 {
			kept = append(kept, s)
			continue
		}
		s.flags &^= flagListed
		p.touch(s)
		if s.Learn != nil && s.BasePrice != 0 && rule.learning() {
			// A quiet SKU under learn sleeps until its next decision: its
			// exposure is counted from event time at its next fold, and a
			// purchase or stock change lists it sooner.
			p.sleep(s, max(k+1, ceilDiv(s.Learn.Decide, p.d.slideMs)))
		}
	}
	clear(p.active[len(kept):])
	p.active = kept
	p.applyPools()
}

func (p *Pricer) evaluateSKU(s *SKUState, rule *Rule, k, at int64) {
	if s.BasePrice == 0 {
		return // product unknown: demand accumulates, nothing to price yet
	}
	if rule.learning() {
		p.evaluateLearn(s, rule, k, at)
		return
	}
	from := k - p.d.n
	p.foldBaseline(s, from)
	units := s.Window.Sum(from, k-1)
	if units == 0 && s.flags&(flagWalking|flagHadDemand|flagDirty) == 0 {
		return
	}
	rate := p.d.prior
	if s.Baseline.Next != 0 {
		rate = s.Baseline.rateAt(&p.d)
	}
	d := rule.Decide(
		Quote{Price: s.CurrentPrice(), Base: s.BasePrice, Floor: s.PriceFloor, Ceiling: s.PriceCeiling, LastChange: s.LastChange},
		Signal{At: at, Units: units, WindowHours: p.d.windowHours, BaselineRate: rate, Available: s.Available, HasStock: s.StockAt != 0},
	)
	s.flags &^= flagWalking | flagHadDemand | flagDirty
	if units > 0 {
		s.flags |= flagHadDemand
	}
	if !d.Settled {
		s.flags |= flagWalking
	}
	p.touch(s)
	if !d.Changed {
		return
	}
	s.Price, s.LastChange = d.Price, at
	p.changes = append(p.changes, PriceChange{
		SKU: s.SKU, Price: d.Price, BasePrice: s.BasePrice, At: time.UnixMilli(at).UTC(), Reason: d.Reason,
	})
}

// applyStock applies each SKU's stock records before at, in (time, id)
// order.
func (p *Pricer) applyStock(at int64) {
	kept := p.waiting[:0]
	for _, s := range p.waiting {
		n := 0
		for n < len(s.waiting) && s.waiting[n].At < at {
			if u := s.waiting[n]; u.At >= s.StockAt {
				p.setStock(s, u)
			}
			n++
		}
		if n > 0 {
			s.waiting = slices.Delete(s.waiting, 0, n)
			p.touch(s)
		}
		if len(s.waiting) > 0 {
			kept = append(kept, s)
			continue
		}
		s.waiting = nil
		s.flags &^= flagWaiting
	}
	clear(p.waiting[len(kept):])
	p.waiting = kept
}
