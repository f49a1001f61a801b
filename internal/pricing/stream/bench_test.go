package stream

import (
	"testing"
	"time"
)

// BenchmarkProcessorEndToEnd is the pricing role on the embedded broker:
// 100,000 purchase records (plus catalogue and stock for 1,000 SKUs) already
// in the log, consumed with JSON decoding, priced, and committed in Kafka
// transactions together with the changelog. Timed from processor start until
// the group has committed every input offset.
//
//	go test -run '^$' -bench ProcessorEndToEnd -benchtime 1x ./internal/pricing/stream/
func BenchmarkProcessorEndToEnd(b *testing.B) {
	const n = 100_000
	w := newWorkload(b, 1000, n)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, c := broker(b)
		publish(b, c, w.rules)
		publish(b, c, w.setup)
		publish(b, c, w.purchases)
		b.StartTimer()
		began := time.Now()
		r := startWith(b, c, "bench", 0, nil) // the bus default batch, 5000
		waitConsumed(b, c, r)
		elapsed := time.Since(began)
		b.StopTimer()
		r.stop(b)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	}
}
