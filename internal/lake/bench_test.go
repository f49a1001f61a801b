package lake

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// BenchmarkSink measures the lake-sink's own path per record: decoding the
// envelope from its Kafka bytes, turning it into a row, batching, and the
// zstd Parquet write with fsync at each flush (every 100,000 records, the
// default --lake-flush-records).
func BenchmarkSink(b *testing.B) {
	at := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	raw := make([][]byte, 10_000)
	for i := range raw {
		env, err := event.New("purchase", "mercato/orders", fmt.Sprintf("SKU-%05d", i%5000), at.Add(time.Duration(i)*time.Second),
			map[string]any{"sku": fmt.Sprintf("SKU-%05d", i%5000), "quantity": 1 + i%3, "unit_price": 12900, "order_id": fmt.Sprintf("ord_%d", i),
				"category": "fashion", "base_price": 12900})
		if err != nil {
			b.Fatal(err)
		}
		if raw[i], err = env.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	s := NewSink(SinkOptions{Root: b.TempDir(), RecentIDs: 10_000})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		env, err := event.Decode(raw[i%len(raw)])
		if err != nil {
			b.Fatal(err)
		}
		env.ID = fmt.Sprintf("e%d", i) // every record a new event
		if err := s.Add(event.TopicPurchases, int32(i%8), int64(i/8), env); err != nil {
			b.Fatal(err)
		}
		if (i+1)%100_000 == 0 {
			if err := s.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
