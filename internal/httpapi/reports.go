package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

// Reports is the batch report runner as the API uses it.
type Reports interface {
	Start(ctx context.Context, from, to, trigger string, attempt int) (*reports.Pending, error)
	GetRun(ctx context.Context, id string) (reports.Run, error)
	Latest(ctx context.Context, from, to string) (reports.SalesReport, reports.Run, error)
	Runs(ctx context.Context, limit int) ([]reports.Run, error)
}

// ReportRunRequest is the body of POST /v1/reports/sales/runs.
type ReportRunRequest struct {
	Date string `json:"date"`
	To   string `json:"to,omitempty"`
}

// reportRunTimeout bounds one report run started over the API.
const reportRunTimeout = 30 * time.Minute

func (s *Server) reports() (Reports, error) {
	if s.o.Reports == nil {
		return nil, apiErr(http.StatusNotImplemented, "reports_unavailable", "this process has no report engine")
	}
	return s.o.Reports, nil
}

func reportRunPath(id string) string { return "/v1/reports/sales/runs/" + url.PathEscape(id) }

// runReport starts a run and waits up to ReportWait for it: a run done by
// then answers 201 with its record (502 if it failed), a longer one 202
// with the running record and a Location to poll, so no client waits past
// the server's write timeout for an answer that would never come.
func (s *Server) runReport(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.reports()
	if err != nil {
		return err
	}
	var req ReportRunRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.To == "" {
		req.To = req.Date
	}
	// The run is not the request's: a client that hangs up or stops
	// waiting leaves it running, recorded, replacing the day's report.
	ctx, cancel, ok := s.background.start(reportRunTimeout)
	if !ok {
		return apiErr(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; run the report again later")
	}
	p, err := rep.Start(ctx, req.Date, req.To, reports.TriggerAPI, 1)
	if err != nil {
		cancel()
		var busy *reports.InProgressError
		if errors.As(err, &busy) {
			w.Header().Set("Location", reportRunPath(busy.RunID))
		}
		return err
	}
	s.background.until(p.Done(), cancel)
	wait := time.NewTimer(s.o.ReportWait)
	defer wait.Stop()
	select {
	case <-p.Done():
	case <-wait.C:
		w.Header().Set("Location", reportRunPath(p.Started.ID))
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusAccepted, p.Started)
		return nil
	}
	run, err := p.Result()
	if err != nil && (run.ID == "" || run.Error == "") {
		return err
	}
	if err != nil {
		return apiErr(http.StatusBadGateway, "report_failed", "report run %s failed: %s", run.ID, run.Error)
	}
	writeJSON(w, http.StatusCreated, run)
	return nil
}

func (s *Server) getReportRun(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.reports()
	if err != nil {
		return err
	}
	run, err := rep.GetRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if run.Status == reports.RunRunning {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (s *Server) listReportRuns(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.reports()
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 50, 1000)
	if err != nil {
		return err
	}
	runs, err := rep.Runs(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": runs})
	return nil
}

// reportView is a stored report with the run that produced it.
type reportView struct {
	reports.SalesReport
	RunID string `json:"run_id"`
	Stale bool   `json:"stale"`
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.reports()
	if err != nil {
		return err
	}
	name := r.PathValue("date")
	format := "json"
	for _, ext := range []string{".json", ".csv", ".html"} {
		if stem, ok := strings.CutSuffix(name, ext); ok {
			name, format = stem, ext[1:]
		}
	}
	from, to, isRange := strings.Cut(name, "_")
	if !isRange {
		to = from
	}
	report, run, err := rep.Latest(r.Context(), from, to)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	var write func(io.Writer, reports.SalesReport) error
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, reportView{SalesReport: report, RunID: run.ID, Stale: run.Stale})
		return nil
	case "csv":
		write = reports.WriteCSV
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="mercato-sales-`+name+`.csv"`)
	case "html":
		write = reports.WriteHTML
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The page is static: no script may run, inline CSS only.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	if err := write(&buf, report); err != nil {
		return err
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if run.Stale {
		w.Header().Set("X-Mercato-Report-Stale", "true")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func reportError(err error) *APIError {
	switch {
	case errors.Is(err, reports.ErrBadRange):
		return apiErr(http.StatusBadRequest, "invalid_date", "%s", err.Error())
	case errors.Is(err, reports.ErrNoReport):
		return apiErr(http.StatusNotFound, "report_not_found", "%s", err.Error())
	case errors.Is(err, reports.ErrRunInProgress):
		return apiErr(http.StatusConflict, "run_in_progress", "%s", err.Error())
	case errors.Is(err, reports.ErrRunNotFound):
		return apiErr(http.StatusNotFound, "run_not_found", "%s", err.Error())
	}
	return nil
}
