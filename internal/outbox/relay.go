package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/retry"
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
	// PendingOutbox returns unsent rows in id order: up to limit, or, from
	// a store that keeps the events of one write in one row (whose events
	// then share its id), the writes up to the one that reaches limit.
	PendingOutbox(ctx context.Context, limit int) ([]Row, error)
	// MarkOutboxSent records rows as published (the store deletes them: the
	// event log is their record from then on).
	MarkOutboxSent(ctx context.Context, ids []int64) error
	// OutboxBacklog counts unsent events.
	OutboxBacklog(ctx context.Context) (int64, error)
	// AcquireRelayLease blocks until this process is the one relay allowed to
	// publish (one relay keeps per-key order).
	AcquireRelayLease(ctx context.Context) (Lease, error)
}

// ErrLeaseLost means a relay no longer holds its lease: another relay may
// be publishing, so this one must stop until it acquires the lease again.
var ErrLeaseLost = errors.New("outbox relay lease lost")

// Lease is the right to be the one publishing relay. A lease can be lost
// while the process lives (on PostgreSQL, when the connection holding the
// lock drops), so the relay checks it before every batch.
type Lease interface {
	// Check returns nil while the lease is held and an error wrapping
	// ErrLeaseLost once it is not (or can no longer be confirmed).
	Check(ctx context.Context) error
	// Release gives the lease up; it is safe after the lease was lost.
	Release()
}

// Producer publishes records and waits for their acknowledgement.
type Producer interface {
	// Produce publishes records (logical topic names) in order.
	Produce(ctx context.Context, recs ...*bus.Record) error
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
			Name: "mercato_outbox_backlog", Help: "Outbox events written but not yet published.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mercato_outbox_published_total", Help: "Outbox events published and marked sent.",
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

// backoff is the wait after failures: the poll interval, doubled up to 5 s.
func (r *Relay) backoff() retry.Backoff {
	return retry.Backoff{First: r.o.PollInterval, Max: 5 * time.Second}
}

// Run relays until ctx is cancelled. Errors are retried with backoff: the
// rows stay in the table, so nothing acknowledged is lost. A lost lease
// stops publishing at once; the relay then waits to acquire it again.
func (r *Relay) Run(ctx context.Context) error {
	fails := 0
	for {
		lease, err := r.store.AcquireRelayLease(ctx)
		if ctx.Err() != nil {
			if lease != nil {
				lease.Release()
			}
			return nil
		}
		if err != nil {
			// The system of record may be briefly unreachable (the very drop
			// that lost the lease): keep trying rather than end the role.
			fails++
			backoff := r.backoff().Delay(fails)
			r.o.Logger.Warn("acquiring outbox relay lease failed, retrying", "err", err, "backoff", backoff)
			if !retry.Sleep(ctx, backoff, nil) {
				return nil
			}
			continue
		}
		fails = 0
		err = r.publish(ctx, lease)
		lease.Release()
		if ctx.Err() != nil {
			return nil
		}
		r.o.Logger.Warn("outbox relay lease lost, stopped publishing until it is acquired again", "err", err)
	}
}

// publish relays batches while lease is held; it returns when ctx is done
// (nil) or the lease is lost (the error saying why).
func (r *Relay) publish(ctx context.Context, lease Lease) error {
	fails := 0
	var lastCount time.Time
	for {
		n, err := r.relayBatch(ctx, lease)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		wait := r.o.PollInterval
		switch {
		case err != nil:
			fails++
			wait = r.backoff().Delay(fails)
			r.o.Logger.Warn("outbox relay batch failed, retrying", "err", err, "backoff", wait)
		case n >= r.o.Batch:
			fails = 0
			continue // more rows are waiting
		default:
			fails = 0
		}
		// Counting the backlog scans the unsent rows (and, on PostgreSQL,
		// the dead ones deletes leave until vacuum): at most once a second.
		if now := time.Now(); now.Sub(lastCount) >= backlogEvery {
			lastCount = now
			if b, err := r.store.OutboxBacklog(ctx); err == nil {
				r.backlog.Set(float64(b))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(wait):
		}
	}
}

// backlogEvery is how often a publishing relay counts its backlog for the
// outbox_backlog gauge.
const backlogEvery = time.Second

// RelayOnce publishes one batch and marks it sent; it returns the batch
// size. It takes no lease: the caller is the only relay (tests, tools).
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	return r.relayBatch(ctx, nil)
}

// relayBatch publishes one batch if lease (when not nil) is still held.
func (r *Relay) relayBatch(ctx context.Context, lease Lease) (int, error) {
	rows, err := r.store.PendingOutbox(ctx, r.o.Batch)
	if err != nil {
		return 0, fmt.Errorf("reading outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	// Checked after reading, right before producing, so the window in which
	// a relay that lost its lease could still publish is one round trip.
	if lease != nil {
		if err := lease.Check(ctx); err != nil {
			if !errors.Is(err, ErrLeaseLost) {
				err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
			}
			return 0, err
		}
	}
	recs := make([]*bus.Record, len(rows))
	ids := make([]int64, 0, len(rows))
	for i, row := range rows {
		recs[i] = &bus.Record{
			Topic: row.Topic,
			Key:   []byte(row.Key),
			Value: row.Payload,
			Headers: []bus.Header{
				{Key: bus.HeaderEventType, Value: []byte(row.Type)},
				{Key: bus.HeaderEventID, Value: []byte(row.EventID)},
			},
		}
		if len(ids) == 0 || ids[len(ids)-1] != row.ID {
			ids = append(ids, row.ID)
		}
	}
	// The idempotent producer keeps per-partition order across retries, so
	// producing the batch in id order keeps every key's events in order.
	if err := r.producer.Produce(ctx, recs...); err != nil {
		return 0, err
	}
	if err := r.store.MarkOutboxSent(ctx, ids); err != nil {
		return 0, fmt.Errorf("marking outbox rows sent: %w", err)
	}
	r.published.Add(float64(len(rows)))
	return len(rows), nil
}
