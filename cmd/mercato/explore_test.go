package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// TestExplore is the randomized fault and timing explorer: for each seed it
// starts the real binary with timings drawn from the seed (payment latency
// and timeout, the tok_slow delay, recovery and sweep intervals, the
// reservation TTL, the relay's batch and poll interval), drives a random mix
// of checkouts, retries, cancels, stock adjustments and product bound
// changes from many clients, kill -9s and restarts the process at random
// moments, then stops it cleanly and checks the books against what the
// clients were told (see checkBooks). Timing decides what a run finds, and
// the operating system's scheduling is not replayed, so a seed replays the
// same configuration, workload and kill schedule, not the same
// interleaving; a failing seed is worth a few replays.
//
//	MERCATO_EXPLORE_SEEDS=N   seeds to run (default 3; 1 with -short)
//	MERCATO_EXPLORE_SEED=S    run seed S only
//	MERCATO_EXPLORE_LOAD=20s  length of each seed's load phase (default drawn, 6-10s)
//	MERCATO_EXPLORE_BINARY=P  run the binary at P instead of the one built from this tree
//
// docs/explorer.md describes what it varies and checks.
func TestExplore(t *testing.T) {
	t.Parallel()
	seeds, err := exploreSeeds()
	if err != nil {
		t.Fatal(err)
	}
	bin := binary
	if p := os.Getenv("MERCATO_EXPLORE_BINARY"); p != "" {
		bin = p
	}
	var load time.Duration
	if v := os.Getenv("MERCATO_EXPLORE_LOAD"); v != "" {
		if load, err = time.ParseDuration(v); err != nil || load <= 0 || load > 10*time.Minute {
			t.Fatalf("MERCATO_EXPLORE_LOAD=%q: want a duration up to 10m", v)
		}
	}
	t.Logf("exploring %d seed(s): %v", len(seeds), seeds)
	clean := 0
	for _, seed := range seeds {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cfg := drawExploreConfig(seed, load)
			t.Logf("seed %d: %s", seed, cfg)
			exploreSeed(t, bin, cfg)
			if t.Failed() {
				t.Logf("replay: MERCATO_EXPLORE_SEED=%d go test ./cmd/mercato -run '^TestExplore$' -count=1 -v", seed)
			}
		})
		if ok {
			clean++
		}
	}
	t.Logf("%d of %d seed(s) ran clean", clean, len(seeds))
}

// exploreSeeds reads which seeds to run from the environment. Without a
// fixed seed they start at a random one, so every run explores new ground;
// each is printed, and a failing one prints how to replay it.
func exploreSeeds() ([]uint64, error) {
	if v := os.Getenv("MERCATO_EXPLORE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("MERCATO_EXPLORE_SEED=%q: want an unsigned integer", v)
		}
		return []uint64{s}, nil
	}
	n := 3
	if testing.Short() {
		n = 1
	}
	if v := os.Getenv("MERCATO_EXPLORE_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100_000 {
			return nil, fmt.Errorf("MERCATO_EXPLORE_SEEDS=%q: want 1-100000", v)
		}
	}
	base := uint64(time.Now().UnixNano()%1_000_000) * 1000
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out, nil
}

// exploreConfig is everything a seed decides before the run starts.
type exploreConfig struct {
	seed    uint64
	profile string

	paymentTimeout, slowDelay, latency  time.Duration
	recoverAfter, sweep, reservationTTL time.Duration
	outboxBatch                         int
	outboxPoll, lakeFlush               time.Duration
	pricingSlide, pricingWindow         time.Duration

	clients int
	load    time.Duration
	// kills are the pauses, each measured from the moment the process was
	// last ready, after which it is kill -9ed and restarted.
	kills []time.Duration
	// down is how long the process stays dead after each kill.
	down []time.Duration

	// token weights of new orders: ok, decline, slow.
	tokens [3]int
	skus   int
	// cleanRestart stops the process cleanly and starts it again before
	// the log and the lake are read.
	cleanRestart bool
	// freeze sets the category rule of every SKU frozen part way through.
	freeze bool
	// adminEvery is the mean pause between admin operations (stock
	// adjustments are made by the clients; bound and rule changes by the
	// admin).
	adminEvery time.Duration
}

func (c exploreConfig) String() string {
	return fmt.Sprintf("profile=%s flags=%q clients=%d load=%s kills=%v down=%v tokens(ok,decline,slow)=%v skus=%d freeze=%v clean-restart=%v",
		c.profile, strings.Join(c.flags(), " "), c.clients, c.load, c.kills, c.down, c.tokens, c.skus, c.freeze, c.cleanRestart)
}

func (c exploreConfig) flags() []string {
	d := func(x time.Duration) string { return x.String() }
	return []string{
		"--payment-timeout", d(c.paymentTimeout),
		"--payment-slow-delay", d(c.slowDelay),
		"--payment-latency", d(c.latency),
		"--order-recover-after", d(c.recoverAfter),
		"--sweep-interval", d(c.sweep),
		"--reservation-ttl", d(c.reservationTTL),
		"--outbox-batch", strconv.Itoa(c.outboxBatch),
		"--outbox-poll-interval", d(c.outboxPoll),
		"--lake-flush-interval", d(c.lakeFlush),
		"--pricing-slide", d(c.pricingSlide),
		"--pricing-window", d(c.pricingWindow),
	}
}

// drawExploreConfig draws a seed's configuration. Three profiles: the
// recovery race (the sweep every 5ms, recovery just after the payment
// timeout and tok_slow just under it: a payment that commits a few
// milliseconds late meets the recovery loop), reservation expiry (holds
// that expire while tok_slow is still being authorized) and anything goes.
func drawExploreConfig(seed uint64, load time.Duration) exploreConfig {
	rng := rand.New(rand.NewPCG(seed, 0x6578706c6f7265))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	pick := func(ds ...time.Duration) time.Duration { return ds[rng.IntN(len(ds))] }
	c := exploreConfig{seed: seed}
	switch p := rng.IntN(100); {
	case p < 40:
		c.profile = "recovery-race"
		c.paymentTimeout = ms(300, 1200)
		c.slowDelay = c.paymentTimeout - ms(2, 30)
		c.recoverAfter = c.paymentTimeout + ms(1, 15)
		c.sweep = 5 * time.Millisecond
		c.reservationTTL = max(time.Second, c.recoverAfter+ms(500, 3000))
		c.clients = 24 + rng.IntN(25)
		c.tokens = [3]int{15, 5, 80}
	case p < 55:
		c.profile = "reservation-expiry"
		c.reservationTTL = time.Second
		c.slowDelay = ms(700, 1400)
		if rng.IntN(3) == 0 {
			c.paymentTimeout = c.slowDelay - ms(1, 300) // tok_slow times out: its outcome is unknown
		} else {
			c.paymentTimeout = c.slowDelay + ms(50, 1000)
		}
		c.recoverAfter = c.paymentTimeout + ms(1, 500)
		c.sweep = pick(5*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond)
		c.clients = 8 + rng.IntN(25)
		c.tokens = [3]int{40, 10, 50}
	default:
		c.profile = "random"
		c.paymentTimeout = ms(200, 2000)
		c.slowDelay = time.Duration(rng.Int64N(int64(c.paymentTimeout) * 3 / 2))
		if rng.IntN(2) == 0 {
			c.latency = ms(0, 50)
		}
		c.recoverAfter = c.paymentTimeout + ms(1, 2000)
		c.sweep = pick(5*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond, time.Second)
		c.reservationTTL = ms(1000, 10_000)
		c.clients = 4 + rng.IntN(29)
		c.tokens = [3]int{60, 15, 25}
	}
	c.outboxBatch = []int{20, 50, 500, 500}[rng.IntN(4)]
	if rng.IntN(5) == 0 {
		c.outboxBatch = 1 + 2*rng.IntN(2) // 1 or 3: a kill lands between most records
	}
	if c.outboxBatch < 10 {
		// A relay publishing a few rows per round trip drains a large
		// backlog slowly; a small load keeps the seed short.
		c.clients = min(c.clients, 6)
	}
	c.outboxPoll = pick(time.Millisecond, 20*time.Millisecond, 100*time.Millisecond)
	c.lakeFlush = ms(200, 1000)
	// The shortest slide the pricing role accepts with its default
	// out-of-orderness (5s) and allowed lateness (1m) within 16 buckets: it
	// moves prices within the run, so the price book holds prices a bound
	// change then leaves outside the bounds.
	c.pricingSlide = 5 * time.Second
	c.pricingWindow = c.pricingSlide * time.Duration(13+rng.IntN(3))
	c.load = load
	if c.load == 0 {
		c.load = ms(6000, 10_000)
	}
	for range []int{0, 1, 1, 1, 2, 3}[rng.IntN(6)] {
		c.kills = append(c.kills, ms(300, int(c.load/time.Millisecond)/2))
		c.down = append(c.down, ms(0, 300))
	}
	c.skus = 3 + rng.IntN(4)
	c.freeze = rng.IntN(3) == 0
	c.cleanRestart = rng.IntN(3) == 0
	c.adminEvery = ms(100, 600)
	return c
}

// exploreProc is one run of the binary. Its log goes to a file in the
// seed's directory, so a failing seed can show the log of every process,
// the killed ones included.
type exploreProc struct {
	cmd   *exec.Cmd
	http  string
	kafka string
	log   string
	done  chan struct{}
	err   error // the process's exit, once done is closed
}

func startExplore(t *testing.T, bin, dataDir string, httpPort, kafkaPort, n int, flags []string) *exploreProc {
	t.Helper()
	p := &exploreProc{
		http:  "127.0.0.1:" + strconv.Itoa(httpPort),
		kafka: "127.0.0.1:" + strconv.Itoa(kafkaPort),
		log:   filepath.Join(filepath.Dir(dataDir), fmt.Sprintf("mercato-%d.log", n)),
		done:  make(chan struct{}),
	}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, serveArgs(dataDir, p.http, p.kafka, flags)...)
	p.cmd.Stderr, p.cmd.Stdout = logf, logf
	p.cmd.Env = append(os.Environ(), "MERCATO_LOG_LEVEL=warn")
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	waitReady(t, p.http, 60*time.Second, p.done, func() string {
		select {
		case <-p.done: // p.err is set once done is closed
			return fmt.Sprintf("exit: %v\n%s", p.err, tail(p.log, 4000))
		default:
			return tail(p.log, 4000)
		}
	})
	return p
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *exploreProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and returns its exit.
func (p *exploreProc) stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not stop within %s of SIGTERM", timeout)
	}
}

// tail returns the last n bytes of a file.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(raw) > n {
		raw = raw[len(raw)-n:]
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	return string(raw)
}

// exploreSeed runs one seed: setup, load with kills, quiescence, sometimes
// a clean restart, the event log and the lake, a clean stop, the books.
func exploreSeed(t *testing.T, bin string, cfg exploreConfig) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	httpPort, kafkaPort := testenv.FreePort(t), testenv.FreePort(t)
	started := time.Now()
	nproc := 0
	start := func() *exploreProc {
		nproc++
		t0 := time.Now()
		p := startExplore(t, bin, dir, httpPort, kafkaPort, nproc, cfg.flags())
		t.Logf("process %d ready in %s", nproc, time.Since(t0).Round(time.Millisecond))
		return p
	}
	p := start()
	h := newHarness(cfg, "http://"+p.http, readToken(t, dir))
	if err := h.setup(); err != nil {
		t.Fatalf("setting up the catalogue: %v", err)
	}

	// Load, with kills.
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { h.drive(ctx); close(loadDone) }()
	end := time.Now().Add(cfg.load)
	for i, pause := range cfg.kills {
		time.Sleep(pause)
		killedAt := time.Now()
		h.killed(p.kill9)
		time.Sleep(cfg.down[i])
		p = start()
		h.restarted()
		end = end.Add(time.Since(killedAt)) // the load runs for cfg.load while the process is up
	}
	if rest := time.Until(end); rest > 0 {
		time.Sleep(rest)
	} else {
		time.Sleep(time.Second) // some load after the last restart
	}
	cancel()
	<-loadDone
	loadEnded := time.Now()

	// Finish what clients would finish: cancels whose answer was lost.
	h.finishCancels()
	// Quiescence: every checkout decided, every hold closed, the outbox
	// relayed. Recovery needs --order-recover-after plus a sweep.
	db := filepath.Join(dir, "mercato.db")
	quiet := cfg.recoverAfter + cfg.reservationTTL + cfg.sweep + 20*time.Second
	drained, err := waitQuiet(db, quiet)
	if err != nil {
		h.violate("not quiescent after the load: %v", err)
	}
	if cfg.cleanRestart {
		if err := p.stop(20 * time.Second); err != nil {
			h.violate("clean stop after the load: %v", err)
		}
		p = start()
	}
	// The log and the lake, read from the live process.
	live, err := readBooks(db)
	if err != nil {
		t.Fatalf("reading the books: %v", err)
	}
	var (
		events   map[string][]event.Envelope
		lakeRows []lake.Sale
	)
	if drained {
		if events, err = readEvents(p.kafka); err != nil {
			h.violate("reading the event log: %v", err)
			drained = false
		}
		if lakeRows, err = waitLake(filepath.Join(dir, "lake"), live.soldLines(), 30*time.Second); err != nil {
			h.violate("reading the lake: %v", err)
			drained = false
		}
	}
	// The books, read from the file a clean stop left.
	if err := p.stop(20 * time.Second); err != nil {
		h.violate("clean stop: %v", err)
	}
	books, err := readBooks(db)
	if err != nil {
		t.Fatalf("reading the books: %v", err)
	}

	h.check(books, events, lakeRows, drained)
	t.Logf("%s; load %s, whole seed %s", h.summary(books), loadEnded.Sub(started).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	if vs := h.violations(); len(vs) > 0 {
		const shown = 40
		for i, v := range vs {
			if i == shown {
				t.Errorf("... and %d more violations", len(vs)-shown)
				break
			}
			t.Errorf("%s", v)
		}
		for i := 1; i <= nproc; i++ {
			p := filepath.Join(root, fmt.Sprintf("mercato-%d.log", i))
			t.Logf("log of process %d (last lines):\n%s", i, tail(p, 1500))
		}
	}
}
