package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/bus"
)

// Row is one pending outbox entry. Payload is the encoded envelope.
type Row struct {
	ID      int64
	EventID string
	Topic   string // logical topic
	Key     string
	Type    string
	Payload []byte
}

// Store is the outbox side of the system of record.
type Store interface {
	// PendingOutbox returns up to limit unsent rows in id order.
	PendingOutbox(ctx context.Context, limit int) ([]Row, error)
	// MarkOutboxSent records rows as published (the store deletes them: the
	// event log is their record from then on).
	MarkOutboxSent(ctx context.Context, ids []int64) error
	// OutboxBacklog counts unsent rows.
	OutboxBacklog(ctx context.Context) (int64, error)
	// AcquireRelayLease blocks until this process is the one relay allowed to
	// publish (one relay keeps per-key order); release gives it up.
	AcquireRelayLease(ctx context.Context) (release func(), err error)
}

// Producer publishes records and waits for their acknowledgement.
type Producer interface {
	ProduceRecords(ctx context.Context, recs ...*kgo.Record) error
	Topic(logical string) string
}

// Options tune the relay.
type Options struct {
	Batch        int
	PollInterval time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Relay is the outbox-relay role.
type Relay struct {
	store     Store
	producer  Producer
	o         Options
	backlog   prometheus.Gauge
	published prometheus.Counter
	wake      chan struct{}
}

// NewRelay builds a relay.
func NewRelay(store Store, producer Producer, o Options) *Relay {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		store: store, producer: producer, o: o,
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mercato_outbox_backlog", Help: "Outbox rows written but not yet published.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mercato_outbox_published_total", Help: "Outbox rows published and marked sent.",
		}),
		wake: make(chan struct{}, 1),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.backlog, r.published)
	}
	return r
}

// Notify tells the relay new rows were committed, so it need not wait for
// its next poll. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx is cancelled. Errors are retried with backoff: the
// rows stay in the table, so nothing acknowledged is lost.
func (r *Relay) Run(ctx context.Context) error {
	release, err := r.store.AcquireRelayLease(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("acquiring outbox relay lease: %w", err)
	}
	defer release()
	backoff := r.o.PollInterval
	for {
		n, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.o.PollInterval
		switch {
		case err != nil:
			r.o.Logger.Warn("outbox relay batch failed, retrying", "err", err, "backoff", backoff)
			wait = backoff
			backoff = min(2*backoff, 5*time.Second)
		case n == r.o.Batch:
			backoff = r.o.PollInterval
			continue // more rows are waiting
		default:
			backoff = r.o.PollInterval
		}
		if b, err := r.store.OutboxBacklog(ctx); err == nil {
			r.backlog.Set(float64(b))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(wait):
		}
	}
}

// RelayOnce publishes one batch and marks it sent; it returns the batch size.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	rows, err := r.store.PendingOutbox(ctx, r.o.Batch)
	if err != nil {
		return 0, fmt.Errorf("reading outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	recs := make([]*kgo.Record, len(rows))
	ids := make([]int64, len(rows))
	for i, row := range rows {
		recs[i] = &kgo.Record{
			Topic: r.producer.Topic(row.Topic),
			Key:   []byte(row.Key),
			Value: row.Payload,
			Headers: []kgo.RecordHeader{
				{Key: bus.HeaderEventType, Value: []byte(row.Type)},
				{Key: bus.HeaderEventID, Value: []byte(row.EventID)},
			},
		}
		ids[i] = row.ID
	}
	// The idempotent producer keeps per-partition order across retries, so
	// producing the batch in id order keeps every key's events in order.
	if err := r.producer.ProduceRecords(ctx, recs...); err != nil {
		return 0, err
	}
	if err := r.store.MarkOutboxSent(ctx, ids); err != nil {
		return 0, fmt.Errorf("marking outbox rows sent: %w", err)
	}
	r.published.Add(float64(len(rows)))
	return len(rows), nil
}
