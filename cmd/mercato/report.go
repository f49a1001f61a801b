package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

const reportUsage = `usage:
  mercato report run --date YYYY-MM-DD [--to YYYY-MM-DD] [--engine duckdb|spark]
  mercato report backfill --from YYYY-MM-DD --to YYYY-MM-DD [--engine duckdb|spark]
  mercato report list [--limit N] [--json]
  mercato report airflow-dag [--dag-id ID] [--start-date YYYY-MM-DD] [--binary PATH] [--args "..."] > mercato_sales_report.py
(with --data-dir, --db, --lake-dir as for serve)`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "mercato: "+reportUsage)
		return exitConfig
	}
	switch args[0] {
	case "run", "backfill":
		return reportRun(ctx, args[0], args[1:], stdout, stderr)
	case "list":
		return reportList(ctx, args[1:], stdout, stderr)
	case "airflow-dag":
		return reportDAG(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, reportUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "mercato: unknown report command %q\n%s\n", args[0], reportUsage)
	return exitConfig
}

// openRunner opens the store and engine a report command needs.
func openRunner(ctx context.Context, cfg config.Config, stderr io.Writer) (*reports.Runner, func(), int) {
	log := slog.New(newLogger(stderr, cfg).Handler())
	store, err := app.OpenStore(ctx, cfg)
	if err != nil {
		printErrors(stderr, err)
		return nil, nil, exitFor(err)
	}
	engine, err := app.OpenReportEngine(ctx, cfg)
	if err != nil {
		store.Close()
		printErrors(stderr, err)
		return nil, nil, exitFor(err)
	}
	return app.NewReportRunner(cfg, engine, store, log), func() { engine.Close(); store.Close() }, exitOK
}

func reportRun(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	var from, to, engine string
	cfg, code, ok := loadConfig("report "+verb, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&engine, "engine", "", "report engine for this run: duckdb or spark (same as --report-engine)")
		if verb == "run" {
			fs.StringVar(&from, "date", "", "the day to report (YYYY-MM-DD, in --lake-timezone)")
			fs.StringVar(&to, "to", "", "last day, for one report over a range (default: --date)")
		} else {
			fs.StringVar(&from, "from", "", "first day to (re)run")
			fs.StringVar(&to, "to", "", "last day to (re)run")
		}
	})
	if !ok {
		return code
	}
	if engine != "" {
		cfg.Reports.Engine = engine
		if err := cfg.Validate(); err != nil {
			printErrors(stderr, err)
			return exitConfig
		}
	}
	if to == "" && verb == "run" {
		to = from
	}
	days, err := lake.DaysBetween(from, to)
	if err != nil {
		fmt.Fprintf(stderr, "mercato: report %s: %v\n", verb, err)
		return exitConfig
	}
	runner, closeAll, code := openRunner(ctx, cfg, stderr)
	if runner == nil {
		return code
	}
	defer closeAll()
	ranges := [][2]string{{from, to}}
	if verb == "backfill" {
		ranges = ranges[:0]
		for _, d := range days {
			ranges = append(ranges, [2]string{d, d})
		}
	}
	failed := 0
	enc := json.NewEncoder(stdout)
	for _, r := range ranges {
		run, err := runner.Run(ctx, r[0], r[1], reports.TriggerManual, 1)
		if run.ID != "" {
			_ = enc.Encode(run)
		}
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "mercato: report %s..%s failed: %v\n", r[0], r[1], err)
			if ctx.Err() != nil {
				return exitRuntime
			}
		}
	}
	if failed > 0 {
		return exitRuntime
	}
	return exitOK
}

func reportList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		limit  int
		asJSON bool
	)
	cfg, code, ok := loadConfig("report list", args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 30, "runs to show, newest first")
		fs.BoolVar(&asJSON, "json", false, "one JSON run record per line")
	})
	if !ok {
		return code
	}
	if limit < 1 || limit > 10000 {
		fmt.Fprintln(stderr, "mercato: report list: --limit must be 1-10000")
		return exitConfig
	}
	runner, closeAll, code := openRunner(ctx, cfg, stderr)
	if runner == nil {
		return code
	}
	defer closeAll()
	runs, err := runner.Runs(ctx, limit)
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range runs {
			_ = enc.Encode(r)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tSTATUS\tENGINE\tTRIGGER\tATTEMPT\tSTARTED\tSECONDS\tSALES ROWS\tSTALE\tERROR")
	for _, r := range runs {
		var rows int64
		for _, in := range r.Inputs {
			if in.Table == lake.TableSales {
				rows += in.Rows
			}
		}
		day := r.From
		if r.To != r.From {
			day += ".." + r.To
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%.2f\t%d\t%v\t%s\n", day, r.Status, r.Engine, r.Trigger, r.Attempt,
			r.StartedAt.Format(time.RFC3339), float64(r.DurationMS)/1000, rows, r.Stale, firstLine(r.Error))
	}
	_ = tw.Flush()
	return exitOK
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func reportDAG(args []string, stdout, stderr io.Writer) int {
	var o reports.DAGOptions
	var extra string
	fs := flag.NewFlagSet("report airflow-dag", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DAGID, "dag-id", "mercato_sales_report", "Airflow DAG id")
	fs.StringVar(&o.Schedule, "schedule", "10 0 * * *", "cron schedule of the DAG")
	fs.StringVar(&o.Timezone, "timezone", "Asia/Seoul", "time zone of the schedule and start date")
	fs.StringVar(&o.StartDate, "start-date", time.Now().AddDate(0, 0, -7).Format(time.DateOnly), "first logical date (catchup=True backfills from it)")
	fs.StringVar(&o.Binary, "binary", "mercato", "path of the mercato binary on the Airflow workers")
	fs.StringVar(&extra, "args", "", "extra arguments for mercato report run, space-separated (e.g. \"--data-dir /srv/mercato --report-engine spark --spark-remote sc://spark:15002\")")
	fs.IntVar(&o.Retries, "retries", 3, "task retries")
	fs.IntVar(&o.RetryDelayMinutes, "retry-delay-minutes", 5, "minutes between retries")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	o.ExtraArgs = strings.Fields(extra)
	if err := reports.WriteAirflowDAG(stdout, o); err != nil {
		fmt.Fprintf(stderr, "mercato: report airflow-dag: %v\n", err)
		return exitConfig
	}
	return exitOK
}

func runLake(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "mercato: usage: mercato lake generate --rows N --days D [--end YYYY-MM-DD] [--skus N] [--seed N] [--dir PATH]")
		return exitConfig
	}
	var (
		o        lake.GenerateOptions
		dir, end string
		seed     uint64
	)
	fs := flag.NewFlagSet("lake generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.Lines, "rows", 1_000_000, "order lines (sales rows) to write, spread over the days")
	fs.IntVar(&o.Days, "days", 7, "days of sales, ending with --end")
	fs.StringVar(&end, "end", "", "last day (default: yesterday in --timezone)")
	fs.IntVar(&o.SKUs, "skus", 20_000, "catalog size")
	fs.Uint64Var(&seed, "seed", 1, "random seed: the same seed writes the same lake")
	fs.IntVar(&o.FileLines, "file-rows", 4_000_000, "sales rows per Parquet file at most")
	fs.StringVar(&dir, "dir", "", "lake root (default <data-dir>/lake)")
	dataDir := fs.String("data-dir", "./mercato-data", "data directory")
	tz := fs.String("timezone", "Asia/Seoul", "time zone days are cut in (as --lake-timezone)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitConfig
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "mercato: lake generate: unknown time zone %q\n", *tz)
		return exitConfig
	}
	if dir == "" {
		dir = *dataDir + "/lake"
	}
	if o.Lines < 1 || o.Days < 1 || o.Days > 3660 || o.SKUs < 1 || o.FileLines < 1 {
		fmt.Fprintln(stderr, "mercato: lake generate: --rows, --days (1-3660), --skus and --file-rows must be positive")
		return exitConfig
	}
	o.Root, o.End, o.Seed, o.Location = dir, end, seed, loc
	start := time.Now()
	st, err := lake.Generate(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mercato: lake generate: %v\n", err)
		return exitRuntime
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "lake: wrote %d sales, %d order and %d payment rows in %d files under %s in %.1fs (%.0f rows/s)\n",
		st.Sales, st.Orders, st.Payments, st.Files, dir, secs, float64(st.Sales+st.Orders+st.Payments)/secs)
	return exitOK
}
