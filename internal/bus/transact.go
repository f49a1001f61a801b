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
	// AlignBy, when positive, reads the partitions of Topics that share a
	// number in step by record timestamp: each batch is merged in
	// timestamp order, and a partition running more than AlignBy ahead of
	// a same-numbered one that has records left to read is paused until
	// that one catches up. An event-time processor of co-partitioned
	// inputs then sees them interleaved alike whether it reads live or
	// catches up (see aligner).
	AlignBy time.Duration
	// OnReset runs when the instance was fenced (see Run) and starts a new
	// session: every partition is gone, and those the new session gets
	// come through OnAssigned again.
	OnReset func()
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
	opts    []kgo.Opt // the session's, to start a new one after a fence
	s       *kgo.GroupTransactSession
	log     *slog.Logger
	running atomic.Bool
	fences  []time.Time // recent fences, to tell a cut-off instance from a duplicate id
	align   *aligner    // nil unless AlignBy
}

// Fences of one instance within fenceWindow that mean another process runs
// with its id, rather than a connection cut for longer than the session.
const (
	maxFences   = 5
	fenceWindow = 10 * time.Minute
)

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
		// Range gives each member the same partition numbers of every
		// topic (they have equal partition counts): co-partitioned inputs
		// are processed together, which an event-time processor keyed by
		// partition number needs. Cooperative-sticky balances each topic
		// on its own. It stays listed so a group still on it upgrades
		// member by member: the group switches to range once every member
		// offers it (all partitions are revoked once then, and consumed
		// again from the committed offsets).
		kgo.Balancers(kgo.RangeBalancer(), kgo.CooperativeStickyBalancer()),
		kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// No rebalance between a poll and the end of its transaction: the
		// aligner's SetOffsets must not land on a partition revoked and
		// assigned again meanwhile (it would override the committed offset
		// the new assignment starts from), and a revoke never aborts a
		// transaction half done. Run allows rebalances after every batch.
		kgo.BlockRebalanceOnPoll(),
	)
	if o.FromStart {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if st := c.opts.SessionTimeout; st > 0 {
		// A transaction shorter than the session: a member cut off from
		// the brokers has its transaction aborted by them before its
		// partitions move, so the new owner never waits on it.
		opts = append(opts, kgo.SessionTimeout(st), kgo.TransactionTimeout(min(40*time.Second, st*4/5)))
	}
	if o.AlignBy > 0 {
		t.align = newAligner(o.AlignBy)
	}
	if o.OnAssigned != nil || t.align != nil {
		opts = append(opts, kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			if t.align != nil {
				t.align.assign(m)
			}
			if o.OnAssigned != nil {
				o.OnAssigned(ctx, c.logicalAssignment(m))
			}
		}))
	}
	if o.OnRevoked != nil || t.align != nil {
		opts = append(opts, kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if t.align != nil {
				t.align.forget(cl, m)
			}
			if o.OnRevoked != nil {
				o.OnRevoked(ctx, c.logicalAssignment(m))
			}
		}))
	}
	s, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating transactional session %s: %w", o.Group, err)
	}
	t.s, t.opts = s, opts
	return t, nil
}

// fenced reports whether err means the brokers no longer take this
// session's transactions or commits: its producer epoch was bumped (a
// transaction that outlived its timeout, or a newer producer with the same
// transactional id) or the group moved on without it.
func fenced(err error) bool {
	for _, e := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.FencedInstanceID, kerr.UnknownMemberID, kerr.IllegalGeneration} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// renew replaces a fenced session with a new one under the same ids. The
// new session's producer gets a new epoch (fencing anything the old one
// left behind), and its member rejoins the group; state is rebuilt from
// what the group assigns. Too many fences in a short time mean another
// process runs with this instance's id: that is an error.
func (t *Transactor) renew(err error) error {
	now := time.Now()
	t.fences = append(slices.DeleteFunc(t.fences, func(at time.Time) bool { return now.Sub(at) > fenceWindow }), now)
	if len(t.fences) >= maxFences {
		return fmt.Errorf("fenced %d times in %v: another process runs with the same instance id %q (each needs its own): %w",
			len(t.fences), fenceWindow, t.o.TransactionalID, err)
	}
	t.log.Warn("this instance was fenced (cut off from the brokers for longer than its session or transaction timeout?); starting a new session",
		"transactional_id", t.o.TransactionalID, "err", err)
	// The batch polled before the fence never reached AllowRebalance when
	// Begin failed: Close would wait for it (BlockRebalanceOnPoll).
	t.s.CloseAllowingRebalance()
	if t.align != nil {
		t.align.forget(nil, nil) // the new client has nothing paused
	}
	if t.o.OnReset != nil {
		t.o.OnReset()
	}
	s, nerr := kgo.NewGroupTransactSession(t.opts...)
	if nerr != nil {
		return fmt.Errorf("starting a new transactional session after a fence: %w", nerr)
	}
	t.s = s
	return nil
}

// fence loads the session's producer id now rather than at its first
// produce. That fences a predecessor under the same transactional id (a
// killed process) and aborts its open transaction, whose pending offsets
// would otherwise keep this member's offset fetch waiting
// (UNSTABLE_OFFSET_COMMIT) until that transaction timed out: half a minute
// and more with no input read. A failure is only logged: the producer id
// is loaded again at the first produce.
func (t *Transactor) fence(ctx context.Context) {
	if _, _, err := t.s.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		t.log.Warn("loading the transactional producer id failed; it is retried at the first batch", "transactional_id", t.o.TransactionalID, "err", err)
	}
}

// Running reports whether the loop is polling.
func (t *Transactor) Running() bool { return t.running.Load() }

// Run loops until ctx is cancelled. A cancelled batch is aborted, never half
// committed.
func (t *Transactor) Run(ctx context.Context) error {
	t.running.Store(true)
	defer t.running.Store(false)
	// The session renew made last; a return right after a poll (Begin
	// failing) has not allowed rebalances, which Close would wait for.
	defer func() { t.s.CloseAllowingRebalance() }()
	t.fence(ctx)
	quietSince := time.Now() // the last poll that brought records
	for {
		// A poll waits at most until the idle tick is due, and while the
		// aligner holds a partition paused, at most laggardFor: its laggard
		// may stop bringing records, and only steering again resumes it.
		wait := time.Duration(0)
		if t.o.IdleTick > 0 {
			wait = max(t.o.IdleTick-time.Since(quietSince), time.Millisecond)
		}
		if t.align != nil && t.align.holding() && (wait == 0 || wait > laggardFor) {
			wait = laggardFor
		}
		pollCtx, pollCancel := ctx, context.CancelFunc(func() {})
		if wait > 0 {
			pollCtx, pollCancel = context.WithTimeout(ctx, wait)
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
		var polled []*kgo.Record
		if t.align != nil {
			var rewind map[string]map[int32]kgo.EpochOffset
			polled, rewind = t.align.batch(fetches)
			// Before the batch's offsets are committed, and while no
			// rebalance can run: the held-back records are read again.
			t.s.Client().SetOffsets(rewind)
			t.align.steer(t.s.Client())
		} else {
			polled = fetches.Records()
		}
		if fetches.NumRecords() > 0 {
			quietSince = time.Now()
		}
		// An empty batch runs only as the idle tick, once no record came
		// for IdleTick.
		if len(polled) == 0 && (t.o.IdleTick <= 0 || time.Since(quietSince) < t.o.IdleTick) {
			t.s.AllowRebalance()
			continue
		}
		if len(polled) == 0 {
			quietSince = time.Now()
		}
		if err := t.s.Begin(); err != nil {
			if fenced(err) {
				if err := t.renew(err); err != nil {
					return err
				}
				continue
			}
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
		if !committed && t.align != nil {
			t.align.restart(t.s.Client())
		}
		if !committed && t.o.OnAbort != nil {
			t.o.OnAbort()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if fenced(err) {
				// Nothing of the batch committed (OnAbort ran): the new
				// session's owner of each partition starts from the
				// changelog.
				if err := t.renew(err); err != nil {
					return err
				}
				continue
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
