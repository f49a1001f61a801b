package pricing

import (
	"errors"
	"strings"
	"testing"
)

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultRule().Validate(); err != nil {
		t.Fatalf("default rule invalid: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Rule)
		want   string
	}{
		{"negative weight", func(r *Rule) { r.DemandWeight = -0.1 }, "demand_weight"},
		{"step zero", func(r *Rule) { r.StepLimit = 0 }, "step_limit"},
		{"step huge", func(r *Rule) { r.StepLimit = 0.9 }, "step_limit"},
		{"unit zero", func(r *Rule) { r.PriceUnit = 0 }, "price_unit"},
		{"cooldown negative", func(r *Rule) { r.CooldownSeconds = -1 }, "cooldown_seconds"},
		{"overstock below target", func(r *Rule) { r.OverstockCoverHours = 12 }, "overstock_cover_hours"},
		{"target could reach zero", func(r *Rule) { r.MaxDemandAdjust = 0.9; r.OverstockWeight = 0.5 }, "plus overstock_weight"},
		{"no smoothing", func(r *Rule) { r.Smoothing = 0 }, "smoothing_units"},
		{"category spaces", func(r *Rule) { r.Category = " audio" }, "category"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := DefaultRule()
			tt.change(&r)
			err := r.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %q", err, tt.want)
			}
		})
	}
	r := DefaultRule()
	r.StepLimit, r.PriceUnit = 0, 0
	if err := r.Validate(); strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want both problems reported, one per line: %v", err)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	const minute = 60_000
	at := int64(1_800_000_000_000)
	// Baseline 12 units/h: over a 5-minute window that is 1 unit, so 1 unit
	// in the window is a demand ratio of exactly 1.
	steady := Signal{At: at, Units: 1, WindowHours: 5.0 / 60, BaselineRate: 12}
	surge := Signal{At: at, Units: 40, WindowHours: 5.0 / 60, BaselineRate: 12}
	slack := Signal{At: at, Units: 0, WindowHours: 5.0 / 60, BaselineRate: 120}
	q := Quote{Price: 12900, Base: 12900, Floor: 9900, Ceiling: 15900}
	with := func(s Signal, f func(*Signal)) Signal { f(&s); return s }
	quote := func(f func(*Quote)) Quote { c := q; f(&c); return c }
	rule := func(f func(*Rule)) Rule { r := DefaultRule(); f(&r); return r }

	tests := []struct {
		name        string
		rule        Rule
		q           Quote
		s           Signal
		wantPrice   int64
		wantChanged bool
		wantClip    string
		wantSettled bool
	}{
		{"steady demand keeps the base price", DefaultRule(), q, steady, 12900, false, "", true},
		{"surge is limited to +5% and rounded down into the step", DefaultRule(), q, surge, 13540, true, ClippedByStep, false},
		{"slack demand moves down by at most 5%", DefaultRule(), q, slack, 12260, true, ClippedByStep, false},
		{"surge near the ceiling stops at the ceiling", DefaultRule(), quote(func(q *Quote) { q.Price = 15800 }), surge, 15900, true, ClippedByCeiling, true},
		{"slack near the floor stops at the floor", DefaultRule(), quote(func(q *Quote) { q.Price = 10000 }), slack, 9900, true, ClippedByFloor, true},
		{"at the ceiling already: no change", DefaultRule(), quote(func(q *Quote) { q.Price = 15900 }), surge, 15900, false, ClippedByCeiling, true},
		{"cooldown holds the price", DefaultRule(), quote(func(q *Quote) { q.LastChange = at - minute/2 }), surge, 12900, false, "", false},
		{"cooldown over at exactly 60s", DefaultRule(), quote(func(q *Quote) { q.LastChange = at - minute }), surge, 13540, true, ClippedByStep, false},
		{"kill switch freezes", rule(func(r *Rule) { r.Frozen = true }), q, surge, 12900, false, "", true},
		{"kill switch freezes a price left outside bounds", rule(func(r *Rule) { r.Frozen = true }), quote(func(q *Quote) { q.Price = 20000 }), steady, 20000, false, "", true},
		{"rounds to the price unit", rule(func(r *Rule) { r.DemandWeight = 0.01 }), q,
			with(steady, func(s *Signal) { s.Units = 4 }), 13070, true, "", true}, // 12900 × (1 + 0.01·log2(2.5)) = 13070.5
		{"small move below half a unit is suppressed", rule(func(r *Rule) { r.DemandWeight = 0.0001 }), q,
			with(steady, func(s *Signal) { s.Units = 2 }), 12900, false, "", true},
		{"scarcity raises the price", DefaultRule(), q,
			with(steady, func(s *Signal) { s.HasStock, s.Available = true, 2 }), 13540, true, ClippedByStep, false},
		{"sold out is full scarcity", DefaultRule(), q,
			with(steady, func(s *Signal) { s.HasStock, s.Available = true, 0 }), 13540, true, ClippedByStep, false},
		{"overstock with no sales lowers the price", rule(func(r *Rule) { r.DemandWeight = 0 }), q,
			with(steady, func(s *Signal) { s.Units, s.HasStock, s.Available = 0, true, 5000 }), 12260, true, "", true}, // 12900 × 0.95 = 12255, exactly the step
		{"price below a raised floor jumps to the floor", DefaultRule(), quote(func(q *Quote) { q.Price = 8000 }), steady, 9900, true, ClippedByFloor, false},
		{"price above a lowered ceiling jumps to the ceiling", DefaultRule(), quote(func(q *Quote) { q.Price = 20000 }), steady, 15900, true, ClippedByCeiling, false},
		{"bounds win over the unit when no multiple fits", DefaultRule(), Quote{Price: 9905, Base: 9905, Floor: 9901, Ceiling: 9909}, surge, 9909, true, ClippedByCeiling, true},
		{"unknown product is never priced", DefaultRule(), Quote{Price: 0}, surge, 0, false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.rule.Decide(tt.q, tt.s)
			if d.Price != tt.wantPrice || d.Changed != tt.wantChanged || d.Settled != tt.wantSettled {
				t.Fatalf("Decide = price %d changed %v settled %v (reason %+v), want %d %v %v",
					d.Price, d.Changed, d.Settled, d.Reason, tt.wantPrice, tt.wantChanged, tt.wantSettled)
			}
			if d.Changed && d.Reason.ClippedBy != tt.wantClip {
				t.Errorf("clipped by %q, want %q", d.Reason.ClippedBy, tt.wantClip)
			}
			if d.Changed && d.Reason.PreviousPrice != tt.q.Price {
				t.Errorf("reason previous price %d, want %d", d.Reason.PreviousPrice, tt.q.Price)
			}
		})
	}
}

// FuzzDecide: for any valid rule and any quote with sane bounds, the price
// stays within [floor, ceiling] and, from a price inside the bounds, moves at
// most StepLimit.
func FuzzDecide(f *testing.F) {
	f.Add(int64(12900), int64(12900), int64(9900), int64(15900), int64(40), 12.0, int64(3), true, 0.08, 0.05, int64(10))
	f.Add(int64(9905), int64(9905), int64(9901), int64(9909), int64(0), 100.0, int64(0), true, 0.5, 0.3, int64(1000))
	f.Add(int64(20000), int64(12900), int64(9900), int64(15900), int64(1), 0.0, int64(-5), false, 1.0, 0.001, int64(1))
	f.Add(int64(1), int64(1), int64(1), int64(3), int64(1<<40), 1e-9, int64(1<<40), true, 0.0, 0.5, int64(1_000_000))
	f.Fuzz(func(t *testing.T, price, base, floor, ceiling, units int64, baseline float64, available int64, hasStock bool, weight, step float64, unit int64) {
		r := DefaultRule()
		r.DemandWeight, r.StepLimit, r.PriceUnit = weight, step, unit
		if r.Validate() != nil || floor <= 0 || floor > base || base > ceiling || ceiling > 1<<50 ||
			price <= 0 || price > 1<<50 || units < 0 || baseline < 0 || baseline > 1e12 {
			return
		}
		d := r.Decide(
			Quote{Price: price, Base: base, Floor: floor, Ceiling: ceiling},
			Signal{At: 1, Units: units, WindowHours: 5.0 / 60, BaselineRate: baseline, Available: available, HasStock: hasStock},
		)
		if d.Price < floor || d.Price > ceiling {
			t.Fatalf("price %d outside [%d, %d]", d.Price, floor, ceiling)
		}
		if price >= floor && price <= ceiling {
			if float64(d.Price) > float64(price)*(1+step)+1e-6 || float64(d.Price) < float64(price)*(1-step)-1e-6 {
				t.Fatalf("%d → %d exceeds the %g step", price, d.Price, step)
			}
		}
		if d.Changed != (d.Price != price) {
			t.Fatalf("Changed=%v for %d → %d", d.Changed, price, d.Price)
		}
	})
}
