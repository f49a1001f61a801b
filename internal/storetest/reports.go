package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

// RunReportRuns runs the report-run history cases (reports.RunStore).
// newStore returns a fresh, empty store.
func RunReportRuns(t *testing.T, newStore func(t *testing.T) reports.RunStore) {
	t.Run("ReportRuns", func(t *testing.T) { t.Parallel(); testReportRuns(t, newStore(t)) })
}

func testReportRuns(t *testing.T, s reports.RunStore) {
	if _, _, err := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24"); !errors.Is(err, reports.ErrNoReport) {
		t.Fatalf("no run yet: err = %v, want ErrNoReport", err)
	}
	t0 := time.Date(2026, 11, 25, 0, 10, 0, 0, time.UTC)
	runs := []reports.Run{
		{ID: "rpt_1", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "schedule", Attempt: 1, Status: reports.RunRunning, StartedAt: t0, Fingerprint: "a"},
		{ID: "rpt_2", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "schedule", Attempt: 2, Status: reports.RunRunning, StartedAt: t0.Add(time.Minute), Fingerprint: "a"},
		{ID: "rpt_3", Report: "sales", From: "2026-11-24", To: "2026-11-24", Engine: "duckdb", Trigger: "stale", Attempt: 1, Status: reports.RunRunning, StartedAt: t0.Add(time.Hour), Fingerprint: "b"},
	}
	for _, r := range runs {
		if err := s.StartRun(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(r reports.Run, status reports.RunStatus, result []byte, errText string) {
		r.Status, r.FinishedAt, r.Error = status, r.StartedAt.Add(2*time.Second), errText
		r.Inputs = []reports.Input{{Table: "sales", Date: r.From, Rows: 42}}
		if err := s.FinishRun(ctx(t), r, result); err != nil {
			t.Fatal(err)
		}
	}
	finish(runs[0], reports.RunFailed, nil, "engine down")
	finish(runs[1], reports.RunSucceeded, []byte(`{"v":2}`), "")
	got, res, err := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24")
	if err != nil || got.ID != "rpt_2" || string(res) != `{"v":2}` || got.Attempt != 2 || got.DurationMS != 2000 ||
		len(got.Inputs) != 1 || got.Inputs[0].Rows != 42 || got.Fingerprint != "a" || !got.StartedAt.Equal(runs[1].StartedAt) {
		t.Fatalf("last good run = %+v %s %v", got, res, err)
	}
	finish(runs[2], reports.RunSucceeded, []byte(`{"v":3}`), "")
	if got, res, _ := s.LastGoodRun(ctx(t), "sales", "2026-11-24", "2026-11-24"); got.ID != "rpt_3" || string(res) != `{"v":3}` {
		t.Fatalf("a newer good run replaces the result: %+v %s", got, res)
	}
	list, err := s.Runs(ctx(t), "sales", 2)
	if err != nil || len(list) != 2 || list[0].ID != "rpt_3" || list[1].ID != "rpt_2" {
		t.Fatalf("runs = %+v, %v", list, err)
	}
	all, _ := s.Runs(ctx(t), "sales", 10)
	if len(all) != 3 || all[2].Status != reports.RunFailed || all[2].Error != "engine down" {
		t.Fatalf("history keeps failures: %+v", all)
	}
	if got, err := s.GetRun(ctx(t), "rpt_1"); err != nil || got.Status != reports.RunFailed || got.Error != "engine down" ||
		got.DurationMS != 2000 || !got.StartedAt.Equal(runs[0].StartedAt) || len(got.Inputs) != 1 {
		t.Fatalf("get run = %+v, %v", got, err)
	}
	if _, err := s.GetRun(ctx(t), "rpt_nope"); !errors.Is(err, reports.ErrRunNotFound) {
		t.Fatalf("get unknown run: %v", err)
	}
	// A run its process left "running" is failed by the next scheduler.
	orphan := reports.Run{ID: "rpt_4", Report: "sales", From: "2026-11-23", To: "2026-11-23", Engine: "duckdb", Trigger: "schedule", Attempt: 1, Status: reports.RunRunning, StartedAt: t0}
	if err := s.StartRun(ctx(t), orphan); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonRuns(ctx(t), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	list, _ = s.Runs(ctx(t), "sales", 10)
	for _, r := range list {
		if r.ID == "rpt_4" && (r.Status != reports.RunFailed || r.Error == "") {
			t.Fatalf("orphan run not failed: %+v", r)
		}
		if r.ID == "rpt_3" && r.Status != reports.RunSucceeded {
			t.Fatalf("a finished run was touched: %+v", r)
		}
	}
}
