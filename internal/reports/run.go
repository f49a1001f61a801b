package reports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/atomicfile"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
)

// RunStatus is where a run is.
type RunStatus string

// Run states.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Triggers say why a run happened.
const (
	TriggerSchedule = "schedule"
	TriggerCatchUp  = "catchup"
	TriggerStale    = "stale"
	TriggerManual   = "manual" // CLI
	TriggerAPI      = "api"
)

// Run is the record of one report run.
type Run struct {
	ID         string    `json:"id"`
	Report     string    `json:"report"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Engine     string    `json:"engine"`
	Trigger    string    `json:"trigger"`
	Attempt    int       `json:"attempt"`
	Status     RunStatus `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	DurationMS int64     `json:"duration_ms"`
	Inputs     []Input   `json:"inputs"`
	// Fingerprint identifies the lake files the run read; a day whose
	// files changed since its last good run is stale.
	Fingerprint string `json:"fingerprint"`
	Error       string `json:"error,omitempty"`
	Stale       bool   `json:"stale,omitempty"` // filled when listing
}

// RunStore keeps run records and the result of each good run.
type RunStore interface {
	StartRun(ctx context.Context, r Run) error
	FinishRun(ctx context.Context, r Run, result []byte) error
	// LastGoodRun returns the newest succeeded run of the range and its
	// result (the report as JSON); ErrNoReport when there is none.
	LastGoodRun(ctx context.Context, report, from, to string) (Run, []byte, error)
	// Runs lists the newest runs first.
	Runs(ctx context.Context, report string, limit int) ([]Run, error)
	// AbandonRuns marks runs still "running" that started before a time
	// as failed: their process died (the scheduler calls it as it starts).
	AbandonRuns(ctx context.Context, before time.Time) error
	// GetRun returns one run; ErrRunNotFound when there is none.
	GetRun(ctx context.Context, id string) (Run, error)
}

// Sentinels.
var (
	ErrNoReport      = errors.New("no report for that date")
	ErrRunInProgress = errors.New("a run for that date is in progress")
	ErrRunNotFound   = errors.New("report run not found")
)

// InProgressError is ErrRunInProgress naming the run this process has
// going for the range, so a caller can follow it instead.
type InProgressError struct {
	From, To string
	RunID    string
}

func (e *InProgressError) Error() string {
	return fmt.Sprintf("%s: %s..%s (run %s)", ErrRunInProgress, e.From, e.To, e.RunID)
}

func (e *InProgressError) Unwrap() error { return ErrRunInProgress }

// Runner runs reports and keeps their records and files.
type Runner struct {
	engine  Engine
	store   RunStore
	lake    string // lake root, for fingerprints ("" when the lake is not local)
	out     string // output directory (<data-dir>/reports)
	now     func() time.Time
	log     *slog.Logger
	mu      sync.Mutex
	running map[string]string // from..to -> id of the run going

	runs          *prometheus.CounterVec // finished runs by status
	lastSuccess   prometheus.Gauge
	lastSuccessAt time.Time // what lastSuccess shows; guarded by mu
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	LakeRoot  string
	OutputDir string
	Now       func() time.Time
	Logger    *slog.Logger
	// Registerer, when set, gets mercato_report_runs_total{status} and
	// mercato_report_last_success_timestamp_seconds.
	Registerer prometheus.Registerer
}

// NewRunner builds a runner on engine and store.
func NewRunner(engine Engine, store RunStore, o RunnerOptions) *Runner {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{engine: engine, store: store, lake: o.LakeRoot, out: o.OutputDir, now: o.Now, log: o.Logger, running: map[string]string{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_report_runs_total", Help: "Report runs this process finished, by status (succeeded or failed).",
		}, []string{"status"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mercato_report_last_success_timestamp_seconds", Help: "Unix time the last successful report run finished (this process's, or the run history's as the process started); 0 when none.",
		}),
	}
	// Both series exist from start, so "no success for a day" and failure
	// rates can be alerted on before the first run.
	r.runs.WithLabelValues(string(RunSucceeded))
	r.runs.WithLabelValues(string(RunFailed))
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.runs, r.lastSuccess)
	}
	return r
}

// RestoreMetrics sets mercato_report_last_success_timestamp_seconds from
// the recorded runs, so a restarted process does not look as if reports
// had never succeeded.
func (r *Runner) RestoreMetrics(ctx context.Context) error {
	runs, err := r.store.Runs(ctx, SalesReportName, 100)
	if err != nil {
		return fmt.Errorf("reading report runs: %w", err)
	}
	var last time.Time
	for _, run := range runs {
		if run.Status == RunSucceeded && run.FinishedAt.After(last) {
			last = run.FinishedAt
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !last.IsZero() && last.After(r.lastSuccessAt) {
		r.lastSuccessAt = last
		r.lastSuccess.Set(float64(last.UnixNano()) / 1e9)
	}
	return nil
}

// Engine returns the runner's engine name.
func (r *Runner) Engine() string { return r.engine.Name() }

// Run builds the sales report for from..to, stores the run and its result,
// and replaces the report files atomically. A failed run keeps the previous
// good result in place.
func (r *Runner) Run(ctx context.Context, from, to, trigger string, attempt int) (Run, error) {
	run, release, err := r.begin(ctx, from, to, trigger, attempt)
	if err != nil {
		return run, err
	}
	defer release()
	return r.build(ctx, run)
}

// Pending is a run going on in the background (Runner.Start).
type Pending struct {
	// Started is the run as recorded when it started (status running).
	Started Run
	done    chan struct{}
	run     Run
	err     error
}

// Done is closed when the run has finished and its outcome is recorded.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Result is what Run would have returned; call it once Done is closed.
func (p *Pending) Result() (Run, error) {
	<-p.done
	return p.run, p.err
}

// Start records a run as Run does and builds it in a goroutine on ctx,
// returning as soon as the run is recorded: a caller that cannot wait
// (an HTTP request) hands out the run's id and lets clients poll the
// record. ctx must outlive the caller; cancelling it fails the run.
func (r *Runner) Start(ctx context.Context, from, to, trigger string, attempt int) (*Pending, error) {
	run, release, err := r.begin(ctx, from, to, trigger, attempt)
	if err != nil {
		return nil, err
	}
	p := &Pending{Started: run, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		// Released before Done: whoever saw the run end may start the next.
		defer release()
		p.run, p.err = r.build(ctx, run)
	}()
	return p, nil
}

// begin checks the range, claims it for this process and records the run
// as running; release gives the claim back.
func (r *Runner) begin(ctx context.Context, from, to, trigger string, attempt int) (run Run, release func(), err error) {
	if err := CheckRange(from, to); err != nil {
		return Run{}, nil, err
	}
	id := "rpt_" + event.NewID()
	key := from + ".." + to
	r.mu.Lock()
	if going, ok := r.running[key]; ok {
		r.mu.Unlock()
		return Run{}, nil, &InProgressError{From: from, To: to, RunID: going}
	}
	r.running[key] = id
	r.mu.Unlock()
	release = func() {
		r.mu.Lock()
		delete(r.running, key)
		r.mu.Unlock()
	}
	fp, err := Fingerprint(r.lake, from, to)
	if err != nil {
		release()
		return Run{}, nil, err
	}
	start := r.now().UTC().Truncate(time.Microsecond)
	run = Run{ID: id, Report: SalesReportName, From: from, To: to, Engine: r.engine.Name(),
		Trigger: trigger, Attempt: max(attempt, 1), Status: RunRunning, StartedAt: start, Fingerprint: fp, Inputs: []Input{}}
	if err := r.store.StartRun(ctx, run); err != nil {
		release()
		return run, nil, fmt.Errorf("recording run: %w", err)
	}
	return run, release, nil
}

// build runs a recorded run and records its outcome.
func (r *Runner) build(ctx context.Context, run Run) (Run, error) {
	from, to, start := run.From, run.To, run.StartedAt
	rep, err := Build(ctx, r.engine, from, to, start)
	var result []byte
	if err == nil {
		run.Inputs = rep.Inputs
		if run.Inputs == nil {
			run.Inputs = []Input{}
		}
		result, err = json.Marshal(rep)
	}
	if err == nil && r.out != "" {
		err = r.writeFiles(rep)
	}
	run.FinishedAt = r.now().UTC().Truncate(time.Microsecond)
	run.DurationMS = run.FinishedAt.Sub(start).Milliseconds()
	run.Status = RunSucceeded
	if err != nil {
		run.Status, run.Error, result = RunFailed, err.Error(), nil
	}
	// The record is finished with a fresh context: a cancelled run must not
	// stay "running" forever.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ferr := r.store.FinishRun(fctx, run, result)
	// A run whose outcome could not be recorded counts as failed: it is
	// reported to the caller as one.
	if run.Status == RunSucceeded && ferr == nil {
		r.runs.WithLabelValues(string(RunSucceeded)).Inc()
		r.mu.Lock()
		if run.FinishedAt.After(r.lastSuccessAt) {
			r.lastSuccessAt = run.FinishedAt
			r.lastSuccess.Set(float64(run.FinishedAt.UnixNano()) / 1e9)
		}
		r.mu.Unlock()
	} else {
		r.runs.WithLabelValues(string(RunFailed)).Inc()
	}
	if ferr != nil {
		return run, errors.Join(err, fmt.Errorf("recording run result: %w", ferr))
	}
	if err != nil {
		r.log.Warn("report run failed", "from", from, "to", to, "engine", run.Engine, "attempt", run.Attempt, "err", err)
		return run, err
	}
	r.log.Info("report run finished", "from", from, "to", to, "engine", run.Engine, "ms", run.DurationMS, "trigger", run.Trigger)
	return run, nil
}

// Name of a report's files: the day, or from_to for a range.
func fileStem(from, to string) string {
	if from == to {
		return from
	}
	return from + "_" + to
}

// writeFiles replaces <out>/sales/<day>.{json,csv,html}, each atomically.
func (r *Runner) writeFiles(rep SalesReport) error {
	dir := filepath.Join(r.out, SalesReportName)
	stem := fileStem(rep.From, rep.To)
	for ext, write := range map[string]func(io.Writer, SalesReport) error{".json": WriteJSON, ".csv": WriteCSV, ".html": WriteHTML} {
		if err := atomicfile.Write(filepath.Join(dir, stem+ext), func(w io.Writer) error { return write(w, rep) }); err != nil {
			return fmt.Errorf("writing %s report: %w", ext, err)
		}
	}
	return nil
}

// Fingerprint hashes the names, sizes and modification times of the lake
// files a report of from..to reads. "" when the lake is not local.
func Fingerprint(root, from, to string) (string, error) {
	if root == "" {
		return "", nil
	}
	days, err := lake.DaysBetween(from, to)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, t := range lake.Tables {
		for _, d := range days {
			files, err := lake.Files(root, t, d)
			if err != nil {
				return "", err
			}
			for _, f := range files {
				fmt.Fprintf(h, "%s\x00%d\x00%d\n", f.Path, f.Size, f.ModTime.UnixNano())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// Stale reports whether the lake changed since run read it.
func (r *Runner) Stale(run Run) (bool, error) {
	return r.stale(run, map[[2]string]string{})
}

// stale is Stale with the current fingerprints of ranges already listed,
// so runs of one range list the lake once.
func (r *Runner) stale(run Run, current map[[2]string]string) (bool, error) {
	if r.lake == "" || run.Status != RunSucceeded {
		return false, nil
	}
	key := [2]string{run.From, run.To}
	fp, ok := current[key]
	if !ok {
		var err error
		if fp, err = Fingerprint(r.lake, run.From, run.To); err != nil {
			return false, err
		}
		current[key] = fp
	}
	return fp != run.Fingerprint, nil
}

// Latest returns the newest good report of from..to, with its run.
func (r *Runner) Latest(ctx context.Context, from, to string) (SalesReport, Run, error) {
	if err := CheckRange(from, to); err != nil {
		return SalesReport{}, Run{}, err
	}
	run, raw, err := r.store.LastGoodRun(ctx, SalesReportName, from, to)
	if err != nil {
		return SalesReport{}, Run{}, err
	}
	var rep SalesReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return SalesReport{}, Run{}, fmt.Errorf("decoding stored report %s: %w", run.ID, err)
	}
	run.Stale, _ = r.Stale(run)
	return rep, run, nil
}

// GetRun returns one run, marked stale when its lake data changed since.
func (r *Runner) GetRun(ctx context.Context, id string) (Run, error) {
	run, err := r.store.GetRun(ctx, id)
	if err != nil {
		return Run{}, err
	}
	run.Stale, _ = r.Stale(run)
	return run, nil
}

// Runs lists the newest runs, each marked stale when its lake data changed.
func (r *Runner) Runs(ctx context.Context, limit int) ([]Run, error) {
	runs, err := r.store.Runs(ctx, SalesReportName, limit)
	if err != nil {
		return nil, err
	}
	current := map[[2]string]string{}
	for i := range runs {
		runs[i].Stale, _ = r.stale(runs[i], current)
	}
	return runs, nil
}
