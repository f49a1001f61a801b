package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// With --log-format json every line is one JSON object.
func TestJSONLogLines(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		format string
		json   bool
	}{{"json", true}, {"text", false}} {
		var buf bytes.Buffer
		log := app.NewLogger(&buf, "debug", tt.format)
		log.Info("HTTP API listening", "addr", "127.0.0.1:8080")
		log.Debug("details", "n", 3)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %d lines: %q", tt.format, len(lines), buf.String())
		}
		for _, l := range lines {
			var m map[string]any
			err := json.Unmarshal([]byte(l), &m)
			if tt.json && (err != nil || m["msg"] == nil || m["level"] == nil) {
				t.Errorf("json line %q: %v", l, err)
			}
			if !tt.json && err == nil {
				t.Errorf("text line %q parses as JSON", l)
			}
		}
	}
}

// On stop, /readyz fails at once while the API keeps serving for the
// drain; then the server stops.
func TestShutdownDrainsBeforeStopping(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.ShutdownDrain = 3 * time.Second
	a, err := app.New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	base := "http://" + a.HTTPAddr()
	waitReady(t, base)

	// Fresh connections each time: a kept-alive one says nothing about
	// whether the server still accepts.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	get := func(path string) (int, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	stopped := time.Now()
	cancel()
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200, "/v1/products": 200} {
		if code, err := get(path); err != nil || code != want {
			t.Errorf("during the drain %s = %d, %v; want %d", path, code, err, want)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before the drain ended", err)
	default:
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop after the drain")
	}
	if took := time.Since(stopped); took < cfg.ShutdownDrain {
		t.Errorf("Run stopped %s after the cancel, before the %s drain", took, cfg.ShutdownDrain)
	}
	if _, err := get("/healthz"); err == nil {
		t.Error("the server still accepts after the drain")
	}
}

// Every series an operator alerts on is on /metrics from start: counters
// by label at 0, and the gauges of the pricing and reports roles.
func TestOperatorMetricsExistFromStart(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t))
	base := "http://" + a.HTTPAddr()
	if code := call(t, a, "PUT", "/v1/products/RICE-10KG", `{"name":"쌀 10kg","category":"grain","base_price":39000,"price_floor":35000,"price_ceiling":45000,"stock":5}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	for range 2 { // the second is a replay
		if code, err := postOrder(http.DefaultClient, base, "cust-1", "key-1", "RICE-10KG"); err != nil || code != 201 {
			t.Fatalf("POST /v1/orders = %d, %v", code, err)
		}
	}
	metrics := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		if _, err := io.Copy(&b, resp.Body); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := []string{
		"mercato_pricing_watermark_lag_seconds ",
		"mercato_pricing_last_price_change_timestamp_seconds ",
		`mercato_price_changes_total{reason="floor"} 0`,
		`mercato_price_changes_total{reason="ceiling"} 0`,
		`mercato_price_changes_total{reason="step"} 0`,
		`mercato_price_changes_total{reason="rule"} 0`,
		`mercato_price_changes_total{reason="learn"} 0`,
		`mercato_report_runs_total{status="succeeded"} 0`,
		`mercato_report_runs_total{status="failed"} 0`,
		"mercato_report_last_success_timestamp_seconds 0",
		`mercato_checkout_outcomes_total{code="created"} 1`,
		`mercato_checkout_outcomes_total{code="replayed"} 1`,
		`mercato_checkout_outcomes_total{code="insufficient_stock"} 0`,
		`mercato_checkout_outcomes_total{code="payment_declined"} 0`,
		`mercato_consumer_dlq_total{group="pricing",topic="commerce.purchases"} 0`,
		`mercato_consumer_dlq_total{group="replenishment",topic="commerce.inventory"} 0`,
		`mercato_consumer_dlq_total{group="inventory-alerts",topic="commerce.alerts"} 0`,
		`mercato_consumer_dlq_total{group="reviews",topic="commerce.reviews"} 0`,
		`mercato_consumer_dlq_total{group="lake-sink",topic="commerce.payments"} 0`,
		// Readers that are no group report their lag too.
		`mercato_consumer_lag{group="price-book",topic="commerce.prices"} `,
		`mercato_consumer_lag{group="rule-feed",topic="commerce.pricing-rules"} `,
	}
	for _, g := range []string{"pricing", "replenishment", "inventory-alerts", "reviews", "lake-sink"} {
		want = append(want, `mercato_consumer_group_lag{group="`+g+`"} `)
	}
	// The checkout counts once its response is written; wait for it.
	var got string
	testenv.WaitFor(t, "the checkout outcomes on /metrics", func() bool {
		got = metrics()
		return strings.Contains(got, `mercato_checkout_outcomes_total{code="replayed"} 1`)
	})
	for _, w := range want {
		if !strings.Contains(got, "\n"+w) {
			t.Errorf("/metrics has no line starting %q", w)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", got)
	}
}
