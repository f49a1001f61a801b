package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// TestDynamicPriceIsServedAndCharged: a burst of purchases (in event time)
// moves the SKU's price through the pricing role; the api serves it with its
// reason and history, and a new order is charged at it.
func TestDynamicPriceIsServedAndCharged(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a := startApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	// The heuristic rule, whose reaction to a burst is certain; the default
	// learn policy explores (Thompson sampling) and may well go down first.
	// It is published before the product, so the processor has it by the
	// time the burst arrives.
	if code := call(t, a, "PUT", "/v1/pricing/rules/tea", `{"policy":"rule"}`); code != 200 {
		t.Fatalf("PUT rule = %d", code)
	}
	if code := call(t, a, "PUT", "/v1/products/HOT-TEA", `{"name":"보리차 티백","category":"tea","base_price":10000,"price_floor":8000,"price_ceiling":15000,"stock":100000}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	if !consumeUntil(t, a.KafkaAddr(), event.TopicProducts, func(env event.Envelope) bool { return env.Subject == "HOT-TEA" }) {
		t.Fatal("product event never published")
	}
	c, err := bus.NewClient(bus.Options{Brokers: []string{a.KafkaAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The pricing role reads products and purchases from different topics,
	// with no order between them: wait until it has committed the product
	// (and its stock), so the burst is priced against known bounds.
	waitGroupConsumed(t, c, "pricing", event.TopicProducts, event.TopicInventory)
	// Event time starts after the product and stock events, which moved the
	// watermark to now: older purchases would be late.
	t0 := time.Now().Add(2 * time.Second)
	var msgs []event.Message
	for i := range 300 {
		at := t0.Add(time.Duration(i) * time.Second)
		env, err := event.New(event.TypePurchase, "test", "HOT-TEA", at, event.Purchase{SKU: "HOT-TEA", Quantity: 5, UnitPrice: 10000, OrderID: "o"})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, event.Message{Topic: event.TopicPurchases, Envelope: env})
	}
	// One later purchase moves the watermark past the burst's windows.
	late, _ := event.New(event.TypePurchase, "test", "HOT-TEA", t0.Add(20*time.Minute), event.Purchase{SKU: "HOT-TEA", Quantity: 1, UnitPrice: 10000, OrderID: "o"})
	msgs = append(msgs, event.Message{Topic: event.TopicPurchases, Envelope: late})
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	// The burst raises the price step by step; the quiet quarter hour after
	// it brings it down again. Both must show in the history, with reasons.
	var hist struct{ Items []pricing.PriceRecord }
	rose := false
	deadline := time.Now().Add(45 * time.Second)
	for !rose && time.Now().Before(deadline) {
		resp, err := http.Get(base + "/v1/prices/HOT-TEA/history")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&hist)
		resp.Body.Close()
		for _, h := range hist.Items {
			if h.Price > 10000 && h.Reason.DemandRatio > 1 && h.Reason.RuleID != "" {
				rose = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !rose {
		t.Fatalf("no price rise after a demand burst: %+v", hist.Items)
	}
	for _, h := range hist.Items {
		if h.Price < 8000 || h.Price > 15000 {
			t.Errorf("price %d outside [8000, 15000]", h.Price)
		}
	}
	var rec pricing.PriceRecord
	now, _ := http.Get(base + "/v1/prices/HOT-TEA")
	_ = json.NewDecoder(now.Body).Decode(&rec)
	now.Body.Close()
	req, _ := http.NewRequest("POST", base+"/v1/orders", strings.NewReader(`{"items":[{"sku":"HOT-TEA","quantity":1}],"payment":{"method":"card","token":"tok_ok"}}`))
	req.Header.Set("X-Customer-ID", "c1")
	req.Header.Set("Idempotency-Key", "tea-1")
	oresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(oresp.Body)
	oresp.Body.Close()
	var o struct {
		Items []struct {
			UnitPrice int64 `json:"unit_price"`
		}
	}
	_ = json.Unmarshal(raw, &o)
	if oresp.StatusCode != 201 || len(o.Items) != 1 || o.Items[0].UnitPrice != rec.Price {
		t.Fatalf("order = %d %s, want it charged at the dynamic price %d", oresp.StatusCode, raw, rec.Price)
	}
	// Rules: invalid ones are refused; a valid one is accepted.
	if code := call(t, a, "PUT", "/v1/pricing/rules/tea", `{"step_limit":7}`); code != 400 {
		t.Errorf("invalid rule = %d", code)
	}
	if code := call(t, a, "PUT", "/v1/pricing/rules/tea", `{"frozen":true}`); code != 200 {
		t.Errorf("kill switch = %d", code)
	}
}

// waitGroupConsumed waits until group has committed offsets covering every
// record of the topics.
func waitGroupConsumed(t testing.TB, c *bus.Client, group string, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lag, err := c.GroupLag(ctx, group, topics...)
		cancel()
		if err == nil && lag == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s did not consume %v within 60s", group, topics)
}
