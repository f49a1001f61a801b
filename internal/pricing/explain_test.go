package pricing

import (
	"math"
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	decision := LearnReason{Elasticity: 1.8, ElasticitySD: 0.3, SampledElasticity: 1.85, PriorElasticity: 1.5,
		ExpectedUnitsOld: 2.5, ExpectedUnitsNew: 2.4, ObjectiveOld: 12400, ObjectiveNew: 14100,
		Objective: ObjectiveMargin, ShockFactor: 1, HorizonHours: 72, Evidence: 42}
	with := func(edit func(*LearnReason)) *LearnReason {
		l := decision
		edit(&l)
		return &l
	}
	tests := []struct {
		name  string
		price int64
		r     Reason
		want  string
	}{
		{"base price", 12900, Reason{RuleID: RuleIDBasePrice, TargetPrice: 12900, PreviousPrice: 12900},
			"list price: not repriced yet"},
		{"rule: the issue's example", 13540, Reason{RuleID: "audio", DemandRatio: 3.21, UnitsInWindow: 16,
			StockCoverHours: f(9.2), Available: n(60), TargetPrice: 15000, PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"demand 3.2× its usual rate; 9 h of stock left; step limit 5 %"},
		{"rule: huge ratio", 13540, Reason{RuleID: "audio", DemandRatio: 379.38, UnitsInWindow: 400, PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"demand 379× its usual rate; step limit 5 %"},
		{"rule: slack demand and overstock", 12260, Reason{RuleID: "audio", DemandRatio: 0.42, UnitsInWindow: 1,
			StockCoverHours: f(24 * 40), Available: n(5000), PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"demand 0.42× its usual rate; 40 days of stock left; step limit 5 %"},
		{"rule: usual demand, unclipped", 12800, Reason{RuleID: "audio", DemandRatio: 1.04, UnitsInWindow: 3,
			StockCoverHours: f(30), Available: n(20), PreviousPrice: 12900},
			"demand at its usual rate; 30 h of stock left"},
		{"rule: no sales, stock known", 12260, Reason{RuleID: "audio", DemandRatio: 0.1, Available: n(1200), PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"no recent sales; 1,200 in stock; step limit 5 %"},
		{"rule: out of stock", 13540, Reason{RuleID: "audio", DemandRatio: 2, UnitsInWindow: 4, StockCoverHours: f(0), Available: n(0), PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"demand 2.0× its usual rate; out of stock; step limit 5 %"},
		{"rule: under an hour of cover", 13540, Reason{RuleID: "audio", DemandRatio: 5, UnitsInWindow: 40, StockCoverHours: f(0.4), Available: n(3), PreviousPrice: 12900, ClippedBy: ClippedByStep},
			"demand 5.0× its usual rate; under an hour of stock left; step limit 5 %"},
		{"rule: small step", 9990, Reason{RuleID: "audio", DemandRatio: 1.5, UnitsInWindow: 2, PreviousPrice: 9950, ClippedBy: ClippedByStep},
			"demand 1.5× its usual rate; step limit 0.4 %"},
		{"rule: held at the ceiling", 15900, Reason{RuleID: "audio", DemandRatio: 4, UnitsInWindow: 9, PreviousPrice: 15500, ClippedBy: ClippedByCeiling},
			"demand 4.0× its usual rate; held at the price ceiling"},
		{"rule: held at the floor", 9900, Reason{RuleID: "audio", DemandRatio: 0.2, UnitsInWindow: 1, PreviousPrice: 10100, ClippedBy: ClippedByFloor},
			"demand 0.20× its usual rate; held at the price floor"},
		{"bounds moved above the price", 11000, Reason{RuleID: "audio", DemandRatio: 0.2, PreviousPrice: 9000, ClippedBy: ClippedByFloor},
			"raised to the new price floor"},
		{"bounds moved below the price", 14000, Reason{RuleID: "audio", DemandRatio: 3, UnitsInWindow: 5, PreviousPrice: 16000, ClippedBy: ClippedByCeiling},
			"lowered to the new price ceiling"},
		{"learn: cold start", 12900, Reason{RuleID: "audio", PreviousPrice: 13500, ClippedBy: ClippedByStep,
			Learn: &LearnReason{Objective: ObjectiveMargin, ShockFactor: 1, HorizonHours: 72, Evidence: 3}},
			"list price while demand is learned (3 units sold so far); step limit 4 %"},
		{"learn: walking to an earlier decision", 13540, Reason{RuleID: "audio", TargetPrice: 14200, PreviousPrice: 12900, ClippedBy: ClippedByStep,
			Learn: &LearnReason{Elasticity: 1.8, ElasticitySD: 0.3, SampledElasticity: 1.8, ShockFactor: 1, Evidence: 42}},
			"moving towards 14,200, set at the last decision; elasticity 1.8 ± 0.30; step limit 5 %"},
		{"learn: exploit", 13540, Reason{RuleID: "audio", UnitsInWindow: 1, StockCoverHours: f(150), Available: n(50), PreviousPrice: 12900, ClippedBy: ClippedByStep,
			Learn: &decision},
			"best expected margin (12,400 → 14,100 per hour); elasticity 1.8 ± 0.30 from 42 units; expects 2.4 units per hour; 6 days of stock left; step limit 5 %"},
		{"learn: explore", 12260, Reason{RuleID: "audio", PreviousPrice: 12900, ClippedBy: ClippedByStep,
			Learn: with(func(l *LearnReason) { l.SampledElasticity = 2.4; l.Objective = ObjectiveRevenue })},
			"testing a price: sampled elasticity 2.4, estimate 1.8 ± 0.30; expects 2.4 units per hour; step limit 5 %"},
		{"learn: demand shock and stock bound", 13540, Reason{RuleID: "audio", UnitsInWindow: 12, StockCoverHours: f(5), Available: n(10), PreviousPrice: 12900, ClippedBy: ClippedByStep,
			Learn: with(func(l *LearnReason) { l.ShockFactor = 3.2; l.StockBound = true; l.HorizonHours = 30; l.Objective = "" })},
			"best expected margin (12,400 → 14,100 per hour); elasticity 1.8 ± 0.30 from 42 units; demand 3.2× what the model expects; expects 2.4 units per hour; raised so stock lasts 30 h until restock; 5 h of stock left; step limit 5 %"},
		{"learn: slack against the model", 12260, Reason{RuleID: "audio", PreviousPrice: 12900, ClippedBy: ClippedByStep,
			Learn: with(func(l *LearnReason) { l.ShockFactor = 0.5; l.ExpectedUnitsNew = 0.25; l.Evidence = 1 })},
			"best expected margin (12,400 → 14,100 per hour); elasticity 1.8 ± 0.30 from 1 unit; demand 0.50× what the model expects; expects 0.25 units per hour; step limit 5 %"},
		{"odd inputs do not break it", 100, Reason{RuleID: "x", DemandRatio: math.NaN(), UnitsInWindow: 1, StockCoverHours: f(math.Inf(1)), Available: n(1), ClippedBy: ClippedByStep},
			"demand ?× its usual rate; years of stock left; step limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Explain(PriceRecord{SKU: "S", Price: tt.price, BasePrice: 12900, UpdatedAt: time.Unix(0, 0), Reason: tt.r})
			if got != tt.want {
				t.Errorf("Explain =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

// TestExplainDecide explains what the rule itself emits, so the sentence
// follows the fields Decide fills in.
func TestExplainDecide(t *testing.T) {
	t.Parallel()
	r := DefaultRule()
	r.Policy = PolicyRule
	d := r.Decide(Quote{Price: 12900, Base: 12900, Floor: 9900, Ceiling: 15900},
		Signal{At: 1, Units: 40, WindowHours: 5.0 / 60, BaselineRate: 12, Available: 30, HasStock: true})
	if !d.Changed || d.Reason.ClippedBy != ClippedByStep {
		t.Fatalf("decision = %+v, want a step-limited rise", d)
	}
	got := Explain(PriceRecord{Price: d.Price, Reason: d.Reason})
	if want := "demand 21× its usual rate; under an hour of stock left; step limit 5 %"; got != want {
		t.Errorf("Explain = %q, want %q", got, want)
	}
}

func TestDemandEstimate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Reason
		want float64
		ok   bool
	}{
		{"rule policy", Reason{DemandRatio: 2}, 0, false},
		{"cold start", Reason{Learn: &LearnReason{ShockFactor: 1, Evidence: 2}}, 0, false},
		{"decision", Reason{Learn: &LearnReason{ExpectedUnitsOld: 3, ExpectedUnitsNew: 2.4}}, 2.4, true},
		{"decision to sell none", Reason{Learn: &LearnReason{ExpectedUnitsOld: 0.5, ExpectedUnitsNew: 0}}, 0, true},
		{"not a number", Reason{Learn: &LearnReason{ExpectedUnitsOld: 1, ExpectedUnitsNew: math.Inf(1)}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := DemandEstimate(tt.r)
			if got != tt.want || ok != tt.ok {
				t.Errorf("DemandEstimate = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
