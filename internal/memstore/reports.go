package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

// runRecord is a stored report run. result is nil until a run stores one.
type runRecord struct {
	run    reports.Run
	result []byte
}

// read returns the run as the store reports it: its duration is derived
// from its times, and Stale is the reader's to fill.
func (r runRecord) read() reports.Run {
	run := r.run
	run.Inputs = slices.Clone(r.run.Inputs)
	if run.FinishedAt.UnixMicro() > 0 {
		run.DurationMS = run.FinishedAt.Sub(run.StartedAt).Milliseconds()
	} else {
		run.FinishedAt = time.Time{}
	}
	return run
}

// StartRun records a run as running (reports.RunStore).
func (s *Store) StartRun(ctx context.Context, r reports.Run) error {
	return s.write(ctx, func(t *tx) error {
		if _, ok := s.runs[r.ID]; ok {
			return fmt.Errorf("recording report run %s: the id is taken", r.ID)
		}
		set(t, s.runs, r.ID, runRecord{run: reports.Run{
			ID: r.ID, Report: r.Report, From: r.From, To: r.To, Engine: r.Engine, Trigger: r.Trigger, Attempt: r.Attempt,
			Status: r.Status, StartedAt: stamp(r.StartedAt), Inputs: []reports.Input{}, Fingerprint: r.Fingerprint,
		}})
		return nil
	})
}

// FinishRun stores a run's outcome and, for a good run, its result.
func (s *Store) FinishRun(ctx context.Context, r reports.Run, result []byte) error {
	return s.write(ctx, func(t *tx) error {
		rec, ok := s.runs[r.ID]
		if !ok {
			return nil // as an UPDATE of no row
		}
		rec.run.Status, rec.run.FinishedAt, rec.run.Error = r.Status, stamp(r.FinishedAt), r.Error
		rec.run.Inputs = slices.Clone(r.Inputs)
		rec.result = slices.Clone(result)
		set(t, s.runs, r.ID, rec)
		return nil
	})
}

// LastGoodRun returns the newest succeeded run of a range and its result.
func (s *Store) LastGoodRun(ctx context.Context, report, from, to string) (reports.Run, []byte, error) {
	if err := s.read(ctx); err != nil {
		return reports.Run{}, nil, err
	}
	defer s.mu.RUnlock()
	var best *runRecord
	for _, rec := range s.runs {
		if rec.run.Report != report || rec.run.From != from || rec.run.To != to || rec.run.Status != reports.RunSucceeded {
			continue
		}
		if best == nil || newer(rec.run.FinishedAt, rec.run.ID, best.run.FinishedAt, best.run.ID) {
			best = &rec
		}
	}
	if best == nil {
		return reports.Run{}, nil, fmt.Errorf("%w: %s..%s", reports.ErrNoReport, from, to)
	}
	if best.result == nil {
		return reports.Run{}, nil, fmt.Errorf("reading report runs: run %s succeeded without a result", best.run.ID)
	}
	return best.read(), slices.Clone(best.result), nil
}

// newer orders runs by a time, then by id, newest first.
func newer(at time.Time, id string, than time.Time, thanID string) bool {
	if a, b := at.UnixMicro(), than.UnixMicro(); a != b {
		return a > b
	}
	return id > thanID
}

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, id string) (reports.Run, error) {
	if err := s.read(ctx); err != nil {
		return reports.Run{}, err
	}
	defer s.mu.RUnlock()
	rec, ok := s.runs[id]
	if !ok {
		return reports.Run{}, fmt.Errorf("%w: %s", reports.ErrRunNotFound, id)
	}
	return rec.read(), nil
}

// AbandonRuns fails runs left running by a process that died.
func (s *Store) AbandonRuns(ctx context.Context, before time.Time) error {
	return s.write(ctx, func(t *tx) error {
		for id, rec := range s.runs {
			if rec.run.Status == reports.RunRunning && rec.run.StartedAt.UnixMicro() < before.UnixMicro() {
				rec.run.Status, rec.run.Error = reports.RunFailed, "interrupted: the process running it stopped"
				rec.run.FinishedAt = rec.run.StartedAt
				set(t, s.runs, id, rec)
			}
		}
		return nil
	})
}

// Runs lists a report's newest runs first.
func (s *Store) Runs(ctx context.Context, report string, limit int) ([]reports.Run, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []reports.Run
	for _, rec := range s.runs {
		if rec.run.Report == report {
			out = append(out, rec.read())
		}
	}
	sort.Slice(out, func(i, j int) bool { return newer(out[i].StartedAt, out[i].ID, out[j].StartedAt, out[j].ID) })
	return upTo(out, limit), nil
}
