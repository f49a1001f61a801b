package simulate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/mercato-platform/mercato/internal/pricing"
)

// ErrInvalidOptions is wrapped by every Options validation error.
var ErrInvalidOptions = errors.New("invalid simulation options")

// Options say what to simulate.
type Options struct {
	SKUs, Days, Seeds int
	// Seed is the first seed; run k uses Seed+k.
	Seed       uint64
	DemandForm string // constant-elasticity, logit, linear or mixed
	Objective  string // margin or revenue
	Policies   []string
	// Workers run (seed, policy) pairs in parallel; 0 means GOMAXPROCS.
	Workers int
	// TraceSKUs is how many of the first seed's best sellers have their
	// price paths recorded (for the HTML report).
	TraceSKUs int
}

// Validate reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, a...)...))
	}
	if o.SKUs < 1 || o.SKUs > 100_000 {
		bad("--skus must be 1 to 100000, got %d", o.SKUs)
	}
	if o.Days < 1 || o.Days > 3650 {
		bad("--days must be 1 to 3650, got %d", o.Days)
	}
	if o.Seeds < 1 || o.Seeds > 1000 {
		bad("--seeds must be 1 to 1000, got %d", o.Seeds)
	}
	if !slices.Contains(append(slices.Clone(Forms), FormMixed), o.DemandForm) {
		bad("--demand-form must be constant-elasticity, logit, linear or mixed, got %q", o.DemandForm)
	}
	if o.Objective != pricing.ObjectiveMargin && o.Objective != pricing.ObjectiveRevenue {
		bad("--objective must be margin or revenue, got %q", o.Objective)
	}
	if len(o.Policies) == 0 {
		bad("--policies must name at least one of %v", Policies)
	}
	for _, p := range o.Policies {
		if !slices.Contains(Policies, p) {
			bad("--policies: unknown policy %q (known: %v)", p, Policies)
		}
	}
	if o.Workers < 0 || o.TraceSKUs < 0 {
		bad("workers and trace SKUs must not be negative")
	}
	return errors.Join(errs...)
}

// Stat is a mean over seeds with its 95 % confidence interval.
type Stat struct {
	Mean float64    `json:"mean"`
	CI95 [2]float64 `json:"ci95"`
}

// PolicyReport is one policy's results over the seeds.
type PolicyReport struct {
	Policy             string `json:"policy"`
	Revenue            Stat   `json:"revenue"`
	GrossMargin        Stat   `json:"gross_margin"`
	Units              Stat   `json:"units"`
	LostSales          Stat   `json:"lost_sales"`
	StockoutSKUHours   Stat   `json:"stockout_sku_hours"`
	InStockRate        Stat   `json:"in_stock_rate"`
	FillRate           Stat   `json:"fill_rate"`
	PriceChangesPerDay Stat   `json:"price_changes_per_sku_day"`
	PurchaseOrders     Stat   `json:"purchase_orders"`
	// OracleMarginShare is margin / the oracle's margin, per seed; absent
	// when the oracle did not run.
	OracleMarginShare *Stat `json:"oracle_margin_share,omitempty"`
	// MarginVsStaticList is margin / static-list's margin − 1, per seed.
	MarginVsStaticList *Stat `json:"margin_vs_static_list,omitempty"`
	// RevenueVsStaticList is revenue / static-list's revenue − 1, per seed.
	RevenueVsStaticList *Stat `json:"revenue_vs_static_list,omitempty"`
}

// Trace is one SKU's price path under each policy (first seed).
type Trace struct {
	SKU         string                  `json:"sku"`
	Form        string                  `json:"demand_form"`
	List        int64                   `json:"list_price"`
	Cost        int64                   `json:"unit_cost"`
	OraclePrice int64                   `json:"oracle_static_price"`
	Paths       map[string][]PricePoint `json:"paths"`
}

// Report is a simulation's result.
type Report struct {
	SKUs       int            `json:"skus"`
	Days       int            `json:"days"`
	Seeds      int            `json:"seeds"`
	Seed       uint64         `json:"seed"`
	DemandForm string         `json:"demand_form"`
	Objective  string         `json:"objective"`
	Policies   []PolicyReport `json:"policies"`
	Traces     []Trace        `json:"-"`
	// PerSeed holds each policy's totals per seed, in Policies order.
	PerSeed map[string][]Metrics `json:"-"`
}

// Run simulates every (seed, policy) pair and aggregates.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	policies := slices.Clone(o.Policies)
	sort.SliceStable(policies, func(i, j int) bool {
		return slices.Index(Policies, policies[i]) < slices.Index(Policies, policies[j])
	})
	policies = slices.Compact(policies)

	truths := make([]*Truth, o.Seeds)
	var truthOnce = make([]sync.Once, o.Seeds)
	truth := func(s int) *Truth {
		truthOnce[s].Do(func() { truths[s] = NewTruth(o.SKUs, o.Days, o.Seed+uint64(s), o.DemandForm) })
		return truths[s]
	}
	type job struct{ seed, pol int }
	results := make([][]Metrics, o.Seeds)
	for s := range results {
		results[s] = make([]Metrics, len(policies))
	}
	traces := make([]*trace, len(policies))
	jobs := make(chan job)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				t := truth(j.seed)
				var tr *trace
				if j.seed == 0 && o.TraceSKUs > 0 {
					tr = newTrace(t, o.TraceSKUs)
					traces[j.pol] = tr
				}
				m, err := runPolicy(t, o.Seed+uint64(j.seed), policies[j.pol], o.Objective, tr)
				if err != nil {
					errc <- err
					return
				}
				results[j.seed][j.pol] = m
			}
		}()
	}
	var err error
feed:
	// Seed-major order, dearest policies first, so workers finish together.
	for s := range o.Seeds {
		for _, pi := range dearestFirst(policies) {
			select {
			case jobs <- job{s, pi}:
			case err = <-errc:
				break feed
			case <-ctx.Done():
				err = ctx.Err()
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	if err != nil {
		return nil, fmt.Errorf("simulating: %w", err)
	}
	return aggregate(o, policies, results, truths[0], traces), nil
}

func dearestFirst(policies []string) []int {
	idx := make([]int, len(policies))
	for i := range idx {
		idx[i] = i
	}
	cost := func(p string) int {
		switch p {
		case PolicyLearn:
			return 0
		case PolicyRule:
			return 1
		case PolicyOracle:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cost(policies[a]) - cost(policies[b]) })
	return idx
}

func newTrace(t *Truth, n int) *trace {
	order := make([]int, len(t.SKUs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case t.SKUs[a].Rate > t.SKUs[b].Rate:
			return -1
		case t.SKUs[a].Rate < t.SKUs[b].Rate:
			return 1
		}
		return 0
	})
	tr := &trace{skus: map[int]int{}, active: true}
	for k, i := range order[:min(n, len(order))] {
		tr.skus[i] = k
	}
	tr.paths = make([][]PricePoint, len(tr.skus))
	return tr
}

func runPolicy(t *Truth, seed uint64, name, objective string, tr *trace) (Metrics, error) {
	var pol policy
	switch name {
	case PolicyStaticList:
		pol = staticList(t, tr)
	case PolicyOracleStatic:
		pol = oracleStatic(t, objective, tr)
	case PolicyOracle:
		pol = newOracle(t, objective, tr)
	default:
		pr, err := newPricer(t, name, objective, tr)
		if err != nil {
			return Metrics{}, err
		}
		m := run(t, seed, pr)
		if pr.err != nil {
			return Metrics{}, fmt.Errorf("%s policy: %w", name, pr.err)
		}
		return m, nil
	}
	return run(t, seed, pol), nil
}

// stat is the mean and a 95 % t-interval of xs.
func stat(xs []float64) Stat {
	n := float64(len(xs))
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / n
	if len(xs) < 2 {
		return Stat{Mean: mean, CI95: [2]float64{mean, mean}}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	half := tQuantile975(len(xs)-1) * math.Sqrt(ss/(n-1)/n)
	return Stat{Mean: mean, CI95: [2]float64{mean - half, mean + half}}
}

// tQuantile975 is Student's t 97.5 % quantile for df degrees of freedom.
func tQuantile975(df int) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	return 1.96
}

func aggregate(o Options, policies []string, results [][]Metrics, t0 *Truth, traces []*trace) *Report {
	r := &Report{SKUs: o.SKUs, Days: o.Days, Seeds: o.Seeds, Seed: o.Seed, DemandForm: o.DemandForm,
		Objective: o.Objective, PerSeed: map[string][]Metrics{}}
	idx := func(name string) int { return slices.Index(policies, name) }
	for pi, name := range policies {
		col := func(f func(s int, m Metrics) float64) Stat {
			xs := make([]float64, o.Seeds)
			for s := range o.Seeds {
				xs[s] = f(s, results[s][pi])
			}
			return stat(xs)
		}
		pr := PolicyReport{
			Policy:             name,
			Revenue:            col(func(_ int, m Metrics) float64 { return m.Revenue }),
			GrossMargin:        col(func(_ int, m Metrics) float64 { return m.Margin }),
			Units:              col(func(_ int, m Metrics) float64 { return float64(m.Units) }),
			LostSales:          col(func(_ int, m Metrics) float64 { return float64(m.Lost) }),
			StockoutSKUHours:   col(func(_ int, m Metrics) float64 { return m.StockoutHours }),
			InStockRate:        col(func(_ int, m Metrics) float64 { return 1 - m.StockoutHours/m.skuHours }),
			FillRate:           col(func(_ int, m Metrics) float64 { return float64(m.Units) / math.Max(1, float64(m.Units+m.Lost)) }),
			PriceChangesPerDay: col(func(_ int, m Metrics) float64 { return float64(m.PriceChanges) / m.skuDays }),
			PurchaseOrders:     col(func(_ int, m Metrics) float64 { return float64(m.POsRaised) }),
		}
		if oi := idx(PolicyOracle); oi >= 0 {
			s := col(func(s int, m Metrics) float64 { return m.Margin / results[s][oi].Margin })
			pr.OracleMarginShare = &s
		}
		if si := idx(PolicyStaticList); si >= 0 {
			m := col(func(s int, m Metrics) float64 { return m.Margin/results[s][si].Margin - 1 })
			rv := col(func(s int, m Metrics) float64 { return m.Revenue/results[s][si].Revenue - 1 })
			pr.MarginVsStaticList, pr.RevenueVsStaticList = &m, &rv
		}
		r.Policies = append(r.Policies, pr)
		per := make([]Metrics, o.Seeds)
		for s := range o.Seeds {
			per[s] = results[s][pi]
		}
		r.PerSeed[name] = per
	}
	if t0 != nil && len(traces) > 0 {
		var any *trace
		for _, tr := range traces {
			if tr != nil {
				any = tr
			}
		}
		if any != nil {
			order := make([]int, 0, len(any.skus))
			for i := range any.skus {
				order = append(order, i)
			}
			slices.SortFunc(order, func(a, b int) int { return any.skus[a] - any.skus[b] })
			for _, i := range order {
				k := &t0.SKUs[i]
				tr := Trace{SKU: k.ID, Form: k.Form, List: k.List, Cost: k.Cost,
					OraclePrice: max(k.Floor, min(k.Ceiling, bestPrice(k, o.Objective, 0, -1))), Paths: map[string][]PricePoint{}}
				for pi, name := range policies {
					if traces[pi] != nil {
						tr.Paths[name] = traces[pi].paths[traces[pi].skus[i]]
					}
				}
				r.Traces = append(r.Traces, tr)
			}
		}
	}
	return r
}
