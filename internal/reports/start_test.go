package reports_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/reports"
)

// heldEngine answers no rows (an empty day) once release is closed.
type heldEngine struct{ release chan struct{} }

func (heldEngine) Name() string { return "held" }

func (heldEngine) Source(_ context.Context, table string, _ []string) (string, error) {
	return table, nil
}

func (e heldEngine) Query(ctx context.Context, _ string) ([][]any, error) {
	select {
	case <-e.release:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestStartRecordsTheRunAndFinishesItInTheBackground(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Options{})
	engine := heldEngine{release: make(chan struct{})}
	runner := reports.NewRunner(engine, store, reports.RunnerOptions{})
	ctx := context.Background()

	p, err := runner.Start(ctx, "2026-11-24", "2026-11-24", reports.TriggerAPI, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := runner.GetRun(ctx, p.Started.ID); err != nil || got.Status != reports.RunRunning || got.Trigger != reports.TriggerAPI {
		t.Fatalf("recorded before it finished: %+v %v", got, err)
	}
	var busy *reports.InProgressError
	_, err = runner.Start(ctx, "2026-11-24", "2026-11-24", reports.TriggerAPI, 1)
	if !errors.As(err, &busy) || busy.RunID != p.Started.ID || !errors.Is(err, reports.ErrRunInProgress) {
		t.Fatalf("second start of the day: %v", err)
	}
	close(engine.release)
	<-p.Done()
	run, err := p.Result()
	if err != nil || run.ID != p.Started.ID || run.Status != reports.RunSucceeded {
		t.Fatalf("result: %+v %v", run, err)
	}
	if got, err := runner.GetRun(ctx, run.ID); err != nil || got.Status != reports.RunSucceeded || got.FinishedAt.IsZero() {
		t.Fatalf("recorded after it finished: %+v %v", got, err)
	}
	// The day is free again as soon as Done is closed.
	if _, err := runner.Run(ctx, "2026-11-24", "2026-11-24", reports.TriggerManual, 1); err != nil {
		t.Fatalf("run after the background run: %v", err)
	}
	if _, err := runner.GetRun(ctx, "rpt_nope"); !errors.Is(err, reports.ErrRunNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
}

func TestCancelledBackgroundRunIsRecordedFailed(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Options{})
	runner := reports.NewRunner(heldEngine{release: make(chan struct{})}, store, reports.RunnerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := runner.Start(ctx, "2026-11-24", "2026-11-24", reports.TriggerAPI, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if run, err := p.Result(); !errors.Is(err, context.Canceled) || run.Status != reports.RunFailed {
		t.Fatalf("cancelled run: %+v %v", run, err)
	}
	if got, err := runner.GetRun(context.Background(), p.Started.ID); err != nil || got.Status != reports.RunFailed || got.Error == "" {
		t.Fatalf("recorded: %+v %v", got, err)
	}
}
