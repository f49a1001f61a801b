package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TransactOptions configure an exactly-once consume-transform-produce loop.
type TransactOptions struct {
	Group string
	// TransactionalID must be stable per instance across restarts, so that a
	// restarted instance fences its previous incarnation. It is also the
	// instance's static group membership id (group.instance.id).
	TransactionalID string
	Topics          []string // logical names
	// Process turns one polled batch into the records to produce in the same
	// transaction as the batch's offsets. Records in and out carry logical
	// topic names. An error aborts the batch: it is consumed again.
	Process func(ctx context.Context, recs []*Record) ([]*Record, error)
	// OnAbort runs after a batch's transaction aborted, so the processor can
	// drop the in-memory effects of that batch (the records come again).
	OnAbort func()
	// OnAssigned runs before records of newly assigned partitions are polled:
	// the place to restore state from a changelog.
	OnAssigned func(ctx context.Context, assigned map[string][]int32)
	// OnRevoked runs when partitions leave this instance.
	OnRevoked func(ctx context.Context, revoked map[string][]int32)
	// OnCommit runs after a batch's transaction committed, so the processor
	// can count what it produced once and only for good.
	OnCommit  func()
	FromStart bool
	MaxPoll   int
	// IdleTick, when positive, calls Process with no records (in its own
	// transaction) whenever no record arrived for that long, so a processor
	// can advance wall-clock-driven state such as idle watermarks even when
	// every input partition is silent.
	IdleTick time.Duration
}

// Transactor runs a TransactOptions loop on a franz-go GroupTransactSession:
// consumed offsets, produced records and any changelog records commit or abort
// together, and consumers read with read_committed.
type Transactor struct {
	c       *Client
	o       TransactOptions
	s       *kgo.GroupTransactSession
	log     *slog.Logger
	running atomic.Bool
}

// NewTransactor builds the session; Run starts it.
func (c *Client) NewTransactor(o TransactOptions) (*Transactor, error) {
	if o.Group == "" || o.TransactionalID == "" || len(o.Topics) == 0 || o.Process == nil {
		return nil, errors.New("bus: transactor needs a group, a transactional id, topics and a process func")
	}
	if o.MaxPoll <= 0 {
		o.MaxPoll = 5000
	}
	t := &Transactor{c: c, o: o, log: c.log.With("group", o.Group)}
	c.opts.Metrics.initDLQ(o.Group, o.Topics)
	topics := make([]string, len(o.Topics))
	for i, name := range o.Topics {
		topics[i] = c.Topic(name)
	}
	opts := c.clientOpts(
		kgo.TransactionalID(c.opts.Prefix+o.TransactionalID),
		kgo.ConsumerGroup(c.opts.Prefix+o.Group),
		// Static membership under the same stable id: an instance restarted
		// after a crash takes its partitions back at once instead of leaving
		// them unread until the crashed member's session times out (45 s).
		// A static member does not leave the group when it closes, so a
		// rolling restart moves no partition either.
		kgo.InstanceID(c.opts.Prefix+o.TransactionalID),
		kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if o.FromStart {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if o.OnAssigned != nil {
		opts = append(opts, kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			o.OnAssigned(ctx, c.logicalAssignment(m))
		}))
	}
	if o.OnRevoked != nil {
		opts = append(opts, kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			o.OnRevoked(ctx, c.logicalAssignment(m))
		}))
	}
	s, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating transactional session %s: %w", o.Group, err)
	}
	t.s = s
	return t, nil
}

// Running reports whether the loop is polling.
func (t *Transactor) Running() bool { return t.running.Load() }

// Run loops until ctx is cancelled. A cancelled batch is aborted, never half
// committed.
func (t *Transactor) Run(ctx context.Context) error {
	t.running.Store(true)
	defer t.running.Store(false)
	defer t.s.Close()
	for {
		pollCtx, pollCancel := ctx, context.CancelFunc(func() {})
		if t.o.IdleTick > 0 {
			pollCtx, pollCancel = context.WithTimeout(ctx, t.o.IdleTick)
		}
		fetches := t.s.PollRecords(pollCtx, t.o.MaxPoll)
		pollCancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			t.s.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		polled := fetches.Records()
		if len(polled) == 0 && t.o.IdleTick <= 0 {
			t.s.AllowRebalance()
			continue
		}
		if err := t.s.Begin(); err != nil {
			return fmt.Errorf("beginning transaction: %w", err)
		}
		out, perr := t.o.Process(ctx, t.records(polled))
		if perr == nil {
			perr = t.produce(ctx, out)
		}
		try := kgo.TryCommit
		if perr != nil {
			try = kgo.TryAbort
			if ctx.Err() == nil {
				t.log.Warn("batch failed, aborting its transaction", "err", perr)
			}
		}
		// On shutdown, abort with a live context: ending with the cancelled one
		// would leave the transaction open, stalling read_committed readers
		// until the transaction times out.
		endCtx, endCancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			try = kgo.TryAbort
			endCtx, endCancel = context.WithTimeout(context.Background(), 5*time.Second)
		}
		committed, err := t.s.End(endCtx, try)
		endCancel()
		t.s.AllowRebalance()
		if !committed && t.o.OnAbort != nil {
			t.o.OnAbort()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.FencedInstanceID) {
				return fmt.Errorf("ending transaction: another process runs with the same instance id %q (each needs its own): %w", t.o.TransactionalID, err)
			}
			return fmt.Errorf("ending transaction: %w", err)
		}
		if committed {
			for _, r := range out {
				t.c.opts.Metrics.Published.WithLabelValues(t.c.Topic(r.Topic)).Inc()
			}
			t.c.opts.Metrics.countDeadLetters(t.o.Group, out)
			if t.o.OnCommit != nil {
				t.o.OnCommit()
			}
		}
	}
}

// records is a polled batch as Records, in one allocation.
func (t *Transactor) records(polled []*kgo.Record) []*Record {
	if len(polled) == 0 {
		return nil
	}
	batch := make([]Record, len(polled))
	out := make([]*Record, len(polled))
	for i, r := range polled {
		batch[i] = t.c.fromKgo(r)
		out[i] = &batch[i]
	}
	return out
}

// produce sends out and waits for every ack, so a failed record aborts the
// transaction instead of committing a batch with a hole in it.
func (t *Transactor) produce(ctx context.Context, out []*Record) error {
	var (
		mu       sync.Mutex
		firstErr error
	)
	for _, r := range out {
		t.s.Produce(ctx, t.c.toKgo(r), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	if err := t.s.Client().Flush(ctx); err != nil {
		return fmt.Errorf("flushing transaction: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("producing in transaction: %w", firstErr)
	}
	return nil
}
