package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkLakeSink measures the lake-sink role catching up a backlog of
// b.N purchase events on 8 partitions of the embedded broker: fetch,
// decode, batch, zstd Parquet with fsync, offset commit. Timed from the
// role's start to the last row being durable in the lake.
func BenchmarkLakeSink(b *testing.B) {
	broker := testenv.Kafka(b, 8)
	c := testenv.BusClient(b, broker.Addr(), "")
	at := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	batch := make([]event.Message, 0, 2000)
	for i := range b.N {
		sku := fmt.Sprintf("SKU-%05d", i%20000)
		env, err := event.New("purchase", "mercato/orders", sku, at.Add(time.Duration(i)*time.Millisecond), map[string]any{
			"sku": sku, "quantity": 1 + i%3, "unit_price": 12900, "order_id": fmt.Sprintf("ord_%d", i/2), "category": "fashion", "base_price": 12900})
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, event.Message{Topic: event.TopicPurchases, Envelope: env})
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := c.Publish(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	cfg := testConfig(b)
	cfg.Kafka.Brokers, cfg.Roles, cfg.Kafka.Partitions = broker.Addr(), "lake-sink", 8
	cfg.Lake.FlushInterval = time.Second
	a, err := app.New(context.Background(), cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var rows int64
		days, _ := lake.Dates(cfg.LakeRoot(), lake.TableSales)
		for _, d := range days {
			files, _ := lake.Files(cfg.LakeRoot(), lake.TableSales, d)
			for _, f := range files {
				n, err := lake.RowCount(f.Path)
				if err == nil {
					rows += n
				}
			}
		}
		if rows >= int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("lake has %d of %d rows", rows, b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cancel()
	<-done
	a.Close()
}
