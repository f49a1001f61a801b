package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	// Unless told otherwise, the demo keeps its data apart from serve's and
	// its simulated supplier delivers a day of lead time per minute.
	args = withDefault(args, "data-dir", "mercato-demo-data")
	args = withDefault(args, "supplier-time-scale", "1440")
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
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()

	model := sim.NewModel(sim.Catalogue(d.skus, d.rate, d.seed))
	truth := filepath.Join(cfg.DataDir, "demo-ground-truth.json")
	if err := writeGroundTruth(truth, model, d.rate, d.seed); err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	base := "http://" + a.HTTPAddr()
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
	fmt.Fprintf(stdout, "  dashboard    %s/\n", base)
	fmt.Fprintf(stdout, "  admin token  %s\n", filepath.Join(cfg.DataDir, "admin-token"))
	fmt.Fprintf(stdout, "  ground truth %s (each SKU's demand, price elasticity and stock)\n", truth)
	fmt.Fprintf(stdout, "  Ctrl-C stops the shoppers, prints what they did against the model, then stops Mercato.\n\n")

	sctx := rctx
	if d.duration > 0 {
		var stop context.CancelFunc
		sctx, stop = context.WithTimeout(rctx, d.duration)
		defer stop()
	}
	status := func(s sim.Stats) string {
		return statusLine(s) + platformLine(ctx, r, model, s)
	}
	final := r.Run(sctx, 5*time.Second, func(s sim.Stats) { fmt.Fprintln(stdout, status(s)) })
	fmt.Fprintln(stdout, status(final))
	printGroundTruth(stdout, model, final)
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

// printGroundTruth compares the run with the model that drove it.
func printGroundTruth(w io.Writer, m sim.Model, s sim.Stats) {
	fmt.Fprintf(w, "\nAgainst the ground truth:\n")
	fmt.Fprintf(w, "  orders: the model expected %.1f at the prices shoppers saw, %d arrived\n", s.Expected, s.Arrived)
	if s.Reviews > 0 {
		fmt.Fprintf(w, "  review sentiment: the classifier agreed with the simulator on %d of %d reviews (%.1f %%)\n",
			s.ReviewsAgreed, s.Reviews, 100*float64(s.ReviewsAgreed)/float64(s.Reviews))
	}
	products := slices.Clone(m.Products)
	slices.SortFunc(products, func(a, b sim.Product) int { return int(s.PerSKU[b.SKU].Arrived - s.PerSKU[a.SKU].Arrived) })
	fmt.Fprintf(w, "  %-22s %10s %8s %6s %10s %10s %6s\n", "sku", "expected", "arrived", "paid", "list", "price now", "elast.")
	for _, p := range products[:min(len(products), 10)] {
		k := s.PerSKU[p.SKU]
		fmt.Fprintf(w, "  %-22s %10.1f %8d %6d %10d %10d %6.2f\n", p.SKU, k.Expected, k.Arrived, k.Paid, p.ListPrice, k.Price, p.Elasticity)
	}
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
