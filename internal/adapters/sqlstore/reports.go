package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

const runColumns = `id, report, date_from, date_to, engine, run_trigger, attempt, status, started_at, finished_at, inputs, fingerprint, error`

func scanRun(row scanner, extra ...any) (reports.Run, error) {
	var (
		r                 reports.Run
		status, inputs    string
		started, finished int64
	)
	dest := append([]any{&r.ID, &r.Report, &r.From, &r.To, &r.Engine, &r.Trigger, &r.Attempt, &status, &started, &finished, &inputs, &r.Fingerprint, &r.Error}, extra...)
	if err := row.Scan(dest...); err != nil {
		return r, err
	}
	r.Status, r.StartedAt = reports.RunStatus(status), fromMicros(started)
	if finished > 0 {
		r.FinishedAt = fromMicros(finished)
		r.DurationMS = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	}
	if err := json.Unmarshal([]byte(inputs), &r.Inputs); err != nil {
		return r, fmt.Errorf("decoding inputs of run %s: %w", r.ID, err)
	}
	return r, nil
}

// StartRun records a run as running (see reports.RunStore).
func (s *Store) StartRun(ctx context.Context, r reports.Run) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO report_runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '[]', ?, '')`,
			r.ID, r.Report, r.From, r.To, r.Engine, r.Trigger, r.Attempt, string(r.Status), micros(r.StartedAt), r.Fingerprint)
		if err != nil {
			return fmt.Errorf("recording report run %s: %w", r.ID, err)
		}
		return nil
	})
}

// FinishRun stores a run's outcome and, for a good run, its result.
func (s *Store) FinishRun(ctx context.Context, r reports.Run, result []byte) error {
	inputs, err := json.Marshal(r.Inputs)
	if err != nil {
		return fmt.Errorf("encoding inputs: %w", err)
	}
	var res any
	if result != nil {
		res = string(result)
	}
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE report_runs SET status = ?, finished_at = ?, inputs = ?, error = ?, result = ? WHERE id = ?`,
			string(r.Status), micros(r.FinishedAt), string(inputs), r.Error, res, r.ID)
		if err != nil {
			return fmt.Errorf("finishing report run %s: %w", r.ID, err)
		}
		return nil
	})
}

// LastGoodRun returns the newest succeeded run of a range and its result.
func (s *Store) LastGoodRun(ctx context.Context, report, from, to string) (reports.Run, []byte, error) {
	var result string
	r, err := scanRun(s.r.QueryRowContext(ctx, s.q(`SELECT `+runColumns+`, result FROM report_runs
WHERE report = ? AND date_from = ? AND date_to = ? AND status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1`),
		report, from, to), &result)
	if errors.Is(err, sql.ErrNoRows) {
		return reports.Run{}, nil, fmt.Errorf("%w: %s..%s", reports.ErrNoReport, from, to)
	}
	if err != nil {
		return reports.Run{}, nil, fmt.Errorf("reading report runs: %w", err)
	}
	return r, []byte(result), nil
}

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, id string) (reports.Run, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, s.q(`SELECT `+runColumns+` FROM report_runs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return reports.Run{}, fmt.Errorf("%w: %s", reports.ErrRunNotFound, id)
	}
	if err != nil {
		return reports.Run{}, fmt.Errorf("reading report run %s: %w", id, err)
	}
	return r, nil
}

// AbandonRuns fails runs left running by a process that died.
func (s *Store) AbandonRuns(ctx context.Context, before time.Time) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE report_runs SET status = 'failed', error = 'interrupted: the process running it stopped', finished_at = started_at
WHERE status = 'running' AND started_at < ?`, micros(before))
		if err != nil {
			return fmt.Errorf("abandoning report runs: %w", err)
		}
		return nil
	})
}

// Runs lists a report's newest runs first.
func (s *Store) Runs(ctx context.Context, report string, limit int) ([]reports.Run, error) {
	out, err := list(ctx, reads{s.r}, func(r scanner) (reports.Run, error) { return scanRun(r) },
		s.q(`SELECT `+runColumns+` FROM report_runs WHERE report = ? ORDER BY started_at DESC, id DESC LIMIT ?`), report, limit)
	if err != nil {
		return nil, fmt.Errorf("listing report runs: %w", err)
	}
	return out, nil
}
