package reports_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/duckreport"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/reports"
	"github.com/mercato-platform/mercato/internal/reporttest"
)

var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err)
	}
	return loc
}()

// fakeClock moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// advance moves to t and wakes every waiter due by then.
func (c *fakeClock) advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// flakyEngine fails its first n queries, then behaves like the real engine.
type flakyEngine struct {
	reports.Engine
	failures atomic.Int32
}

func (e *flakyEngine) Query(ctx context.Context, q string) ([][]any, error) {
	if e.failures.Add(-1) >= 0 {
		return nil, errors.New("engine unavailable")
	}
	return e.Engine.Query(ctx, q)
}

func copyLake(t *testing.T) string {
	t.Helper()
	src, dst := reporttest.Lake(t), filepath.Join(t.TempDir(), "lake")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type fixture struct {
	lake   string
	out    string
	store  *memstore.Store
	engine *flakyEngine
	runner *reports.Runner
	clock  *fakeClock
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	f := &fixture{lake: copyLake(t), out: filepath.Join(t.TempDir(), "reports"), clock: &fakeClock{now: start},
		store: memstore.New(memstore.Options{})}
	duck, err := duckreport.Open(f.lake, duckreport.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { duck.Close() })
	f.engine = &flakyEngine{Engine: duck}
	f.runner = reports.NewRunner(f.engine, f.store, reports.RunnerOptions{LakeRoot: f.lake, OutputDir: f.out, Now: f.clock.Now})
	return f
}

// runsBy waits until the history holds n runs and returns them, oldest first.
func (f *fixture) runsBy(t *testing.T, n int) []reports.Run {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, err := f.store.Runs(context.Background(), reports.SalesReportName, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) >= n && f.clock.waiting() > 0 && runs[0].Status != reports.RunRunning {
			for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
				runs[i], runs[j] = runs[j], runs[i]
			}
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d runs, have %d: %+v", n, len(runs), runs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSchedulerCatchesUpRunsOnScheduleAndRerunsStaleDays(t *testing.T) {
	t.Parallel()
	// The scheduler starts on the 26th at 09:00 in Seoul: the 23rd and 24th
	// have lake data and no report (missed while it was down); the 25th has
	// no data and is left alone by catch-up.
	f := newFixture(t, time.Date(2026, 11, 26, 9, 0, 0, 0, seoul))
	s, err := reports.NewScheduler(f.runner, reports.SchedulerOptions{Cron: "10 0 * * *", Location: seoul, CatchUpDays: 7,
		Retries: 2, Backoff: time.Minute, StaleEvery: 5 * time.Minute, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	runs := f.runsBy(t, 2)
	if runs[0].From != reporttest.Day1 || runs[1].From != reporttest.Day2 || runs[0].Trigger != reports.TriggerCatchUp ||
		runs[0].Status != reports.RunSucceeded || runs[1].Status != reports.RunSucceeded {
		t.Fatalf("catch-up runs %+v", runs)
	}
	for _, ext := range []string{".json", ".csv", ".html"} {
		if _, err := os.Stat(filepath.Join(f.out, "sales", reporttest.Day2+ext)); err != nil {
			t.Errorf("report file: %v", err)
		}
	}

	// 27th 00:10: the scheduled run reports the 26th (a day without sales
	// still gets its report).
	f.clock.advance(time.Date(2026, 11, 27, 0, 10, 0, 0, seoul))
	runs = f.runsBy(t, 3)
	if r := runs[2]; r.From != "2026-11-26" || r.Trigger != reports.TriggerSchedule || r.Status != reports.RunSucceeded {
		t.Fatalf("scheduled run %+v", r)
	}

	// A late purchase for the 24th lands in the lake: that day is stale and
	// re-run at the next stale check, with the new line counted.
	before, _, err := f.runner.Latest(context.Background(), reporttest.Day2, reporttest.Day2)
	if err != nil {
		t.Fatal(err)
	}
	sink := lake.NewSink(lake.SinkOptions{Root: f.lake, Location: seoul})
	env, err := event.New("purchase", "test", "SKU-LATE", time.Date(2026, 11, 24, 21, 0, 0, 0, seoul), map[string]any{
		"sku": "SKU-LATE", "quantity": 2, "unit_price": 5000, "order_id": "ord_late", "category": "books", "base_price": 5000})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Add(event.TopicPurchases, 0, 0, env); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, run, _ := f.runner.Latest(context.Background(), reporttest.Day2, reporttest.Day2); !run.Stale {
		t.Fatal("a day whose lake files changed is not marked stale")
	}
	f.clock.advance(f.clock.Now().Add(6 * time.Minute))
	runs = f.runsBy(t, 4)
	if r := runs[3]; r.From != reporttest.Day2 || r.Trigger != reports.TriggerStale {
		t.Fatalf("stale re-run %+v", r)
	}
	after, run, err := f.runner.Latest(context.Background(), reporttest.Day2, reporttest.Day2)
	if err != nil || run.Stale {
		t.Fatalf("after re-run: stale %v, %v", run.Stale, err)
	}
	if after.Summary.Lines != before.Summary.Lines+1 || after.Summary.GrossRevenue != before.Summary.GrossRevenue+10_000 {
		t.Fatalf("re-run did not pick up the late line: %+v -> %+v", before.Summary, after.Summary)
	}

	// The engine fails twice at 28th 00:10: the run is retried after 1 and
	// 2 minutes and the third attempt succeeds.
	f.engine.failures.Store(2)
	f.clock.advance(time.Date(2026, 11, 28, 0, 10, 0, 0, seoul))
	f.runsBy(t, 5)
	f.clock.advance(f.clock.Now().Add(time.Minute))
	f.runsBy(t, 6)
	f.clock.advance(f.clock.Now().Add(2 * time.Minute))
	runs = f.runsBy(t, 7)
	for i, want := range []struct {
		attempt int
		status  reports.RunStatus
	}{{1, reports.RunFailed}, {2, reports.RunFailed}, {3, reports.RunSucceeded}} {
		r := runs[4+i]
		if r.From != "2026-11-27" || r.Attempt != want.attempt || r.Status != want.status {
			t.Fatalf("retry %d: %+v", i, r)
		}
	}
	if runs[4].Error == "" {
		t.Error("a failed run keeps its error")
	}
}

func TestRunnerRejectsBadRangesAndConcurrentRunsOfADay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Date(2026, 11, 26, 9, 0, 0, 0, seoul))
	if _, err := f.runner.Run(context.Background(), "2026-11-31", "2026-11-31", reports.TriggerManual, 1); !errors.Is(err, reports.ErrBadRange) {
		t.Fatalf("bad date: %v", err)
	}
	if _, _, err := f.runner.Latest(context.Background(), reporttest.Day1, reporttest.Day1); !errors.Is(err, reports.ErrNoReport) {
		t.Fatalf("no report yet: %v", err)
	}
	var wg sync.WaitGroup
	var inProgress, ok atomic.Int32
	for range 4 {
		wg.Go(func() {
			_, err := f.runner.Run(context.Background(), reporttest.Day1, reporttest.Day1, reports.TriggerManual, 1)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, reports.ErrRunInProgress):
				inProgress.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() < 1 || ok.Load()+inProgress.Load() != 4 {
		t.Fatalf("%d ran, %d refused", ok.Load(), inProgress.Load())
	}
	rep, run, err := f.runner.Latest(context.Background(), reporttest.Day1, reporttest.Day1)
	if err != nil || run.Status != reports.RunSucceeded || rep.Summary.Lines == 0 || len(run.Inputs) != 3 {
		t.Fatalf("latest %+v %+v %v", rep.Summary, run, err)
	}
}
