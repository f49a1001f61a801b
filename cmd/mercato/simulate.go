package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/atomicfile"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/simulate"
)

// simulateFlags are mercato simulate's flags.
type simulateFlags struct {
	o        simulate.Options
	policies string
	compare  bool
	json     bool
	html     string
}

func (f *simulateFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.o.SKUs, "skus", 200, "SKUs in the simulated catalogue")
	fs.IntVar(&f.o.Days, "days", 28, "simulated days")
	fs.IntVar(&f.o.Seeds, "seeds", 3, "independent runs (catalogue and shoppers); results are means with 95 % intervals")
	fs.Uint64Var(&f.o.Seed, "seed", 1, "first seed; run k uses seed+k")
	fs.StringVar(&f.o.DemandForm, "demand-form", simulate.FormMixed, "constant-elasticity, logit, linear, or mixed (a third each)")
	fs.StringVar(&f.o.Objective, "objective", pricing.ObjectiveMargin, "what learn and the oracles maximise: margin or revenue")
	fs.StringVar(&f.policies, "policies", "static-list,learn", "comma-separated policies: "+strings.Join(simulate.Policies, ", "))
	fs.BoolVar(&f.compare, "compare", false, "run every policy (overrides --policies), with shares of the oracle and changes against static-list")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&f.html, "html", "", "also write an HTML page with charts to this file")
	fs.IntVar(&f.o.Workers, "workers", 0, "runs in parallel (0: one per CPU)")
}

// runSimulate runs the counterfactual pricing simulator.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f simulateFlags
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mercato: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	f.o.Policies = strings.Split(f.policies, ",")
	if f.compare {
		f.o.Policies = simulate.Policies
	}
	if f.html != "" {
		f.o.TraceSKUs = 4
	}
	began := time.Now()
	r, err := simulate.Run(ctx, f.o)
	if err != nil {
		printErrors(stderr, err)
		if errors.Is(err, simulate.ErrInvalidOptions) {
			return exitConfig
		}
		return exitRuntime
	}
	if f.json {
		if err := r.WriteJSON(stdout); err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
	} else {
		r.WriteTable(stdout)
		fmt.Fprintf(stdout, "\n%d runs in %.1f s\n", len(r.Policies)*r.Seeds, time.Since(began).Seconds())
	}
	if f.html != "" {
		if err := atomicfile.Write(f.html, r.WriteHTML); err != nil {
			printErrors(stderr, fmt.Errorf("writing %s: %w", f.html, err))
			return exitRuntime
		}
		if !f.json {
			fmt.Fprintf(stdout, "charts: %s\n", f.html)
		}
	}
	return exitOK
}

// simulateHelp prints mercato simulate's flags.
func simulateHelp(w io.Writer) int {
	var f simulateFlags
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	f.register(fs)
	fs.SetOutput(w)
	fmt.Fprintf(w, "Usage: mercato simulate [--compare] [flags]\n\nCounterfactual pricing simulator: the platform's pricing core and replenishment\ndecision in simulated time against a known ground truth (see docs/pricing.md).\n\nFlags:\n")
	fs.PrintDefaults()
	return exitOK
}
