// Command mercato is the Mercato platform: one binary, every role in one
// process by default (mercato serve), split by role at scale.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

// version is set with -ldflags "-X main.version=...".
var version = ""

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the platform (every role by default; see --roles)", runServe},
		{"demo", "run the platform on embedded engines with simulated shoppers (ground-truth demand model)", runDemo},
		{"broker", "run only the embedded Kafka-protocol broker, for multi-process setups", runBroker},
		{"topics", "Kafka topics: describe, check (exit 1 on problems) or create every topic Mercato uses", runTopics},
		{"inventory", "inventory tools: reconcile [--fix] compares the Redis counters with the ledger", runInventory},
		{"sentiment", "train, evaluate and run the review sentiment classifier", runSentiment},
		{"report", "batch sales reports: run, backfill, list, airflow-dag", runReport},
		{"lake", "sales lake tools: generate writes a synthetic lake for benchmarks and demos", runLake},
		{"simulate", "counterfactual pricing simulator: policies compared on a ground-truth demand model (--compare)", runSimulate},
		{"bench", "load benchmarks: bench orders drives checkout over HTTP and reports orders/s and latency", runBench},
		{"version", "print the version", runVersion},
		{"help", "list commands, or show a command's flags: mercato help serve", nil},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// The platform reports the build's version; it is set once, before any
// command runs (tests call run concurrently).
func init() { app.Version = buildVersion() }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 1 {
			return helpFor(args[1], stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mercato: unknown command %q (run 'mercato help')\n", name)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Mercato: the data platform for large marketplaces.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: mercato <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every flag can also be set as MERCATO_<FLAG> (e.g. MERCATO_DATA_DIR) or in a YAML file given with --config.")
}

func helpFor(name string, stdout, stderr io.Writer) int {
	switch name {
	case "serve", "broker", "inventory", "demo":
		var cfg config.Config
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		cfg.RegisterFlags(fs)
		if name == "demo" {
			new(demoFlags).register(fs)
			for _, def := range demoServeDefaults() {
				if f := fs.Lookup(def[0]); f != nil {
					f.DefValue = def[1]
				}
			}
		}
		fs.String("config", "", "optional YAML file with the same keys as the flags")
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: mercato %s [flags]\n\nFlags:\n", name)
		fs.PrintDefaults()
		return exitOK
	case "sentiment":
		return runSentiment(context.Background(), []string{"help"}, stdout, stderr)
	case "report":
		return runReport(context.Background(), []string{"help"}, stdout, stderr)
	case "lake":
		return runLake(context.Background(), []string{"generate", "-h"}, stdout, stdout)
	case "simulate":
		return simulateHelp(stdout)
	case "topics":
		return runTopics(context.Background(), []string{"help"}, stdout, stderr)
	case "version", "help":
		fmt.Fprintf(stdout, "Usage: mercato %s\n", name)
		return exitOK
	}
	fmt.Fprintf(stderr, "mercato: unknown command %q (run 'mercato help')\n", name)
	return exitConfig
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "mercato %s\n", buildVersion())
	return exitOK
}

// loadConfig parses flags, environment and file, and validates. Problems are
// printed one per line.
func loadConfig(name string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (config.Config, int, bool) {
	var cfg config.Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	for _, e := range extra {
		e(fs)
	}
	err := config.Load(fs, args, os.Environ())
	if errors.Is(err, flag.ErrHelp) || (err != nil && strings.Contains(err.Error(), flag.ErrHelp.Error())) {
		helpFor(name, stderr, stderr)
		return cfg, exitOK, false
	}
	if err == nil {
		if fs.NArg() > 0 {
			err = fmt.Errorf("%w: unexpected argument %q", config.ErrInvalid, fs.Arg(0))
		} else {
			err = cfg.Validate()
		}
	}
	if err != nil {
		printErrors(stderr, err)
		return cfg, exitConfig, false
	}
	return cfg, exitOK, true
}

func printErrors(w io.Writer, err error) {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) {
		for _, e := range multi.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintf(w, "mercato: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
}

// newLogger is the logger of a command run with cfg (--log-level, --log-format).
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	return app.NewLogger(w, cfg.LogLevel, cfg.LogFormat)
}

func exitFor(err error) int {
	if errors.Is(err, config.ErrInvalid) {
		return exitConfig
	}
	return exitRuntime
}

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	cfg, code, ok := loadConfig("serve", args, stderr)
	if !ok {
		return code
	}
	a, log, code := openApp(ctx, cfg, stderr)
	if a == nil {
		return code
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	log.Info("stopped")
	return exitOK
}

// openApp builds the platform from cfg, logging to stderr; on failure it
// prints why and returns a nil App and the exit status.
func openApp(ctx context.Context, cfg config.Config, stderr io.Writer) (*app.App, *slog.Logger, int) {
	log := newLogger(stderr, cfg)
	if n, ok := app.SpareProcs(cfg); ok {
		log.Debug("Go scheduler widened for the SQLite writer", "GOMAXPROCS", n)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		printErrors(stderr, err)
		return nil, nil, exitFor(err)
	}
	return a, log, exitOK
}

func runBroker(ctx context.Context, args []string, _, stderr io.Writer) int {
	cfg, code, ok := loadConfig("broker", args, stderr)
	if !ok {
		return code
	}
	log := newLogger(stderr, cfg)
	if err := app.PrepareDataDir(cfg.DataDir); err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	b, err := app.StartBroker(cfg)
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	defer b.Close()
	var c *bus.Client
	o, err := app.BusOptions(cfg, []string{b.Addr()})
	if err == nil {
		o.Logger = log
		c, err = bus.NewClient(o)
	}
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	defer c.Close()
	if err := c.EnsureTopics(ctx, event.Topics(), cfg.Kafka.Partitions); err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	log.Info("embedded Kafka broker listening", "addr", b.Addr(), "data", cfg.DataDir)
	<-ctx.Done()
	log.Info("stopped")
	return exitOK
}
