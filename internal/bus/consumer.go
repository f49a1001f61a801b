package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/retry"
)

// Handler processes one decoded record. A nil return commits the record; an
// error wrapped with Permanent sends it to the dead-letter topic; any other
// error is retried with backoff until it succeeds or the runner stops.
type Handler func(ctx context.Context, env event.Envelope, rec *Record) error

// PermanentError marks a failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the consumer dead-letters the record instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err should dead-letter the record.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) || errors.Is(err, event.ErrMalformed)
}

// ConsumerOptions configure a consumer group runner.
type ConsumerOptions struct {
	Group   string
	Topics  []string // logical names
	Handler Handler
	// MinBackoff and MaxBackoff bound the retry delay for transient errors.
	MinBackoff, MaxBackoff time.Duration
	// FromStart makes a group with no committed offsets start at the oldest record.
	FromStart bool
	// SessionTimeout is the group session timeout; 0 keeps the client default.
	SessionTimeout time.Duration

	// Flush, when set, makes the consumer batch: Handler only adds a record
	// to the caller's batch, and no offset is committed until Flush made the
	// whole batch durable. Flush runs when FlushRecords records are pending,
	// FlushEvery after the oldest pending one arrived, before partitions are
	// revoked, and on stop. A failed Flush is retried with backoff; its
	// records stay pending (Flush must be safe to repeat).
	Flush        func(ctx context.Context) error
	FlushRecords int
	FlushEvery   time.Duration
	// OnAssigned runs when partitions (logical topic names) are assigned.
	OnAssigned func(ctx context.Context, assigned map[string][]int32)
	// Drop, in batch mode, discards the batch's pending records of
	// partitions this member lost (or could not flush before revoking):
	// their offsets stay uncommitted and the new owner handles them.
	Drop func(parts map[string][]int32)
}

// Consumer runs a handler over a consumer group's share of partitions.
type Consumer struct {
	c       *Client
	o       ConsumerOptions
	cl      *kgo.Client
	log     *slog.Logger
	running atomic.Bool

	lag *lagTracker

	// batch mode: records handled but not yet flushed, and when the oldest came.
	batchMu sync.Mutex
	pending []*kgo.Record
	oldest  time.Time
}

// NewConsumer joins o.Group when Run is called.
func (c *Client) NewConsumer(o ConsumerOptions) (*Consumer, error) {
	if o.Group == "" || len(o.Topics) == 0 || o.Handler == nil {
		return nil, errors.New("bus: consumer needs a group, topics and a handler")
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.FlushRecords <= 0 {
		o.FlushRecords = 50_000
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 10 * time.Second
	}
	topics := make([]string, len(o.Topics))
	for i, t := range o.Topics {
		topics[i] = c.Topic(t)
	}
	cons := &Consumer{c: c, o: o, log: c.log.With("group", o.Group), lag: newLagTracker(c, o.Group)}
	c.opts.Metrics.initDLQ(o.Group, o.Topics)
	opts := c.clientOpts(
		kgo.ConsumerGroup(c.opts.Prefix+o.Group),
		kgo.ConsumeTopics(topics...),
		// Only records the handler finished are committed, periodically and on
		// revoke; a crash redelivers the rest (at-least-once, dedupe by event id).
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Second),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if o.FromStart {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = c.opts.SessionTimeout
	}
	if o.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(o.SessionTimeout))
	}
	if o.OnAssigned != nil {
		opts = append(opts, kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			o.OnAssigned(ctx, c.logicalAssignment(m))
		}))
	}
	if o.Flush != nil {
		// Pending records of a revoked partition must reach the lake (and
		// their offsets the group) before another member takes over.
		opts = append(opts, kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
			// Bounded: a member that cannot write must not hold the group's
			// rebalance; what it could not flush is dropped, uncommitted.
			fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			flushed := cons.flushPending(fctx)
			cancel()
			if !flushed {
				cons.dropPending(revoked)
			}
			if err := cl.CommitMarkedOffsets(ctx); err != nil {
				cons.log.Warn("committing offsets on revoke", "err", err)
			}
		}), kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			// Another member may already own these: nothing of them may be
			// written or committed from here.
			cons.dropPending(lost)
		}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", o.Group, err)
	}
	cons.cl = cl
	return cons, nil
}

// Running reports whether the runner is inside its poll loop.
func (cons *Consumer) Running() bool { return cons.running.Load() }

// Run polls and handles records until ctx is cancelled, then commits what it
// finished and leaves the group. It returns nil on a clean stop.
func (cons *Consumer) Run(ctx context.Context) error {
	cons.running.Store(true)
	defer cons.running.Store(false)
	defer cons.close()
	for {
		pollCtx, pollCancel := cons.pollContext(ctx)
		fetches := cons.cl.PollRecords(pollCtx, 1000)
		pollCancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			cons.cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				cons.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		stopped := false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if stopped {
				return
			}
			for _, rec := range fp.Records {
				if !cons.handle(ctx, rec) {
					stopped = true
					return
				}
				cons.done(rec)
			}
			cons.lag.fetched(fp)
		})
		if !stopped {
			cons.flushIfDue(ctx)
		}
		cons.cl.AllowRebalance()
		if stopped {
			return nil
		}
	}
}

// pollContext bounds a batching consumer's poll by the time its oldest
// pending record may wait.
func (cons *Consumer) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if cons.o.Flush == nil {
		return ctx, func() {}
	}
	cons.batchMu.Lock()
	wait := cons.o.FlushEvery
	if len(cons.pending) > 0 {
		wait = max(time.Until(cons.oldest.Add(cons.o.FlushEvery)), time.Millisecond)
	}
	cons.batchMu.Unlock()
	return context.WithTimeout(ctx, wait)
}

// done marks a handled record for commit, or, when batching, holds it until
// the next flush.
func (cons *Consumer) done(rec *kgo.Record) {
	if cons.o.Flush == nil {
		cons.cl.MarkCommitRecords(rec)
		return
	}
	cons.batchMu.Lock()
	defer cons.batchMu.Unlock()
	if len(cons.pending) == 0 {
		cons.oldest = time.Now()
	}
	cons.pending = append(cons.pending, rec)
}

func (cons *Consumer) flushIfDue(ctx context.Context) {
	if cons.o.Flush == nil {
		return
	}
	cons.batchMu.Lock()
	due := len(cons.pending) >= cons.o.FlushRecords ||
		(len(cons.pending) > 0 && !time.Now().Before(cons.oldest.Add(cons.o.FlushEvery)))
	cons.batchMu.Unlock()
	if due {
		// Bounded, so a member that cannot write lets rebalances through
		// (its batch stays pending and is retried after the next poll).
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cons.flushPending(fctx)
		cancel()
	}
}

// dropPending forgets the pending records of parts (broker topic names).
func (cons *Consumer) dropPending(parts map[string][]int32) {
	cons.batchMu.Lock()
	defer cons.batchMu.Unlock()
	kept := cons.pending[:0]
	for _, r := range cons.pending {
		if !slices.Contains(parts[r.Topic], r.Partition) {
			kept = append(kept, r)
		}
	}
	clear(cons.pending[len(kept):])
	cons.pending = kept
	if cons.o.Drop != nil {
		cons.o.Drop(cons.c.logicalAssignment(parts))
	}
}

// flushPending runs Flush until it succeeds (or ctx ends, leaving the batch
// pending and uncommitted), then marks the batch's records for commit. It
// reports whether nothing is left pending.
func (cons *Consumer) flushPending(ctx context.Context) bool {
	if cons.o.Flush == nil {
		return true
	}
	cons.batchMu.Lock()
	defer cons.batchMu.Unlock()
	if len(cons.pending) == 0 {
		return true
	}
	err := cons.retry(func(attempt int, err error) {
		if attempt == 1 || attempt%10 == 0 {
			cons.log.Warn("flushing batch failed, retrying", "records", len(cons.pending), "attempt", attempt, "err", err)
		}
	}).Do(ctx, func(int) error { return cons.o.Flush(ctx) })
	if err != nil {
		return false // only a cancelled ctx ends the retries
	}
	cons.cl.MarkCommitRecords(cons.pending...)
	cons.pending = cons.pending[:0]
	return true
}

func (cons *Consumer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !cons.flushPending(ctx) {
		// Left uncommitted for the next member; the revoke on leaving
		// must not try again.
		parts := map[string][]int32{}
		cons.batchMu.Lock()
		for _, r := range cons.pending {
			if !slices.Contains(parts[r.Topic], r.Partition) {
				parts[r.Topic] = append(parts[r.Topic], r.Partition)
			}
		}
		cons.batchMu.Unlock()
		cons.dropPending(parts)
	}
	if err := cons.cl.CommitMarkedOffsets(ctx); err != nil {
		cons.log.Warn("committing offsets on stop", "err", err)
	}
	cons.cl.Close()
}

// retry is the consumer's backoff, telling onRetry of each failure.
func (cons *Consumer) retry(onRetry func(attempt int, err error)) retry.Policy {
	return retry.Policy{Backoff: retry.Backoff{First: cons.o.MinBackoff, Max: cons.o.MaxBackoff},
		OnRetry: func(attempt int, err error, _ time.Duration) { onRetry(attempt, err) }}
}

// handle runs the handler with retries; false means the runner must stop
// (ctx cancelled) without marking rec.
func (cons *Consumer) handle(ctx context.Context, kr *kgo.Record) bool {
	rec := cons.c.fromKgo(kr)
	m := cons.c.opts.Metrics
	err := cons.retry(func(attempt int, err error) {
		m.Retries.WithLabelValues(cons.o.Group, rec.Topic).Inc()
		if attempt == 1 || attempt%10 == 0 {
			cons.log.Warn("handler failed, retrying", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "attempt", attempt, "err", err)
		}
	}).Do(ctx, func(int) error {
		err := cons.dispatch(ctx, &rec)
		if err == nil {
			m.Consumed.WithLabelValues(cons.o.Group, rec.Topic).Inc()
			return nil
		}
		if !IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if dlqErr := cons.c.Produce(ctx, cons.c.DeadLetter(&rec, err)); dlqErr != nil {
			return dlqErr
		}
		m.DLQ.WithLabelValues(cons.o.Group, rec.Topic).Inc()
		cons.log.Warn("record sent to dead-letter topic", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return nil
	})
	return err == nil
}

func (cons *Consumer) dispatch(ctx context.Context, rec *Record) (err error) {
	env, err := event.Decode(rec.Value)
	if err != nil {
		return err
	}
	// A handler bug must not take the process down; the record is dead-lettered.
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panic: %v", r))
		}
	}()
	return cons.o.Handler(ctx, env, rec)
}
