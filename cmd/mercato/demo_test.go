package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/sim"
)

// A run record made by hand: one SKU at 2 orders a minute at its list
// price of 1000 won (unit cost 400, elasticity 1) whose price doubled
// after 5 of its 10 minutes, with 100 units on hand. The model expects 15
// units at the prices charged (revenue 20,000, margin 14,000) and 20 at
// list (20,000 and 12,000).
func fakeDemoRun() demoRun {
	p := sim.Product{SKU: "DEMO-audio-000", ListPrice: 1000, BaseRate: 2, Elasticity: 1, Reorder: sim.Reorder{UnitCost: 400}}
	var h [24]float64
	for i := range h {
		h[i] = 1
	}
	m := sim.Model{Products: []sim.Product{p}, Hourly: h, Location: time.UTC}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := sim.Stats{Start: t0, Elapsed: 10 * time.Minute, Expected: 15.2, Arrived: 17, Paid: 14, Cancelled: 1, Declined: 2, OutOfStock: 3,
		Revenue: 19000, Margin: 13800,
		PerSKU: map[string]sim.SKUStats{p.SKU: {Arrived: 17, Paid: 14, Cancelled: 1, Revenue: 19000, Margin: 13800, Price: 2000, StartStock: 100,
			Prices: []sim.PricePoint{{At: t0, Price: 1000}, {At: t0.Add(5 * time.Minute), Price: 2000}}}}}
	pl := sim.Platform{LowStockAlerts: sim.Count{N: 4}, PurchaseOrdersRaised: sim.Count{N: 3}, PurchaseOrdersReceived: sim.Count{N: 1000, AtLeast: true}}
	return demoRun{Model: m, Stats: s, Platform: pl}
}

func TestDemoSummaryComparesChargedWithListPrices(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printSummary(&out, fakeDemoRun())
	got := out.String()
	for _, want := range []string{
		"Against the ground truth: 10m0s from 2026-11-25 10:00:00 UTC",
		// Observed: 13 kept, 19,000 won, 13,800 margin.
		"observed  sold (paid, less cancellations)          13          19,000            13,800",
		"model     at the prices charged                  15.0          20,000            14,000",
		"model     at static list prices                  20.0          20,000            12,000",
		"model     charged vs list                     -25.0 %          +0.0 %           +16.7 %",
		"observed: what the API answered",
		"3 refused for stock (409 insufficient_stock)",
		"2 declined (402 payment_declined)",
		"4 low-stock alerts, 3 purchase orders raised, 1000+ received; 1 of 1 prices off list",
		"DEMO-audio-000",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestDemoSummarySaysWhenThePlatformWasUnread(t *testing.T) {
	t.Parallel()
	run := fakeDemoRun()
	run.PlatformErr = errors.New("GET /v1/alerts: HTTP 503")
	var out bytes.Buffer
	printSummary(&out, run)
	if got := out.String(); !strings.Contains(got, "could not be read") || strings.Contains(got, "low-stock alerts") ||
		!strings.Contains(got, "at static list prices") {
		t.Fatalf("summary:\n%s", got)
	}
}

// help demo shows the defaults the demo runs with, not serve's.
func TestHelpDemoShowsTheDemoDefaults(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"help", "demo"}, &out, &errb); code != 0 {
		t.Fatalf("help demo: exit %d %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{`(default "mercato-demo-data")`, "(default 1440)", "(default 600)", "(default 24)", "(default 16)"} {
		if !strings.Contains(got, want) {
			t.Errorf("help demo lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "./mercato-data") {
		t.Errorf("help demo shows serve's data dir:\n%s", got)
	}
	out.Reset()
	if code := run(context.Background(), []string{"help", "serve"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `(default "./mercato-data")`) {
		t.Errorf("help serve: %d\n%s", code, out.String())
	}
}
