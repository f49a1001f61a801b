package simulate

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func small(policies []string) Options {
	return Options{SKUs: 30, Days: 7, Seeds: 2, Seed: 7, DemandForm: FormMixed, Objective: "margin", Policies: policies}
}

// TestSimulateSameSeedSameJSON: the report is a function of the options:
// two runs (with different parallelism) write the same bytes.
func TestSimulateSameSeedSameJSON(t *testing.T) {
	t.Parallel()
	var out [2]bytes.Buffer
	for i, workers := range []int{1, 3} {
		o := small(Policies)
		o.Workers = workers
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Fatalf("same seed, different JSON:\n%s\n---\n%s", out[0].String(), out[1].String())
	}
	if !bytes.Contains(out[0].Bytes(), []byte(`"policy": "learn"`)) || !bytes.Contains(out[0].Bytes(), []byte(`"gross_margin": {`)) {
		t.Fatalf("unexpected JSON shape:\n%s", out[0].String())
	}
}

// TestSimulateCompare is a small compare on a fixed seed: learn earns more
// margin than list prices, and neither the rule nor list prices beat the
// oracle. It checks the simulator, not speed.
func TestSimulateCompare(t *testing.T) {
	t.Parallel()
	o := small(Policies)
	o.SKUs, o.Days, o.Seeds, o.DemandForm = 60, 21, 1, FormConstantElasticity
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	t.Log("\n" + buf.String())
	margin := map[string]float64{}
	for _, p := range r.Policies {
		margin[p.Policy] = p.GrossMargin.Mean
		if p.Units.Mean <= 0 {
			t.Errorf("%s sold nothing", p.Policy)
		}
	}
	if margin[PolicyLearn] <= margin[PolicyStaticList] {
		t.Errorf("learn margin %.0f ≤ static-list %.0f", margin[PolicyLearn], margin[PolicyStaticList])
	}
	for _, p := range []string{PolicyRule, PolicyStaticList} {
		if margin[p] > margin[PolicyOracle] {
			t.Errorf("%s margin %.0f exceeds the oracle's %.0f", p, margin[p], margin[PolicyOracle])
		}
	}
}

// TestSimulatePricesStayInBoundsAndSteps: every price every policy set, on
// every SKU of a run, is inside the SKU's bounds and within the step limit
// of the one before (property over a few seeds and all forms).
func TestSimulatePricesStayInBoundsAndSteps(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		o := small(Policies)
		o.Seed, o.Seeds, o.TraceSKUs, o.DemandForm = 100+seed, 1, 30, Forms[seed]
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		truth := NewTruth(o.SKUs, o.Days, o.Seed, o.DemandForm)
		bounds := map[string]*SKU{}
		for i := range truth.SKUs {
			bounds[truth.SKUs[i].ID] = &truth.SKUs[i]
		}
		changes := 0
		for _, tr := range r.Traces {
			k := bounds[tr.SKU]
			for name, path := range tr.Paths {
				for i, pt := range path {
					if pt.Price < k.Floor || pt.Price > k.Ceiling {
						t.Fatalf("%s: %s priced %d outside [%d, %d]", name, tr.SKU, pt.Price, k.Floor, k.Ceiling)
					}
					if i == 0 || name == PolicyOracleStatic {
						continue // a static price is a choice of list price, not a move
					}
					changes++
					prev := float64(path[i-1].Price)
					if float64(pt.Price) > prev*1.05+1e-9 || float64(pt.Price) < prev*0.95-1e-9 {
						t.Fatalf("%s: %s moved %d → %d, beyond the 5%% step", name, tr.SKU, path[i-1].Price, pt.Price)
					}
				}
			}
		}
		if changes < 100 {
			t.Fatalf("only %d price changes traced", changes)
		}
	}
}

func TestSimulateRefusesBadOptions(t *testing.T) {
	t.Parallel()
	o := small([]string{"learn", "guess"})
	o.DemandForm, o.Objective, o.SKUs = "cubic", "profit", 0
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Run(bad options) = %v, want ErrInvalidOptions", err)
	}
}
