package bus_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// dlqCount is mercato_consumer_dlq_total{group,topic} on reg, and whether
// the series exists.
func dlqCount(t *testing.T, reg *prometheus.Registry, group, topic string) (float64, bool) {
	t.Helper()
	m := series(t, reg, "mercato_consumer_dlq_total", map[string]string{"group": group, "topic": topic})
	return m.GetCounter().GetValue(), m != nil
}

// series is the series of metric name on reg whose labels include want,
// or nil.
func series(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// metricsClient is a client of a new embedded broker whose series go to
// the registry returned.
func metricsClient(t *testing.T) (*bus.Client, *prometheus.Registry) {
	t.Helper()
	b := testenv.Kafka(t, 1)
	reg := prometheus.NewRegistry()
	c, err := bus.NewClient(bus.Options{Brokers: []string{b.Addr()}, Metrics: bus.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, reg
}

// Dead-letter series exist at 0 for every group and topic as soon as the
// consumer or transactor is built, and a transactor counts the dead letters
// it committed.
func TestDeadLetterSeries(t *testing.T) {
	t.Parallel()
	c, reg := metricsClient(t)
	if err := c.EnsureTopics(context.Background(), event.Topics(), 1); err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, event.Envelope, *bus.Record) error { return nil }
	if _, err := c.NewConsumer(bus.ConsumerOptions{Group: "alerts", Topics: []string{event.TopicAlerts, event.TopicInventory}, Handler: noop}); err != nil {
		t.Fatal(err)
	}
	var commits atomic.Int32
	tr, err := c.NewTransactor(bus.TransactOptions{
		Group: "priced", TransactionalID: "priced-0", Topics: []string{event.TopicPurchases}, FromStart: true,
		Process: func(_ context.Context, recs []*bus.Record) ([]*bus.Record, error) {
			var out []*bus.Record
			for _, r := range recs {
				out = append(out, c.DeadLetter(r, errors.New("refused")))
			}
			return out, nil
		},
		OnCommit: func() { commits.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{{"alerts", event.TopicAlerts}, {"alerts", event.TopicInventory}, {"priced", event.TopicPurchases}} {
		if n, ok := dlqCount(t, reg, s[0], s[1]); !ok || n != 0 {
			t.Errorf("before any record: dlq{group=%s,topic=%s} = %v (present %v), want 0", s[0], s[1], n, ok)
		}
	}
	if err := c.Publish(context.Background(), msg(t, event.TopicPurchases, "A", 1), msg(t, event.TopicPurchases, "B", 2)); err != nil {
		t.Fatal(err)
	}
	run(t, tr)
	testenv.WaitFor(t, "two dead letters counted", func() bool {
		n, _ := dlqCount(t, reg, "priced", event.TopicPurchases)
		return n == 2
	})
	if commits.Load() == 0 {
		t.Error("OnCommit never ran")
	}
}

// A table reader that reports its lag has the series at 0 before it reads,
// and at 0 again once it has read to the end.
func TestTableReportsItsLag(t *testing.T) {
	t.Parallel()
	c, reg := metricsClient(t)
	ctx := context.Background()
	if err := c.EnsureTopics(ctx, event.Topics(), 2); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := c.Publish(ctx, msg(t, event.TopicPrices, "SKU-"+strconv.Itoa(i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := c.OpenTable(event.TopicPrices)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	labels := map[string]string{"group": "price-book", "topic": event.TopicPrices}
	tb.ReportLag("price-book")
	if m := series(t, reg, "mercato_consumer_lag", labels); m == nil || m.GetGauge().GetValue() != 0 {
		t.Fatalf("before reading: lag series %v, want 0", m)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var read atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		tb.Follow(fctx, 3, func(recs []bus.Record) {
			if read.Add(int32(len(recs))) >= 20 {
				cancel()
			}
		}, nil)
	}()
	<-done
	if read.Load() < 20 {
		t.Fatalf("read %d of 20 records", read.Load())
	}
	if m := series(t, reg, "mercato_consumer_lag", labels); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("after reading to the end: lag series %v, want 0", m)
	}
}
