package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

// Reports is the batch report runner as the API uses it.
type Reports interface {
	Run(ctx context.Context, from, to, trigger string, attempt int) (reports.Run, error)
	Latest(ctx context.Context, from, to string) (reports.SalesReport, reports.Run, error)
	Runs(ctx context.Context, limit int) ([]reports.Run, error)
}

// ReportRunRequest is the body of POST /v1/reports/sales/runs.
type ReportRunRequest struct {
	Date string `json:"date"`
	To   string `json:"to,omitempty"`
}

func (s *Server) reports() (Reports, error) {
	if s.o.Reports == nil {
		return nil, apiErr(http.StatusNotImplemented, "reports_unavailable", "this process has no report engine")
	}
	return s.o.Reports, nil
}

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
	// A client that hangs up does not cancel the run: it is recorded and
	// its report replaces the day's either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Minute)
	defer cancel()
	run, err := rep.Run(ctx, req.Date, req.To, reports.TriggerAPI, 1)
	if err != nil && (run.ID == "" || run.Error == "") {
		return err
	}
	if err != nil {
		return apiErr(http.StatusBadGateway, "report_failed", "report run %s failed: %s", run.ID, run.Error)
	}
	writeJSON(w, http.StatusCreated, run)
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
	}
	return nil
}
