package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/adapters/duckreport"
	"github.com/mercato-platform/mercato/internal/adapters/sparkreport"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/reports"
)

// ReportEngine is a report engine that holds resources.
type ReportEngine interface {
	reports.Engine
	io.Closer
}

// OpenReportEngine opens the configured batch report engine: DuckDB in
// process over the local lake, or Spark through Spark Connect.
func OpenReportEngine(ctx context.Context, cfg config.Config) (ReportEngine, error) {
	switch cfg.Reports.Engine {
	case "spark":
		uri := cfg.Reports.SparkLakeURI
		if uri == "" {
			abs, err := filepath.Abs(cfg.LakeRoot())
			if err != nil {
				return nil, fmt.Errorf("%w: lake dir: %v", config.ErrInvalid, err)
			}
			uri = abs
		}
		e, err := sparkreport.Open(ctx, sparkreport.Options{Remote: cfg.Reports.SparkRemote, LakeURI: uri})
		if err != nil {
			return nil, fmt.Errorf("opening Spark report engine: %w", err)
		}
		return e, nil
	default:
		e, err := duckreport.Open(cfg.LakeRoot(), duckreport.Options{Threads: cfg.Reports.Threads, MemoryLimit: cfg.Reports.MemoryLimit})
		if err != nil {
			return nil, fmt.Errorf("opening DuckDB report engine: %w", err)
		}
		return e, nil
	}
}

// NewReportRunner builds the runner that records runs in the system of
// record and writes files under <data-dir>/reports.
func NewReportRunner(cfg config.Config, engine reports.Engine, store reports.RunStore, log *slog.Logger) *reports.Runner {
	return newReportRunner(cfg, engine, store, log, nil)
}

// newReportRunner is NewReportRunner with its metrics registered on reg
// when reg is set.
func newReportRunner(cfg config.Config, engine reports.Engine, store reports.RunStore, log *slog.Logger, reg prometheus.Registerer) *reports.Runner {
	return reports.NewRunner(engine, store, reports.RunnerOptions{
		LakeRoot: cfg.LakeRoot(), OutputDir: filepath.Join(cfg.DataDir, "reports"), Logger: log, Registerer: reg,
	})
}

// NewReportScheduler builds the reports role's scheduler.
func NewReportScheduler(cfg config.Config, runner *reports.Runner, log *slog.Logger) (*reports.Scheduler, error) {
	loc, err := time.LoadLocation(cfg.Reports.Timezone)
	if err != nil {
		return nil, fmt.Errorf("%w: --report-timezone: %v", config.ErrInvalid, err)
	}
	s, err := reports.NewScheduler(runner, reports.SchedulerOptions{
		Cron: cfg.Reports.Schedule, Location: loc, CatchUpDays: cfg.Reports.CatchUpDays,
		Retries: cfg.Reports.Retries, Backoff: cfg.Reports.RetryBackoff, StaleEvery: cfg.Reports.StaleCheck, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	return s, nil
}
