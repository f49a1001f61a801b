package pricing

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mercato-platform/mercato/internal/event"
)

// Rule holds a category's price parameters. It is what PUT
// /v1/pricing/rules/{category} stores and commerce.pricing-rules carries.
//
// The target price is
//
//	target = base_price × (1 + demand + stock)
//	demand = clamp(DemandWeight × log2(r), ±MaxDemandAdjust)
//	r      = (units in window + Smoothing) / (baseline rate × window + Smoothing)
//	stock  = +ScarcityWeight × (TargetCover − c)/TargetCover        when c < TargetCover
//	         −OverstockWeight × min(1, (c − OverstockCover)/OverstockCover) when c > OverstockCover
//	c      = available / short rate, in hours (no recent sales: infinite cover)
//
// and the emitted price is the target limited to ±StepLimit of the current
// price, clamped to [price_floor, price_ceiling] and rounded to PriceUnit.
type Rule event.PricingRule

// Pricing policies and objectives.
const (
	PolicyRule       = "rule"
	PolicyLearn      = "learn"
	ObjectiveMargin  = "margin"
	ObjectiveRevenue = "revenue"
)

// LearnParams tune the learn policy (see learn.go).
type LearnParams = event.LearnParams

// DefaultRule applies to categories without a rule of their own.
func DefaultRule() Rule {
	return Rule{
		ID:                  "default",
		DemandWeight:        0.08,
		MaxDemandAdjust:     0.25,
		Smoothing:           1,
		ScarcityWeight:      0.15,
		TargetCoverHours:    24,
		OverstockWeight:     0.05,
		OverstockCoverHours: 24 * 30,
		StepLimit:           0.05,
		CooldownSeconds:     60,
		PriceUnit:           10,
		Policy:              PolicyLearn,
		Objective:           ObjectiveMargin,
		Learn:               DefaultLearnParams(),
	}
}

// DefaultLearnParams are the learn policy's defaults.
func DefaultLearnParams() LearnParams {
	return LearnParams{
		PriorElasticity:   1.5,
		PriorElasticitySD: 0.5,
		MemoryHours:       24 * 14,
		DecisionSeconds:   4 * 3600,
		HorizonHours:      72,
		MinUnits:          5,
	}
}

// learning reports whether the rule prices with the learn policy.
func (r *Rule) learning() bool { return r.Policy == PolicyLearn }

// Validate reports every problem at once, one per line, naming the JSON field.
func (r Rule) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, a...)))
	}
	finite := func(field string, v, lo, hi float64) {
		if math.IsNaN(v) || v < lo || v > hi {
			bad(field, "must be between %g and %g, got %g", lo, hi, v)
		}
	}
	if len(r.ID) > 128 {
		bad("id", "must be at most 128 characters")
	}
	if len(r.Category) > 100 || strings.TrimSpace(r.Category) != r.Category {
		bad("category", "must be at most 100 characters without surrounding spaces")
	}
	finite("demand_weight", r.DemandWeight, 0, 1)
	finite("max_demand_adjust", r.MaxDemandAdjust, 0, 0.9)
	finite("smoothing_units", r.Smoothing, 0.01, 1e6)
	finite("scarcity_weight", r.ScarcityWeight, 0, 1)
	finite("target_cover_hours", r.TargetCoverHours, 0.01, 24*365)
	finite("overstock_weight", r.OverstockWeight, 0, 0.9)
	finite("overstock_cover_hours", r.OverstockCoverHours, 0.01, 24*365*10)
	finite("step_limit", r.StepLimit, 0.001, 0.5)
	if r.OverstockCoverHours <= r.TargetCoverHours {
		bad("overstock_cover_hours", "must be above target_cover_hours (%g), got %g", r.TargetCoverHours, r.OverstockCoverHours)
	}
	if r.MaxDemandAdjust+r.OverstockWeight >= 0.95 {
		bad("max_demand_adjust", "plus overstock_weight must stay below 0.95, or the target could reach zero")
	}
	if r.CooldownSeconds < 0 || r.CooldownSeconds > 7*24*3600 {
		bad("cooldown_seconds", "must be 0 to 604800, got %d", r.CooldownSeconds)
	}
	if r.PriceUnit < 1 || r.PriceUnit > 1_000_000 {
		bad("price_unit", "must be 1 to 1000000, got %d", r.PriceUnit)
	}
	switch r.Policy {
	case "", PolicyRule, PolicyLearn:
	default:
		bad("policy", "must be %q or %q, got %q", PolicyRule, PolicyLearn, r.Policy)
	}
	switch r.Objective {
	case "", ObjectiveMargin, ObjectiveRevenue:
	default:
		bad("objective", "must be %q or %q, got %q", ObjectiveMargin, ObjectiveRevenue, r.Objective)
	}
	if r.Policy == PolicyLearn {
		l := r.Learn
		finite("learn.prior_elasticity", l.PriorElasticity, -1, 10)
		finite("learn.prior_elasticity_sd", l.PriorElasticitySD, 0.01, 5)
		finite("learn.memory_hours", l.MemoryHours, 1, 24*365)
		finite("learn.horizon_hours", l.HorizonHours, 0.1, 24*365)
		if l.DecisionSeconds < 1 || l.DecisionSeconds > 7*24*3600 {
			bad("learn.decision_seconds", "must be 1 to 604800, got %d", l.DecisionSeconds)
		}
		if l.MinUnits < 0 || l.MinUnits > 1_000_000 {
			bad("learn.min_units", "must be 0 to 1000000, got %d", l.MinUnits)
		}
		profile := func(field string, v []float64, n int) {
			if len(v) == 0 {
				return
			}
			if len(v) != n {
				bad(field, "must have %d values, got %d", n, len(v))
				return
			}
			for _, x := range v {
				if math.IsNaN(x) || x < 0.01 || x > 100 {
					bad(field, "values must be between 0.01 and 100, got %g", x)
					return
				}
			}
		}
		profile("learn.demand_by_hour", l.DemandByHour, 24)
		profile("learn.demand_by_weekday", l.DemandByWeekday, 7)
	}
	return errors.Join(errs...)
}

// Clipping names the limit that bound an emitted price.
const (
	ClippedByFloor   = "floor"
	ClippedByCeiling = "ceiling"
	ClippedByStep    = "step"
)

// PriceRecord is the data of a price.changed event on commerce.prices: what
// GET /v1/prices/{sku} serves.
type PriceRecord = event.PriceChanged

// Reason explains a price change: the inputs the rule saw and what limited it.
type Reason = event.PriceReason

// Quote is a SKU's price position: what it costs now and its bounds.
type Quote struct {
	Price   int64 // current price; the base price until the first change
	Base    int64
	Floor   int64
	Ceiling int64
	// LastChange is the event time (Unix ms) of the last emitted change, 0 if none.
	LastChange int64
}

// Signal is the demand and stock the rule reacts to, at event time At (Unix ms).
type Signal struct {
	At           int64
	Units        int64   // units sold in the window
	WindowHours  float64 // window length
	BaselineRate float64 // units per hour
	Available    int64
	HasStock     bool
}

// Decision is the rule's verdict for one evaluation.
type Decision struct {
	Price   int64
	Changed bool
	// Settled is false while the price is still walking towards its target
	// (step-limited or in cooldown), so the SKU must be evaluated again.
	Settled bool
	Reason  Reason
}

// Decide is the price rule: a pure function of the rule, the quote and the
// signal. It never returns a price outside [Floor, Ceiling] (for a quote with
// Floor ≤ Ceiling) nor, when the current price is within bounds, a move larger
// than StepLimit.
func (r *Rule) Decide(q Quote, s Signal) Decision {
	keep := Decision{Price: q.Price, Settled: true}
	if r.Frozen || q.Floor <= 0 || q.Ceiling < q.Floor || q.Base <= 0 {
		return keep
	}
	if q.LastChange != 0 && s.At-q.LastChange < r.CooldownSeconds*1000 {
		keep.Settled = false
		return keep
	}
	units := float64(s.Units)
	ratio := (units + r.Smoothing) / (s.BaselineRate*s.WindowHours + r.Smoothing)
	demand := r.DemandWeight * math.Log2(ratio)
	demand = math.Max(-r.MaxDemandAdjust, math.Min(r.MaxDemandAdjust, demand))

	var stock float64
	var cover *float64
	var avail *int64
	if s.HasStock {
		a := s.Available
		avail = &a
		shortRate := units / s.WindowHours
		c := math.Inf(1)
		switch {
		case s.Available <= 0:
			c = 0
		case shortRate > 0:
			c = float64(s.Available) / shortRate
		}
		if !math.IsInf(c, 1) {
			cover = &c
		}
		switch {
		case c < r.TargetCoverHours:
			stock = r.ScarcityWeight * (r.TargetCoverHours - c) / r.TargetCoverHours
		case c > r.OverstockCoverHours:
			stock = -r.OverstockWeight * math.Min(1, (c-r.OverstockCoverHours)/r.OverstockCoverHours)
		}
	}
	target := float64(q.Base) * (1 + demand + stock)
	final, clipped, settled := r.limit(q, target)

	d := Decision{
		Price:   final,
		Changed: final != q.Price,
		Settled: settled,
		Reason: Reason{
			RuleID:          r.ID,
			DemandRatio:     ratio,
			UnitsInWindow:   s.Units,
			ShortRate:       units / s.WindowHours,
			BaselineRate:    s.BaselineRate,
			StockCoverHours: cover,
			Available:       avail,
			TargetPrice:     int64(math.Round(target)),
			PreviousPrice:   q.Price,
			ClippedBy:       clipped,
		},
	}
	return d
}

// limit turns a target into the price to emit: a price outside the bounds
// goes to the nearest bound; otherwise the move is limited to ±StepLimit,
// clamped to [Floor, Ceiling] and rounded to PriceUnit inside both. Every
// policy goes through it, so none can leave the bounds or the step band.
func (r *Rule) limit(q Quote, target float64) (final int64, clipped string, settled bool) {
	price := target
	settled = true
	switch {
	case q.Price < q.Floor:
		// A price left outside by changed bounds makes the smallest correction,
		// to the bound, and walks on from there at the next boundary.
		final, clipped, settled = q.Floor, ClippedByFloor, false
	case q.Price > q.Ceiling:
		final, clipped, settled = q.Ceiling, ClippedByCeiling, false
	default:
		stepLo := float64(q.Price) * (1 - r.StepLimit)
		stepHi := float64(q.Price) * (1 + r.StepLimit)
		if price > stepHi {
			price, clipped, settled = stepHi, ClippedByStep, false
		} else if price < stepLo {
			price, clipped, settled = stepLo, ClippedByStep, false
		}
		if price > float64(q.Ceiling) {
			price, clipped, settled = float64(q.Ceiling), ClippedByCeiling, true
		} else if price < float64(q.Floor) {
			price, clipped, settled = float64(q.Floor), ClippedByFloor, true
		}
		lo := max(q.Floor, int64(math.Ceil(stepLo)))
		hi := min(q.Ceiling, int64(math.Floor(stepHi)))
		final = roundWithin(price, r.PriceUnit, lo, hi)
	}
	return final, clipped, settled
}

// roundWithin rounds p to the nearest multiple of unit inside [lo, hi]. When
// no multiple fits (a band narrower than the unit), the bounds outrank the
// unit and p is only rounded to a whole minor unit.
func roundWithin(p float64, unit, lo, hi int64) int64 {
	q := int64(math.Round(p/float64(unit))) * unit
	if q > hi {
		q = floorDiv(hi, unit) * unit
	}
	if q < lo {
		q = -floorDiv(-lo, unit) * unit // ceil to a multiple
	}
	if q >= lo && q <= hi {
		return q
	}
	return min(max(int64(math.Round(p)), lo), hi)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// RuleBook is the rules by category, with a fallback for the rest. It is the
// broadcast state every Pricer of a process shares.
type RuleBook struct {
	fallback   Rule
	byCategory map[string]*Rule
}

// NewRuleBook starts a book that answers fallback for every category.
func NewRuleBook(fallback Rule) (*RuleBook, error) {
	if err := fallback.Validate(); err != nil {
		return nil, fmt.Errorf("fallback rule: %w", err)
	}
	return &RuleBook{fallback: fallback, byCategory: map[string]*Rule{}}, nil
}

// Set validates and installs a category's rule; it takes effect at the next
// evaluation.
func (b *RuleBook) Set(r Rule) error {
	if r.Category == "" {
		return fmt.Errorf("%w: category: a rule needs a category", ErrInvalidConfig)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("rule for %q: %w", r.Category, err)
	}
	if r.ID == "" {
		r.ID = r.Category
	}
	b.byCategory[r.Category] = &r
	return nil
}

// Delete drops a category's rule, so the fallback applies again.
func (b *RuleBook) Delete(category string) { delete(b.byCategory, category) }

// For returns the rule that prices category.
func (b *RuleBook) For(category string) *Rule {
	if r, ok := b.byCategory[category]; ok {
		return r
	}
	return &b.fallback
}
