package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/reports"
)

// gatedEngine is a report engine whose queries wait until the gate is
// opened, then answer no rows (an empty day) or fail with fail.
type gatedEngine struct {
	gate   chan struct{}
	opened sync.Once
	fail   error
}

func newGatedEngine(open bool, fail error) *gatedEngine {
	e := &gatedEngine{gate: make(chan struct{}), fail: fail}
	if open {
		e.open()
	}
	return e
}

func (e *gatedEngine) open() { e.opened.Do(func() { close(e.gate) }) }

func (*gatedEngine) Name() string { return "gated" }

func (*gatedEngine) Source(_ context.Context, table string, _ []string) (string, error) {
	return table, nil
}

func (e *gatedEngine) Query(ctx context.Context, _ string) ([][]any, error) {
	select {
	case <-e.gate:
		return nil, e.fail
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func newReportsEnv(t *testing.T, engine *gatedEngine, wait time.Duration) *env {
	e := newEnvOpts(t, func(o *httpapi.Options, s *sqlstore.Store) {
		o.Reports = reports.NewRunner(engine, s, reports.RunnerOptions{})
		o.ReportWait = wait
	})
	// First of the cleanups: a handler still waiting for a run lets the
	// test server close.
	t.Cleanup(engine.open)
	return e
}

// call is e.do with the response headers, for responses that must be JSON.
func (e *env) call(t *testing.T, method, path, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	status, header, raw := e.send(t, method, path, body, headers)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, status, raw)
	}
	return status, header, out
}

// pollRun polls a run until it leaves running.
func (e *env) pollRun(t *testing.T, location string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, run := e.call(t, "GET", location, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %v", location, status, run)
		}
		if run["status"] != string(reports.RunRunning) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still running", location)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSlowReportRunAnswers202AndIsPolled(t *testing.T) {
	t.Parallel()
	engine := newGatedEngine(false, nil)
	e := newReportsEnv(t, engine, 20*time.Millisecond)
	status, hdr, run := e.call(t, "POST", "/v1/reports/sales/runs", `{"date":"2026-11-24"}`, admin...)
	id, _ := run["id"].(string)
	location := hdr.Get("Location")
	if status != 202 || run["status"] != "running" || id == "" || location != "/v1/reports/sales/runs/"+id || hdr.Get("Retry-After") == "" {
		t.Fatalf("slow run: %d %v %v", status, hdr, run)
	}
	status, hdr, got := e.call(t, "GET", location, "")
	if status != 200 || got["id"] != id || got["status"] != "running" || got["from"] != "2026-11-24" || hdr.Get("Retry-After") == "" {
		t.Fatalf("poll while running: %d %v", status, got)
	}
	// Asking again while it runs points at the run going on.
	status, hdr, body := e.call(t, "POST", "/v1/reports/sales/runs", `{"date":"2026-11-24"}`, admin...)
	if status != 409 || errCode(body) != "run_in_progress" || hdr.Get("Location") != location {
		t.Fatalf("second run: %d %v %v", status, hdr, body)
	}
	engine.open()
	done := e.pollRun(t, location)
	if done["status"] != "succeeded" || done["finished_at"] == nil || done["error"] != nil {
		t.Fatalf("finished run: %v", done)
	}
	if status, _, body := e.call(t, "GET", "/v1/reports/sales/runs/rpt_nope", ""); status != 404 || errCode(body) != "run_not_found" {
		t.Errorf("unknown run: %d %v", status, body)
	}
	if status, _, body := e.call(t, "GET", "/v1/reports/sales/2026-11-24", ""); status != 200 || body["run_id"] != id {
		t.Errorf("report of the finished run: %d %v", status, body)
	}
}

func TestQuickReportRunAnswersAsBefore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fail   error
		status int
		code   string
	}{
		{"succeeds", nil, 201, ""},
		{"fails", errors.New("engine down"), 502, "report_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newReportsEnv(t, newGatedEngine(true, tt.fail), 0) // the default wait
			status, _, body := e.call(t, "POST", "/v1/reports/sales/runs", `{"date":"2026-11-24"}`, admin...)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if tt.status == 201 && (body["status"] != "succeeded" || body["id"] == "") {
				t.Errorf("run record: %v", body)
			}
		})
	}
}

func TestShutdownFailsReportRunsInsteadOfLeavingThemRunning(t *testing.T) {
	t.Parallel()
	e := newReportsEnv(t, newGatedEngine(false, nil), 20*time.Millisecond)
	status, hdr, run := e.call(t, "POST", "/v1/reports/sales/runs", `{"date":"2026-11-24"}`, admin...)
	if status != 202 {
		t.Fatalf("slow run: %d %v", status, run)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.api.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	status, _, got := e.call(t, "GET", hdr.Get("Location"), "")
	if status != 200 || got["status"] != "failed" || got["error"] == nil {
		t.Fatalf("run after shutdown: %d %v", status, got)
	}
	if status, _, body := e.call(t, "POST", "/v1/reports/sales/runs", `{"date":"2026-11-25"}`, admin...); status != 503 || errCode(body) != "shutting_down" {
		t.Errorf("run after shutdown: %d %v", status, body)
	}
}
