package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkRelay measures outbox rows published and marked sent per second:
// SQLite (synchronous=FULL) to the embedded broker with fsync'd writes.
func BenchmarkRelay(b *testing.B) {
	broker := testenv.Kafka(b, 8)
	producer := testenv.BusClient(b, broker.Addr(), "")
	s := openStore(b, filepath.Join(b.TempDir(), "m.db"))
	defer s.Close()
	ctx := context.Background()
	var msgs []event.Message
	for i := range b.N {
		env, err := event.New("bench.event", "bench", fmt.Sprintf("SKU-%d", i%1000), time.Now(), map[string]int{"i": i})
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, event.Message{Topic: event.TopicInventory, Envelope: env})
		if len(msgs) == 1000 || i == b.N-1 {
			if err := s.EnqueueEvents(ctx, msgs); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	relay := outbox.NewRelay(s, producer, outbox.Options{Batch: 500})
	b.ResetTimer()
	start := time.Now()
	total := 0
	for total < b.N {
		n, err := relay.RelayOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
}
