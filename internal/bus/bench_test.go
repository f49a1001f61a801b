package bus_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/bus"
)

// BenchmarkProduceConsume measures the embedded broker end to end: 200-byte
// records produced with acks=all by the idempotent producer, then consumed.
// "fsync" is the serve configuration (log on disk, every batch fsync'd before
// the ack); "memory" is the same broker without a data dir, as the
// comparison point.
func BenchmarkProduceConsume(b *testing.B) {
	for _, mode := range []string{"fsync", "memory"} {
		b.Run(mode, func(b *testing.B) {
			o := bus.EmbeddedOptions{Listen: "127.0.0.1:0", Partitions: 8}
			if mode == "fsync" {
				o.DataDir, o.SyncWrites = filepath.Join(b.TempDir(), "kafka"), true
			}
			broker, err := bus.StartEmbedded(o)
			if err != nil {
				b.Fatal(err)
			}
			defer broker.Close()
			topic := "bench-" + mode
			prod, err := kgo.NewClient(kgo.SeedBrokers(broker.Addr()), kgo.DefaultProduceTopic(topic),
				kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			defer prod.Close()
			value := bytes.Repeat([]byte("x"), 200)
			keys := make([][]byte, 1024)
			for i := range keys {
				keys[i] = []byte{byte(i), byte(i >> 8), 'k'}
			}
			ctx := context.Background()
			if _, err := kadm.NewClient(prod).CreateTopic(ctx, 8, 1, nil, topic); err != nil {
				b.Fatal(err)
			}
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var firstErr error
			var mu sync.Mutex
			for i := 0; i < b.N; i++ {
				wg.Add(1)
				prod.Produce(ctx, &kgo.Record{Key: keys[i%len(keys)], Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					wg.Done()
				})
			}
			wg.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			produced := time.Since(start)
			cons, err := kgo.NewClient(kgo.SeedBrokers(broker.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			got := 0
			for got < b.N+1 {
				got += len(cons.PollFetches(ctx).Records())
			}
			b.StopTimer()
			total := time.Since(start)
			b.ReportMetric(float64(b.N)/produced.Seconds(), "produced-rec/s")
			b.ReportMetric(float64(b.N)/total.Seconds(), "end-to-end-rec/s")
		})
	}
}
