package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// BenchmarkPriceLatency measures, per price change, the time from the
// broker's acknowledgement of the purchase record that closes a pricing
// window to the new price being served at GET /v1/prices/{sku}: the pricing
// transaction, the price feed and the API together. Each iteration is one
// window in event time, alternating a burst and a trickle of sales so every
// window moves the price.
func BenchmarkPriceLatency(b *testing.B) {
	cfg := testConfig(b)
	cfg.Pricing.Window, cfg.Pricing.Slide = 2*time.Minute, time.Minute
	a := startApp(b, cfg)
	base := "http://" + a.HTTPAddr()
	if code := call(b, a, "PUT", "/v1/products/LAT-1", `{"name":"latency","category":"lat","base_price":100000,"price_floor":10000,"price_ceiling":1000000,"stock":100000000}`); code != 201 {
		b.Fatalf("PUT = %d", code)
	}
	// The product's events reach the broker through the outbox relay: until
	// they have, the pricing group has nothing to commit, waitGroupConsumed
	// returns at once, and the first window's sales are for a SKU pricing
	// does not know yet.
	for _, topic := range []string{event.TopicProducts, event.TopicInventory} {
		if !consumeUntil(b, a.KafkaAddr(), topic, func(env event.Envelope) bool { return env.Subject == "LAT-1" }) {
			b.Fatalf("LAT-1's event never reached %s", topic)
		}
	}
	c, err := bus.NewClient(bus.Options{Brokers: []string{a.KafkaAddr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	waitGroupConsumed(b, c, "pricing", event.TopicProducts, event.TopicInventory)
	purchase := func(at time.Time, qty int64) event.Message {
		env, _ := event.New(event.TypePurchase, "bench", "LAT-1", at, event.Purchase{SKU: "LAT-1", Quantity: qty, UnitPrice: 100000, OrderID: "b"})
		return event.Message{Topic: event.TopicPurchases, Envelope: env}
	}
	current := func() pricing.PriceRecord {
		var rec pricing.PriceRecord
		resp, err := http.Get(base + "/v1/prices/LAT-1")
		if err != nil {
			b.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&rec)
		resp.Body.Close()
		return rec
	}
	// Event time runs ahead of the wall clock (the product's own events set
	// the watermark to now); each step is 3 minutes of event time.
	t0 := time.Now().Add(10 * time.Second).Truncate(time.Minute).Add(time.Minute)
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		w := t0.Add(time.Duration(3*i) * time.Minute)
		qty := int64(1)
		if i%2 == 0 {
			qty = 400
		}
		var burst []event.Message
		for k := range 20 {
			burst = append(burst, purchase(w.Add(time.Duration(k)*time.Second), qty))
		}
		if err := c.Publish(context.Background(), burst...); err != nil {
			b.Fatal(err)
		}
		before := current()
		// This record's event time puts the watermark past the window's end.
		closing := purchase(w.Add(3*time.Minute-time.Second), 1)
		if err := c.Publish(context.Background(), closing); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		deadline := acked.Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if rec := current(); !rec.UpdatedAt.Equal(before.UpdatedAt) {
				lat = append(lat, time.Since(acked))
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	if len(lat) == 0 {
		b.Fatal("no price change observed")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)), "changes")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
