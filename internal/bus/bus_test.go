package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func msg(t *testing.T, topic, sku string, n int) event.Message {
	t.Helper()
	env, err := event.New("test.purchase", "bus_test", sku, time.Now(), map[string]int{"n": n})
	if err != nil {
		t.Fatal(err)
	}
	return event.Message{Topic: topic, Envelope: env}
}

func nOf(t *testing.T, env event.Envelope) int {
	var d struct{ N int }
	if err := env.DecodeData(&d); err != nil {
		t.Errorf("decoding data: %v", err)
	}
	return d.N
}

// readAll reads every committed record of topic from the start.
func readAll(t *testing.T, seed, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, f.Records()...)
	}
	// Give stragglers (unexpected extra records) a moment to show up.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	out = append(out, cl.PollFetches(ctx2).Records()...)
	return out
}

func run(t *testing.T, r interface{ Run(context.Context) error }) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestConsumerRetriesThenCommitsInOrder(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 2)
	c := testenv.BusClient(t, b.Addr(), "")
	var msgs []event.Message
	for i := range 20 {
		msgs = append(msgs, msg(t, event.TopicPurchases, fmt.Sprintf("SKU-%d", i%3), i))
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		seen     = map[string][]int{}
		failures atomic.Int32
		count    atomic.Int32
	)
	cons, err := c.NewConsumer(bus.ConsumerOptions{
		Group: "retry", Topics: []string{event.TopicPurchases}, FromStart: true, MinBackoff: time.Millisecond,
		Handler: func(_ context.Context, env event.Envelope, _ *bus.Record) error {
			n := nOf(t, env)
			if n == 7 && failures.Add(1) <= 2 {
				return errors.New("database briefly unavailable")
			}
			mu.Lock()
			seen[env.Subject] = append(seen[env.Subject], n)
			mu.Unlock()
			count.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, cons)
	testenv.WaitFor(t, "20 records", func() bool { return count.Load() == 20 })
	if failures.Load() != 3 {
		t.Errorf("record 7 was attempted %d times, want 3", failures.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for sku, ns := range seen {
		for i := 1; i < len(ns); i++ {
			if ns[i] < ns[i-1] {
				t.Errorf("%s handled out of order: %v", sku, ns)
			}
		}
	}
}

func TestPoisonRecordsGoToDLQAndConsumerContinues(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 1)
	c := testenv.BusClient(t, b.Addr(), "")
	topic := c.Topic(event.TopicInventory)
	good1, good2 := msg(t, event.TopicInventory, "A", 1), msg(t, event.TopicInventory, "A", 3)
	r1, _ := bus.EventRecord(good1)
	r3, _ := bus.EventRecord(good2)
	poison := &bus.Record{Topic: event.TopicInventory, Key: []byte("A"), Value: []byte(`{"not":"an envelope"`)}
	rejected := msg(t, event.TopicInventory, "A", 2) // valid envelope the handler refuses
	r2, _ := bus.EventRecord(rejected)
	if err := c.Produce(context.Background(), &r1, poison, &r2, &r3); err != nil {
		t.Fatal(err)
	}
	var handled []int
	var mu sync.Mutex
	cons, err := c.NewConsumer(bus.ConsumerOptions{
		Group: "dlq", Topics: []string{event.TopicInventory}, FromStart: true,
		Handler: func(_ context.Context, env event.Envelope, _ *bus.Record) error {
			n := nOf(t, env)
			if n == 2 {
				return bus.Permanent(errors.New("unknown sku"))
			}
			mu.Lock()
			handled = append(handled, n)
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, cons)
	testenv.WaitFor(t, "both good records", func() bool { mu.Lock(); defer mu.Unlock(); return len(handled) == 2 })
	dlq := readAll(t, b.Addr(), topic+event.DLQSuffix, 2)
	if len(dlq) != 2 {
		t.Fatalf("dlq has %d records, want 2", len(dlq))
	}
	headers := func(r *kgo.Record) map[string]string {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		return h
	}
	h0, h1 := headers(dlq[0]), headers(dlq[1])
	if string(dlq[0].Value) != string(poison.Value) || h0[bus.HeaderSourceTopic] != topic || h0[bus.HeaderSourceOffset] != "1" || h0[bus.HeaderError] == "" {
		t.Errorf("first dlq record = %q %v", dlq[0].Value, h0)
	}
	if h1[bus.HeaderError] != "permanent: unknown sku" || h1[bus.HeaderSourceOffset] != "2" || string(dlq[1].Key) != "A" {
		t.Errorf("second dlq record headers = %v", h1)
	}
}

func TestUncommittedRecordsAreRedeliveredAfterRestart(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 1)
	c := testenv.BusClient(t, b.Addr(), "")
	var msgs []event.Message
	for i := range 10 {
		msgs = append(msgs, msg(t, event.TopicOrders, "ORD-1", i))
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	var done atomic.Int32
	blocked := make(chan struct{})
	first, err := c.NewConsumer(bus.ConsumerOptions{
		Group: "restart", Topics: []string{event.TopicOrders}, FromStart: true,
		Handler: func(ctx context.Context, env event.Envelope, _ *bus.Record) error {
			if nOf(t, env) == 6 {
				close(blocked)
				<-ctx.Done() // the process dies while handling record 6
				return ctx.Err()
			}
			done.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, first)
	<-blocked
	stop()
	if done.Load() != 6 {
		t.Fatalf("first run handled %d, want 6", done.Load())
	}
	var got []int
	var mu sync.Mutex
	second, err := c.NewConsumer(bus.ConsumerOptions{
		Group: "restart", Topics: []string{event.TopicOrders}, FromStart: true,
		Handler: func(_ context.Context, env event.Envelope, _ *bus.Record) error {
			mu.Lock()
			got = append(got, nOf(t, env))
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, second)
	testenv.WaitFor(t, "the rest", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 4 })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[6 7 8 9]" {
		t.Errorf("after restart handled %v, want [6 7 8 9]: committed records must not come again, unfinished ones must", got)
	}
}

func TestTransactorIsExactlyOnceAcrossAbortsAndCrashes(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 4)
	c := testenv.BusClient(t, b.Addr(), "")
	const total = 2000
	var msgs []event.Message
	for i := range total {
		msgs = append(msgs, msg(t, event.TopicPurchases, fmt.Sprintf("SKU-%d", i%17), i))
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	out := c.Topic(event.TopicPrices)
	var processed atomic.Int64
	newT := func(failFirst bool, crashAfter int64) (*bus.Transactor, chan struct{}) {
		crashed := make(chan struct{})
		var failed atomic.Bool
		tr, err := c.NewTransactor(bus.TransactOptions{
			Group: "pricing-test", TransactionalID: "pricing-test-0", Topics: []string{event.TopicPurchases}, FromStart: true, MaxPoll: 100,
			Process: func(ctx context.Context, recs []*bus.Record) ([]*bus.Record, error) {
				if failFirst && failed.CompareAndSwap(false, true) {
					return nil, errors.New("first batch fails and aborts")
				}
				var res []*bus.Record
				for _, r := range recs {
					res = append(res, &bus.Record{Topic: event.TopicPrices, Key: r.Key, Value: r.Value})
				}
				if crashAfter > 0 && processed.Add(int64(len(recs))) >= crashAfter {
					select {
					case <-crashed:
					default:
						close(crashed)
					}
					<-ctx.Done() // killed mid-batch: this batch must abort
					return nil, ctx.Err()
				}
				return res, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return tr, crashed
	}
	t1, crashed := newT(true, 700)
	stop := run(t, t1)
	<-crashed
	stop()
	if before := len(readAll(t, b.Addr(), out, 1)); before == 0 || before >= total {
		t.Fatalf("first run committed %d of %d records; the crash must land mid-stream", before, total)
	}
	t2, _ := newT(false, 0)
	run(t, t2)
	recs := readAll(t, b.Addr(), out, total)
	seen := map[string]int{}
	for _, r := range recs {
		env, err := event.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		seen[env.ID]++
	}
	if len(recs) != total || len(seen) != total {
		t.Fatalf("read_committed output has %d records, %d distinct; want exactly %d", len(recs), len(seen), total)
	}
}

// TestBatchingConsumerCommitsOnlyFlushedRecords: in batch mode nothing is
// committed until Flush succeeded; a failed flush is retried; records of a
// batch that never flushed come again to the next member.
func TestBatchingConsumerCommitsOnlyFlushedRecords(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 2)
	c := testenv.BusClient(t, b.Addr(), "")
	publish := func(from, n int) {
		var msgs []event.Message
		for i := from; i < from+n; i++ {
			msgs = append(msgs, msg(t, event.TopicPurchases, fmt.Sprintf("SKU-%d", i%3), i))
		}
		if err := c.Publish(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	type sink struct {
		mu              sync.Mutex
		pending, stored []int
		failFirst       int // flushes to fail before one succeeds (-1: fail always)
		flushes         int
	}
	newConsumer := func(s *sink) *bus.Consumer {
		cons, err := c.NewConsumer(bus.ConsumerOptions{
			Group: "batch", Topics: []string{event.TopicPurchases}, FromStart: true, MinBackoff: time.Millisecond,
			FlushRecords: 4, FlushEvery: 100 * time.Millisecond,
			Handler: func(_ context.Context, env event.Envelope, _ *bus.Record) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.pending = append(s.pending, nOf(t, env))
				return nil
			},
			Flush: func(context.Context) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.flushes++
				if s.failFirst < 0 || s.flushes <= s.failFirst {
					return errors.New("disk briefly full")
				}
				s.stored = append(s.stored, s.pending...)
				s.pending = nil
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return cons
	}
	count := func(s *sink) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.stored)
	}

	publish(0, 10)
	first := &sink{failFirst: 2}
	stop := run(t, newConsumer(first))
	testenv.WaitFor(t, "10 records stored", func() bool { return count(first) == 10 })
	stop()
	if first.flushes < 3 {
		t.Errorf("%d flushes: the failed ones were not retried", first.flushes)
	}

	// The next member starts after the 10 committed records; its flushes
	// all fail, so nothing of the 5 new records is committed.
	publish(10, 5)
	second := &sink{failFirst: -1}
	stop = run(t, newConsumer(second))
	testenv.WaitFor(t, "5 records handled", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return len(second.pending) == 5
	})
	stop()
	if count(second) != 0 {
		t.Fatalf("a batch whose flush failed was stored: %v", second.stored)
	}

	third := &sink{}
	stop = run(t, newConsumer(third))
	testenv.WaitFor(t, "the 5 unflushed records again", func() bool { return count(third) == 5 })
	stop()
	third.mu.Lock()
	defer third.mu.Unlock()
	slices.Sort(third.stored)
	if !slices.Equal(third.stored, []int{10, 11, 12, 13, 14}) {
		t.Fatalf("third member stored %v, want 10-14 once", third.stored)
	}
}

// TestTransactorReadsCoPartitionedTopicsInStep: a consumer catching up on
// two co-partitioned topics, one twice as dense as the other, in small
// polls, never sees a record more than AlignBy older than one it saw
// before, and sees each record once.
func TestTransactorReadsCoPartitionedTopicsInStep(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 1)
	c := testenv.BusClient(t, b.Addr(), "")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for i := range 600 {
		recs = append(recs, &kgo.Record{Topic: c.Topic(event.TopicPurchases), Value: []byte("p"), Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond)})
	}
	for i := range 1200 {
		recs = append(recs, &kgo.Record{Topic: c.Topic(event.TopicInventory), Value: []byte("s"), Timestamp: t0.Add(time.Duration(i) * 50 * time.Millisecond)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const by = 2 * time.Second
	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		newest time.Time
		worst  time.Duration
		done   = make(chan struct{})
	)
	tr, err := c.NewTransactor(bus.TransactOptions{
		Group: "align-test", TransactionalID: "align-test-0", Topics: []string{event.TopicPurchases, event.TopicInventory},
		FromStart: true, MaxPoll: 50, AlignBy: by,
		Process: func(_ context.Context, recs []*bus.Record) ([]*bus.Record, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				seen[fmt.Sprintf("%s/%d", r.Topic, r.Offset)]++
				worst = max(worst, newest.Sub(r.Timestamp))
				if r.Timestamp.After(newest) {
					newest = r.Timestamp
				}
			}
			if len(seen) < 1800 {
				return nil, nil
			}
			select {
			case <-done:
			default:
				close(done)
			}
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, tr)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1800 {
		t.Fatalf("read %d of 1800 records", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("record %s read %d times", k, n)
		}
	}
	if worst > by {
		t.Errorf("a record came %v after a newer one; the topics must stay within %v of each other", worst, by)
	}
}

// TestRestartedTransactorFencesItsDeadPredecessor: a process killed inside
// a transaction leaves it open, with offsets pending for its group, and
// read_committed offset fetches wait while any are pending. The restarted
// instance (same transactional id) fences it at start, so it reads at once
// instead of after the dead transaction's timeout (a minute here).
func TestRestartedTransactorFencesItsDeadPredecessor(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 1)
	c := testenv.BusClient(t, b.Addr(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var msgs []event.Message
	for i := range 10 {
		msgs = append(msgs, msg(t, event.TopicPurchases, "SKU-1", i))
	}
	if err := c.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	const group, txnID = "fence-test", "fence-test-0"
	// The predecessor: a transaction with a record and the group's offsets
	// in it, never ended.
	dead, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID(txnID), kgo.TransactionTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := dead.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dead.ProduceSync(ctx, &kgo.Record{Topic: c.Topic(event.TopicPrices), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, epoch, err := dead.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, id, epoch, group
	if resp, err := add.RequestWith(ctx, dead); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v, %+v", err, resp)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = txnID, group, id, epoch, -1
	topics, err := kadm.NewClient(dead).ListTopics(ctx, c.Topic(event.TopicPurchases))
	if err != nil {
		t.Fatal(err)
	}
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic, ct.TopicID = c.Topic(event.TopicPurchases), topics[c.Topic(event.TopicPurchases)].ID
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset = 0, 5
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if resp, err := commit.RequestWith(ctx, dead); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v, %+v", err, resp)
	}

	read := make(chan struct{})
	var once sync.Once
	tr, err := c.NewTransactor(bus.TransactOptions{
		Group: group, TransactionalID: txnID, Topics: []string{event.TopicPurchases}, FromStart: true,
		Process: func(_ context.Context, recs []*bus.Record) ([]*bus.Record, error) {
			once.Do(func() { close(read) })
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	run(t, tr)
	select {
	case <-read:
		t.Logf("the restarted instance read its input after %v", time.Since(started).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted instance read nothing within 30 s: it waited for its dead predecessor's transaction")
	}
}

// TestTransactorResumesWhenALaggardGoesQuiet: a partition paused behind a
// same-numbered one that then brings nothing more (its end sits past an
// aborted transaction's records, which a read_committed fetch drops) is
// resumed within about a second: polls do not block while a partition is
// paused, so steering runs again.
func TestTransactorResumesWhenALaggardGoesQuiet(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 1)
	c := testenv.BusClient(t, b.Addr(), "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	plain, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	stock, purchases := c.Topic(event.TopicInventory), c.Topic(event.TopicPurchases)
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: stock, Value: []byte("s"), Timestamp: t0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	txn, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("quiet-laggard-aborted"))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := txn.ProduceSync(ctx, &kgo.Record{Topic: stock, Value: []byte("aborted"), Timestamp: t0.Add(time.Duration(i+1) * time.Second)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		if err := plain.ProduceSync(ctx, &kgo.Record{Topic: purchases, Value: []byte("p"), Timestamp: t0.Add(at)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var n atomic.Int64
	done := make(chan struct{})
	tr, err := c.NewTransactor(bus.TransactOptions{
		Group: "quiet-laggard", TransactionalID: "quiet-laggard-0", Topics: []string{event.TopicPurchases, event.TopicInventory},
		FromStart: true, AlignBy: 2 * time.Second,
		Process: func(_ context.Context, recs []*bus.Record) ([]*bus.Record, error) {
			if n.Add(int64(len(recs))) == 4 {
				close(done)
			}
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, tr)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("read %d of 4 records in 20 s: the purchases ahead stayed paused behind a stock partition with nothing more to bring", n.Load())
	}
}
