package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mercato-platform/mercato/internal/retry"

	"github.com/robfig/cron/v3"

	"github.com/mercato-platform/mercato/internal/lake"
)

// Clock is the scheduler's time source; tests drive a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SchedulerOptions configure the built-in scheduler.
type SchedulerOptions struct {
	// Cron is a 5-field cron expression in Location (default "10 0 * * *":
	// ten past midnight, when the day before is complete).
	Cron     string
	Location *time.Location
	// CatchUpDays is how far back missed days are looked for.
	CatchUpDays int
	// Retries are the extra attempts of a failed run, Backoff the wait
	// before the first (doubled each time).
	Retries int
	Backoff time.Duration
	// StaleEvery is how often days whose lake files changed are re-run.
	StaleEvery time.Duration
	Clock      Clock
	Logger     *slog.Logger
}

// Scheduler runs the daily sales report: on its cron schedule for the day
// that just ended, for days missed while it was down, and again for days
// whose lake data changed (late events) after their report.
type Scheduler struct {
	runner *Runner
	sched  cron.Schedule
	o      SchedulerOptions
}

// NewScheduler validates o and builds the scheduler.
func NewScheduler(runner *Runner, o SchedulerOptions) (*Scheduler, error) {
	if o.Cron == "" {
		o.Cron = "10 0 * * *"
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Minute
	}
	if o.StaleEvery <= 0 {
		o.StaleEvery = 5 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	sched, err := cron.ParseStandard(o.Cron)
	if err != nil {
		return nil, fmt.Errorf("report schedule %q: %w", o.Cron, err)
	}
	return &Scheduler{runner: runner, sched: sched, o: o}, nil
}

// Next is the first scheduled run after t.
func (s *Scheduler) Next(t time.Time) time.Time { return s.sched.Next(t.In(s.o.Location)) }

// Run catches up, then loops until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	// The first fire is computed before catching up, so a catch-up that
	// runs past it does not skip it.
	now := s.o.Clock.Now()
	next, stale := s.Next(now), now.Add(s.o.StaleEvery)
	if err := s.runner.store.AbandonRuns(ctx, now); err != nil {
		s.o.Logger.Warn("marking interrupted report runs failed", "err", err)
	}
	s.CatchUp(ctx)
	for {
		due := next
		if stale.Before(due) {
			due = stale
		}
		wait := due.Sub(s.o.Clock.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-s.o.Clock.After(max(wait, 0)):
		}
		now := s.o.Clock.Now()
		if !now.Before(next) {
			day := s.day(next).AddDate(0, 0, -1).Format(time.DateOnly)
			s.runWithRetries(ctx, day, TriggerSchedule)
			s.CatchUp(ctx)
			next = s.Next(now)
		}
		if !now.Before(stale) {
			s.RerunStale(ctx)
			stale = s.o.Clock.Now().Add(s.o.StaleEvery)
		}
	}
}

func (s *Scheduler) day(t time.Time) time.Time {
	t = t.In(s.o.Location)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.o.Location)
}

// CatchUp runs every day of the catch-up window, up to yesterday, that has
// lake data but no good report.
func (s *Scheduler) CatchUp(ctx context.Context) {
	today := s.day(s.o.Clock.Now())
	for i := s.o.CatchUpDays; i >= 1; i-- {
		if ctx.Err() != nil {
			return
		}
		day := today.AddDate(0, 0, -i).Format(time.DateOnly)
		if !s.hasData(day) {
			continue
		}
		_, _, err := s.runner.store.LastGoodRun(ctx, SalesReportName, day, day)
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrNoReport) {
			s.o.Logger.Warn("reading report history", "day", day, "err", err)
			continue
		}
		s.runWithRetries(ctx, day, TriggerCatchUp)
	}
}

func (s *Scheduler) hasData(day string) bool {
	for _, t := range lake.Tables {
		if files, err := lake.Files(s.runner.lake, t, day); err == nil && len(files) > 0 {
			return true
		}
	}
	return false
}

// RerunStale re-runs the days whose lake files changed after their last
// good report: late events landed in them.
func (s *Scheduler) RerunStale(ctx context.Context) {
	if s.runner.lake == "" {
		return
	}
	days := map[string]bool{}
	for _, t := range lake.Tables {
		ds, err := lake.Dates(s.runner.lake, t)
		if err != nil {
			s.o.Logger.Warn("listing lake days", "err", err)
			return
		}
		for _, d := range ds {
			days[d] = true
		}
	}
	today := s.day(s.o.Clock.Now()).Format(time.DateOnly)
	for day := range days {
		if ctx.Err() != nil || day >= today {
			continue
		}
		run, _, err := s.runner.store.LastGoodRun(ctx, SalesReportName, day, day)
		if err != nil {
			continue // never reported: catch-up's business, not staleness
		}
		if stale, err := s.runner.Stale(run); err == nil && stale {
			s.runWithRetries(ctx, day, TriggerStale)
		}
	}
}

// runWithRetries runs day, retrying with doubling backoff.
func (s *Scheduler) runWithRetries(ctx context.Context, day, trigger string) {
	p := retry.Policy{Backoff: retry.Backoff{First: s.o.Backoff}, Attempts: 1 + s.o.Retries, After: s.o.Clock.After}
	attempts := 0
	err := p.Do(ctx, func(attempt int) error {
		attempts = attempt
		_, err := s.runner.Run(ctx, day, day, trigger, attempt)
		if errors.Is(err, ErrRunInProgress) {
			return nil // another run of the day is under way
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.o.Logger.Error("report run gave up", "day", day, "attempts", attempts, "err", err)
	}
}
