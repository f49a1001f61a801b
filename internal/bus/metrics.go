package bus

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
)

// Metrics are the bus's Prometheus series. Labels are topics and groups only,
// never keys or partitions, so cardinality stays bounded.
type Metrics struct {
	Consumed  *prometheus.CounterVec
	DLQ       *prometheus.CounterVec
	Retries   *prometheus.CounterVec
	Lag       *prometheus.GaugeVec
	Published *prometheus.CounterVec
}

// NewMetrics registers the bus series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_consumer_records_total", Help: "Records handled successfully by consumer groups.",
		}, []string{"group", "topic"}),
		DLQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_consumer_dlq_total", Help: "Records sent to a dead-letter topic.",
		}, []string{"group", "topic"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_consumer_retries_total", Help: "Handler attempts that failed with a transient error and were retried.",
		}, []string{"group", "topic"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mercato_consumer_lag", Help: "Records between a group's position and the partition end, summed over the topic's fetched partitions.",
		}, []string{"group", "topic"}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_published_records_total", Help: "Records acknowledged by the broker.",
		}, []string{"topic"}),
	}
	if reg != nil {
		reg.MustRegister(m.Consumed, m.DLQ, m.Retries, m.Lag, m.Published)
	}
	return m
}

// DeclareDeadLetters creates a group's dead-letter series at 0 now, for a
// role that builds its consumer only after a slow start (the pricing
// processor reads every rule first), so /metrics has them from the first
// scrape.
func (c *Client) DeclareDeadLetters(group string, topics []string) {
	c.opts.Metrics.initDLQ(group, topics)
}

// initDLQ creates a group's dead-letter series at 0 for each of its logical
// topics when the group's consumer is built, so an alert on their rate has
// data before the first record is dead-lettered.
func (m *Metrics) initDLQ(group string, topics []string) {
	for _, t := range topics {
		m.DLQ.WithLabelValues(group, t)
	}
}

// countDeadLetters counts the dead-letter records among out, records a
// group's transaction committed, by the topic they came from.
func (m *Metrics) countDeadLetters(group string, out []*Record) {
	for _, r := range out {
		if src, ok := strings.CutSuffix(r.Topic, event.DLQSuffix); ok {
			m.DLQ.WithLabelValues(group, src).Inc()
		}
	}
}

// lagTracker sums one reader's per-partition lag into its
// mercato_consumer_lag{group, topic} series: a consumer group's, or a
// table reader's under the name it reports as.
type lagTracker struct {
	c      *Client
	reader string
	mu     sync.Mutex
	parts  map[string]map[int32]int64 // broker topic → partition → lag
}

func newLagTracker(c *Client, reader string) *lagTracker {
	return &lagTracker{c: c, reader: reader, parts: map[string]map[int32]int64{}}
}

// declare creates the reader's series at 0 for its logical topics.
func (l *lagTracker) declare(topics []string) {
	for _, t := range topics {
		l.c.opts.Metrics.Lag.WithLabelValues(l.reader, t)
	}
}

// fetched records the lag a fetched partition leaves: the records after
// its last fetched one, up to the high watermark. A partition fetched
// without records changes nothing.
func (l *lagTracker) fetched(fp kgo.FetchTopicPartition) {
	if n := len(fp.Records); n > 0 {
		l.set(fp.Topic, fp.Partition, fp.HighWatermark-fp.Records[n-1].Offset-1)
	}
}

// set records partition p of broker topic topic as lag records behind.
func (l *lagTracker) set(topic string, p int32, lag int64) {
	lag = max(lag, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	parts := l.parts[topic]
	if parts == nil {
		parts = map[int32]int64{}
		l.parts[topic] = parts
	}
	parts[p] = lag
	var sum int64
	for _, n := range parts {
		sum += n
	}
	l.c.opts.Metrics.Lag.WithLabelValues(l.reader, l.c.logical(topic)).Set(float64(sum))
}
