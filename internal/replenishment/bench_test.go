package replenishment_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkDecide: the decision alone (28 days of statistics, ROP, EOQ,
// rounding) per inventory event, no I/O.
func BenchmarkDecide(b *testing.B) {
	daily := make([]float64, 28)
	for i := range daily {
		daily[i] = float64(10 + i%7)
	}
	p := replenishment.Policy{LeadTimeDays: 3, ServiceLevel: 0.95, OrderCost: 30000, UnitCost: 500, HoldingRate: 0.25, PackSize: 12}
	prior := replenishment.Prior{Daily: 1, StdDev: 1, MinDays: 7}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d, s := replenishment.Stats(daily, prior)
		if _, _, err := replenishment.Decide(int64(i%100), d, s, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRoleEndToEnd: inventory events through the embedded broker, the
// consumer runner, the decision and the SQLite store (demand history read,
// open-order check), committed after each record.
func BenchmarkRoleEndToEnd(b *testing.B) {
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "r.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	f := newFixtureOn(s)
	skus := make([]string, 100)
	for i := range skus {
		skus[i] = fmt.Sprintf("B%03d", i)
		f.product(b, skus[i], 1_000_000, 3)
	}
	broker := testenv.Kafka(b, 8)
	c := testenv.BusClient(b, broker.Addr(), "")
	var msgs []event.Message
	for i := range b.N {
		sku := skus[i%len(skus)]
		env, _ := event.New(inventory.TypeReserved, "bench", sku, f.now, inventory.Event{SKU: sku, OnHand: 1_000_000, Available: 1_000_000})
		msgs = append(msgs, event.Message{Topic: event.TopicInventory, Envelope: env})
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	n := 0
	cons, err := c.NewConsumer(bus.ConsumerOptions{Group: "bench", Topics: []string{event.TopicInventory}, FromStart: true,
		Handler: func(ctx context.Context, env event.Envelope, _ *bus.Record) error {
			if err := f.svc.Dispatch(ctx, event.TopicInventory, env); err != nil {
				return err
			}
			if n++; n == b.N {
				close(done)
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	go func() { _ = cons.Run(ctx) }()
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
