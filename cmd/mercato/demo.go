package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/atomicfile"
	"github.com/mercato-platform/mercato/internal/sim"
)

// demoFlags are the demo's own flags, beside serve's.
type demoFlags struct {
	rate     float64
	skus     int
	seed     uint64
	duration time.Duration
	shoppers int
}

// demoServeDefaults are serve flags whose default the demo changes: it
// keeps its data apart from serve's, its simulated supplier delivers a day
// of lead time per minute, and Ctrl-C stops it at once (no load balancer
// to drain from). `mercato help demo` shows these too.
func demoServeDefaults() [][2]string {
	return [][2]string{{"data-dir", "mercato-demo-data"}, {"supplier-time-scale", "1440"}, {"shutdown-drain", "0s"}}
}

func (d *demoFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&d.rate, "rate", 600, "expected orders per minute over the catalogue at list prices (the day's mean; the hour of day moves it)")
	fs.IntVar(&d.skus, "skus", 24, "products in the simulated catalogue")
	fs.Uint64Var(&d.seed, "seed", 1, "seed of the catalogue and the shoppers")
	fs.DurationVar(&d.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.IntVar(&d.shoppers, "shoppers", 16, "requests the shoppers keep in flight at most")
}

// runDemo runs the whole platform on embedded engines and drives it with
// the traffic simulator, whose demand model is written beside the data as
// the ground truth.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var d demoFlags
	for _, def := range demoServeDefaults() {
		args = withDefault(args, def[0], def[1])
	}
	cfg, code, ok := loadConfig("demo", args, stderr, d.register)
	if !ok {
		return code
	}
	if d.rate <= 0 || d.skus < 1 || d.skus > 10000 || d.shoppers < 1 || d.duration < 0 {
		fmt.Fprintln(stderr, "mercato: --rate must be positive, --skus 1-10000, --shoppers at least 1, --duration not negative")
		return exitConfig
	}
	a, _, code := openApp(ctx, cfg, stderr)
	if a == nil {
		return code
	}
	defer a.Close()
	// The platform outlives Ctrl-C until the summary has read what it did;
	// only the shoppers stop with ctx.
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()

	model := sim.NewModel(sim.Catalogue(d.skus, d.rate, d.seed))
	truth := filepath.Join(cfg.DataDir, "demo-ground-truth.json")
	if err := writeGroundTruth(truth, model, d.rate, d.seed); err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	base := "http://" + a.HTTPAddr()
	// The console first: it is what a newcomer opens while the shoppers start.
	fmt.Fprintf(stdout, "Mercato console: %s/  (admin token in %s)\n", base, filepath.Join(cfg.DataDir, "admin-token"))
	r := &sim.Runner{Base: base, AdminToken: a.AdminToken(), Model: model, Seed: d.seed, Shoppers: d.shoppers,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: d.shoppers + 8}}}
	if err := r.Setup(ctx); err != nil {
		printErrors(stderr, err)
		cancel()
		<-done
		return exitRuntime
	}
	fmt.Fprintf(stdout, "Mercato demo: %d products, about %.0f orders a minute at this hour (%.0f at the day's mean)\n",
		d.skus, model.TotalRate(time.Now()), d.rate)
	fmt.Fprintf(stdout, "  ground truth %s (each SKU's demand, price elasticity, unit cost and stock)\n", truth)
	fmt.Fprintf(stdout, "  Ctrl-C stops the shoppers, prints what they did against the model, then stops Mercato.\n\n")

	sctx := ctx
	if d.duration > 0 {
		var stop context.CancelFunc
		sctx, stop = context.WithTimeout(ctx, d.duration)
		defer stop()
	}
	status := func(s sim.Stats) string {
		return statusLine(s) + platformLine(actx, r, model, s)
	}
	final := r.Run(sctx, 5*time.Second, func(s sim.Stats) { fmt.Fprintln(stdout, status(s)) })
	fmt.Fprintln(stdout, status(final))
	// Bounded: after Ctrl-C a second one no longer interrupts.
	pctx, stop := context.WithTimeout(actx, 15*time.Second)
	pl, err := r.Platform(pctx, final.Start, final.Start.Add(final.Elapsed))
	stop()
	printSummary(stdout, demoRun{Model: model, Stats: final, Platform: pl, PlatformErr: err})
	cancel()
	if err := <-done; err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	return exitOK
}

// withDefault puts --name value before args unless args or the
// environment (MERCATO_NAME) set it.
func withDefault(args []string, name, value string) []string {
	if slices.ContainsFunc(args, func(a string) bool {
		a = strings.TrimLeft(a, "-")
		return a == name || strings.HasPrefix(a, name+"=")
	}) || os.Getenv("MERCATO_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))) != "" {
		return args
	}
	return append([]string{"--" + name, value}, args...)
}

func statusLine(s sim.Stats) string {
	return fmt.Sprintf("%6.0fs  orders %d: paid %d, declined %d, out of stock %d, cancelled %d, failed %d, skipped %d | reviews %d",
		s.Elapsed.Seconds(), s.Arrived, s.Paid, s.Declined, s.OutOfStock, s.Cancelled, s.Failed, s.Skipped, s.Reviews)
}

// platformLine is what the platform did meanwhile: prices moved,
// low-stock alerts, purchase orders (read back from the API; "1000+" past
// one page).
func platformLine(ctx context.Context, r *sim.Runner, m sim.Model, s sim.Stats) string {
	moved := 0
	for _, p := range m.Products {
		if k := s.PerSKU[p.SKU]; k.Price != p.ListPrice {
			moved++
		}
	}
	count := func(path string) string {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if status, err := r.Get(ctx, path, &list); err != nil || status != http.StatusOK {
			return "?"
		}
		if len(list.Items) >= 1000 {
			return "1000+"
		}
		return fmt.Sprint(len(list.Items))
	}
	return fmt.Sprintf(" | prices moved %d/%d, low-stock alerts %s, purchase orders %s",
		moved, len(m.Products), count("/v1/alerts?type=low_stock&limit=1000"), count("/v1/purchase-orders?limit=1000"))
}

// demoRun is what the demo's end summary reads: the ground truth, what
// the shoppers met, and what the platform did (PlatformErr if it could not
// be read).
type demoRun struct {
	Model       sim.Model
	Stats       sim.Stats
	Platform    sim.Platform
	PlatformErr error
}

// printSummary compares the run with the model that drove it: money
// observed against the model's expectation at the prices charged and at
// static list prices, then what the platform did, then the busiest SKUs.
func printSummary(w io.Writer, run demoRun) {
	m, s, pl := run.Model, run.Stats, run.Platform
	exp := m.ExpectRun(s, pl.Deliveries)
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	fmt.Fprintf(w, "\nAgainst the ground truth: %s from %s\n", s.Elapsed.Round(time.Second), s.Start.In(loc).Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(w, "  %-42s %10s %15s %17s\n", "", "units", "revenue ₩", "gross margin ₩")
	fmt.Fprintf(w, "  %-42s %10d %15s %17s\n", "observed  sold (paid, less cancellations)", s.Paid-s.Cancelled, won(float64(s.Revenue)), won(float64(s.Margin)))
	for _, row := range []struct {
		label string
		e     sim.Expectation
	}{{"model     at the prices charged", exp.Charged}, {"model     at static list prices", exp.List}} {
		fmt.Fprintf(w, "  %-42s %10.1f %15s %17s\n", row.label, row.e.Units, won(row.e.Revenue), won(row.e.Margin))
	}
	fmt.Fprintf(w, "  %-42s %10s %15s %17s\n", "model     charged vs list", pct(exp.Charged.Units, exp.List.Units),
		pct(exp.Charged.Revenue, exp.List.Revenue), pct(exp.Charged.Margin, exp.List.Margin))
	fmt.Fprintf(w, "  %-42s %10.1f\n", "model     lost to empty shelves, charged", exp.Charged.Lost)
	fmt.Fprintf(w, "  %-42s %10.1f\n", "model     lost to empty shelves, list", exp.List.Lost)
	fmt.Fprintf(w, "  observed: what the API answered the shoppers. model: expected values of the ground truth over the\n")
	fmt.Fprintf(w, "  same minutes, from the same stock and deliveries, net of %.0f %% declines and %.0f %% cancellations.\n",
		100*m.DeclineRate, 100*m.CancelRate)
	if run.PlatformErr != nil {
		fmt.Fprintf(w, "  (the platform could not be read, so the model assumes no deliveries: %v)\n", run.PlatformErr)
	}

	fmt.Fprintf(w, "\n  observed orders:   %d arrived, %d paid, %d cancelled, %d refused for stock (409 insufficient_stock),\n",
		s.Arrived, s.Paid, s.Cancelled, s.OutOfStock)
	fmt.Fprintf(w, "                     %d declined (402 payment_declined), %d failed, %d skipped (every shopper busy)\n",
		s.Declined, s.Failed, s.Skipped)
	moved := 0
	for _, p := range m.Products {
		if s.PerSKU[p.SKU].Price != p.ListPrice {
			moved++
		}
	}
	if run.PlatformErr == nil {
		fmt.Fprintf(w, "  observed platform: %s low-stock alerts, %s purchase orders raised, %s received; %d of %d prices off list at the end\n",
			pl.LowStockAlerts, pl.PurchaseOrdersRaised, pl.PurchaseOrdersReceived, moved, len(m.Products))
	}
	fmt.Fprintf(w, "  model orders:      %.1f expected at the prices shoppers saw (before declines and stock), %d arrived\n", s.Expected, s.Arrived)
	if s.Reviews > 0 {
		fmt.Fprintf(w, "  review sentiment:  the classifier agreed with the simulator on %d of %d reviews (%.1f %%)\n",
			s.ReviewsAgreed, s.Reviews, 100*float64(s.ReviewsAgreed)/float64(s.Reviews))
	}

	products := slices.Clone(m.Products)
	slices.SortStableFunc(products, func(a, b sim.Product) int { return cmp.Compare(s.PerSKU[b.SKU].Arrived, s.PerSKU[a.SKU].Arrived) })
	fmt.Fprintf(w, "\n  %-20s %6s %8s %8s %8s %8s %6s %13s %13s %13s\n", "sku", "elast.", "list", "cost", "price", "arrived", "sold",
		"margin obs.", "model@charged", "model@list")
	shown := products[:min(len(products), 10)]
	for _, p := range shown {
		k, e := s.PerSKU[p.SKU], exp.PerSKU[p.SKU]
		fmt.Fprintf(w, "  %-20s %6.2f %8d %8d %8d %8d %6d %13s %13s %13s\n", p.SKU, p.Elasticity, p.ListPrice, p.Reorder.UnitCost,
			k.Price, k.Arrived, k.Paid-k.Cancelled, won(float64(k.Margin)), won(e.Charged.Margin), won(e.List.Margin))
	}
	fmt.Fprintf(w, "  (%d of %d SKUs, most arrivals first; gross margin in won: observed, model at the prices charged, model at list)\n",
		len(shown), len(products))
}

// won formats an amount of won with thousands separators.
func won(v float64) string {
	n := int64(math.Round(v))
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// pct is the change from b to a in per cent, signed.
func pct(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f %%", 100*(a-b)/math.Abs(b))
}

func writeGroundTruth(path string, m sim.Model, rate float64, seed uint64) error {
	doc := struct {
		Model        string        `json:"model"`
		Rate         float64       `json:"orders_per_minute"`
		Seed         uint64        `json:"seed"`
		TimeZone     string        `json:"time_zone"`
		Hourly       [24]float64   `json:"hourly_multiplier"`
		DeclineRate  float64       `json:"decline_rate"`
		CancelRate   float64       `json:"cancel_rate"`
		ReviewRate   float64       `json:"review_rate"`
		PositiveRate float64       `json:"positive_review_rate"`
		Products     []sim.Product `json:"products"`
	}{
		Model: "rate = orders_per_minute_at_list_price * hourly_multiplier[hour] * (price / list_price) ^ -price_elasticity; Poisson arrivals",
		Rate:  rate, Seed: seed, TimeZone: m.Location.String(), Hourly: m.Hourly,
		DeclineRate: m.DeclineRate, CancelRate: m.CancelRate, ReviewRate: m.ReviewRate, PositiveRate: m.PositiveRate,
		Products: m.Products,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the ground truth: %w", err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(append(out, '\n')); return err }); err != nil {
		return fmt.Errorf("writing the ground truth: %w", err)
	}
	return nil
}
