package reports_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/reports"
)

// metricValue is the value of the series name{label=value} on reg (label
// "" for a series without labels), and whether it exists.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// The runner counts finished runs by status from 0, and the time of the
// last success.
func TestRunnerMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	finished := time.Date(2026, 11, 25, 0, 10, 0, 0, time.UTC)
	engine := heldEngine{release: make(chan struct{})}
	runner := reports.NewRunner(engine, memstore.New(memstore.Options{}), reports.RunnerOptions{
		Registerer: reg, Now: func() time.Time { return finished },
	})
	want := func(when string, succeeded, failed, last float64) {
		t.Helper()
		for _, m := range []struct {
			name, label, value string
			want               float64
		}{
			{"mercato_report_runs_total", "status", "succeeded", succeeded},
			{"mercato_report_runs_total", "status", "failed", failed},
			{"mercato_report_last_success_timestamp_seconds", "", "", last},
		} {
			if got, ok := metricValue(t, reg, m.name, m.label, m.value); !ok || got != m.want {
				t.Errorf("%s: %s{%s=%q} = %v (present %v), want %v", when, m.name, m.label, m.value, got, ok, m.want)
			}
		}
	}
	want("at start", 0, 0, 0)

	ctx, cancel := context.WithCancel(context.Background())
	p, err := runner.Start(ctx, "2026-11-24", "2026-11-24", reports.TriggerAPI, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := p.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	want("after a failure", 0, 1, 0)
	close(engine.release)
	if _, err := runner.Run(context.Background(), "2026-11-24", "2026-11-24", reports.TriggerManual, 1); err != nil {
		t.Fatal(err)
	}
	want("after a success", 1, 1, float64(finished.Unix()))

	// A new process (a restart) shows the recorded success at once.
	store := memstore.New(memstore.Options{})
	first := reports.NewRunner(engine, store, reports.RunnerOptions{Now: func() time.Time { return finished }})
	if _, err := first.Run(context.Background(), "2026-11-24", "2026-11-24", reports.TriggerManual, 1); err != nil {
		t.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	restarted := reports.NewRunner(engine, store, reports.RunnerOptions{Registerer: reg})
	want("after a restart", 0, 0, 0)
	if err := restarted.RestoreMetrics(context.Background()); err != nil {
		t.Fatal(err)
	}
	want("after a restart, restored", 0, 0, float64(finished.Unix()))
}
