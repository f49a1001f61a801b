package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/config"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "orders" {
		fmt.Fprintln(stderr, "mercato: usage: mercato bench orders [--url URL --admin-token T] [--clients 16,128] [--duration 10s] [--skus 1000] [--watchers 0 [--watch-sample 10]]")
		return exitConfig
	}
	fs := flag.NewFlagSet("bench orders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "base URL of a running Mercato, or several comma-separated (api processes of one deployment: the clients are spread over them); empty starts an embedded one in a temp dir")
	token := fs.String("admin-token", os.Getenv("MERCATO_ADMIN_TOKEN"), "admin token of --url (to create the benchmark SKUs)")
	clients := fs.String("clients", "16,128", "comma-separated concurrent client counts, one run each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	skus := fs.Int("skus", 1000, "SKUs the orders spread over")
	items := fs.Int("items", 1, "lines per order")
	roles := fs.String("roles", config.RoleAll, "roles the embedded platform runs (see serve --roles); all by default, api alone to measure the checkout tier without the event consumers")
	watchers := fs.Int("watchers", 0, "live event streams (all topics, as the admin) held open during the runs, as console tabs would be; their event count is reported")
	watchSample := fs.Int("watch-sample", 10, "each watcher's ?sample (events of each type per write), as the console asks; 0 asks for every event")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (embedded server included) to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return exitConfig
	}
	var counts []int
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 4096 {
			fmt.Fprintf(stderr, "mercato: --clients: %q is not a count 1-4096\n", c)
			return exitConfig
		}
		counts = append(counts, n)
	}
	if *skus < 1 || *items < 1 || *items > *skus || *items > 50 || *duration <= 0 {
		fmt.Fprintln(stderr, "mercato: --skus, --items (1-50, at most --skus) and --duration must be positive")
		return exitConfig
	}
	if *watchers < 0 || *watchers > 4096 || *watchSample < 0 || *watchSample > 1000 {
		fmt.Fprintln(stderr, "mercato: --watchers must be 0-4096 and --watch-sample 0-1000")
		return exitConfig
	}
	if *url != "" && *roles != config.RoleAll {
		fmt.Fprintln(stderr, "mercato: --roles applies to the embedded platform, not to --url")
		return exitConfig
	}
	if list, err := (&config.Config{Roles: *roles}).RoleList(); err != nil || !slices.Contains(list, config.RoleAPI) {
		if err == nil {
			err = fmt.Errorf("%q does not include %s, which serves the orders", *roles, config.RoleAPI)
		}
		fmt.Fprintf(stderr, "mercato: --roles: %v\n", err)
		return exitConfig
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
		defer pprof.StopCPUProfile()
	}
	base, tok := *url, *token
	if base == "" {
		dir, err := os.MkdirTemp("", "mercato-bench-")
		if err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
		defer os.RemoveAll(dir)
		var cfg config.Config
		cfs := flag.NewFlagSet("bench", flag.ContinueOnError)
		cfg.RegisterFlags(cfs)
		_ = cfs.Parse([]string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0", "--log-level", "warn", "--roles", *roles})
		app.SpareProcs(cfg)
		a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			printErrors(stderr, err)
			return exitFor(err)
		}
		defer a.Close()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(rctx) }()
		defer func() { cancel(); <-done }()
		base, tok = "http://"+a.HTTPAddr(), a.AdminToken()
		writer := fmt.Sprintf("writer nice %+d", cfg.Store.SQLiteNice)
		if err := a.WriterPriority(); err != nil {
			writer = "writer at the process's priority: " + err.Error()
		}
		fmt.Fprintf(stdout, "embedded Mercato in %s (SQLite synchronous=FULL, %s, GOMAXPROCS %d on %d CPUs; broker with fsync'd writes; roles: %s)\n",
			dir, writer, runtime.GOMAXPROCS(0), runtime.NumCPU(), *roles)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}}
	// Several api processes share one system of record: the SKUs are
	// created through the first.
	bases := strings.Split(base, ",")
	base = bases[0]
	if err := createBenchSKUs(ctx, client, base, tok, *skus); err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	if *watchers > 0 {
		w, err := startWatchers(ctx, base, tok, *watchers, *watchSample)
		if err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
		defer func() { w.stop(); fmt.Fprintln(stdout, w) }()
	}
	fmt.Fprintf(stdout, "%-8s %10s %10s %10s %10s %8s\n", "clients", "orders", "orders/s", "p50 ms", "p99 ms", "errors")
	for _, c := range counts {
		r := benchOrders(ctx, client, bases, c, *duration, *skus, *items)
		fmt.Fprintf(stdout, "%-8d %10d %10.0f %10.2f %10.2f %8d\n", c, r.ok, float64(r.ok)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.errors)
		if ctx.Err() != nil {
			break
		}
	}
	return exitOK
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func createBenchSKUs(ctx context.Context, client *http.Client, base, token string, n int) error {
	for i := range n {
		body := fmt.Sprintf(`{"name":"벤치마크 상품 %d","category":"bench","base_price":%d,"price_floor":1000,"price_ceiling":1000000,"stock":1000000000}`, i, 1000+i*10)
		req, err := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/v1/products/BENCH-%05d", base, i), strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("creating benchmark SKUs: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			return fmt.Errorf("creating benchmark SKUs: PUT answered %d (is --admin-token right?)", resp.StatusCode)
		}
	}
	return nil
}

type benchResult struct {
	ok, errors int64
	elapsed    time.Duration
	p50, p99   time.Duration
}

func benchOrders(ctx context.Context, client *http.Client, bases []string, clients int, d time.Duration, skus, items int) benchResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		ok, failed atomic.Int64
		seq        atomic.Int64
		mu         sync.Mutex
		lat        []time.Duration
		wg         sync.WaitGroup
	)
	run := time.Now().UnixNano()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			var b strings.Builder
			for ctx.Err() == nil {
				n := seq.Add(1)
				b.Reset()
				b.WriteString(`{"items":[`)
				for k := range items {
					if k > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"sku":"BENCH-%05d","quantity":1}`, (int(n)*7+k*131)%skus)
				}
				b.WriteString(`],"payment":{"method":"card","token":"tok_ok"}}`)
				req, _ := http.NewRequestWithContext(ctx, "POST", bases[c%len(bases)]+"/v1/orders", strings.NewReader(b.String()))
				req.Header.Set("X-Customer-ID", "bench-"+strconv.Itoa(c))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("%d-%d", run, n))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
				ok.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := benchResult{ok: ok.Load(), errors: failed.Load(), elapsed: time.Since(start)}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}
