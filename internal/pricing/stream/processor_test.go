package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/pricing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/dedup"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

const testPartitions = 4

var (
	t0   = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	wall = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// processorConfig never lets the wall clock advance a watermark, so results
// depend on the input alone and runs can be compared byte for byte.
func processorConfig() pricing.Config {
	c := pricing.DefaultConfig()
	c.IdleTimeout = 24 * time.Hour
	return c
}

// workload is the input of a processor test: catalogue and stock first, then
// the purchases (with a few malformed and late records among them).
type workload struct {
	setup     []event.Message
	purchases []event.Message
	rules     []event.Message
	skus      []string
}

func newWorkload(t testing.TB, nSKU, nPurchases int) workload {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 7))
	var w workload
	stockAt := t0.Add(-time.Minute)
	for i := range nSKU {
		sku := fmt.Sprintf("SKU-%04d", i)
		w.skus = append(w.skus, sku)
		cat := []string{"audio", "books", "toys"}[i%3]
		pe, err := event.New(event.TypeProductUpserted, "test", sku, stockAt, event.ProductUpserted{Product: event.Product{
			SKU: sku, Name: sku, Category: cat, BasePrice: 12900, PriceFloor: 9900, PriceCeiling: 15900 + int64(i%5)*100,
		}})
		if err != nil {
			t.Fatal(err)
		}
		ie, err := event.New(event.TypeStockAdjusted, "test", sku, stockAt, event.StockChanged{SKU: sku, OnHand: 500, Available: 200 + int64(i%400)})
		if err != nil {
			t.Fatal(err)
		}
		w.setup = append(w.setup, event.Message{Topic: event.TopicProducts, Envelope: pe}, event.Message{Topic: event.TopicInventory, Envelope: ie})
	}
	at := t0
	for i := range nPurchases {
		at = at.Add(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
		sku := w.skus[min(nSKU-1, int(rng.ExpFloat64()*float64(nSKU)/5))]
		recAt := at.Add(-time.Duration(rng.Int64N(int64(4 * time.Second)))) // within the out-of-orderness
		if i%5000 == 4999 {
			recAt = at.Add(-10 * time.Minute) // beyond the allowed lateness
		}
		e, err := event.New(event.TypePurchase, "test", sku, recAt, event.Purchase{SKU: sku, Quantity: 1 + rng.Int64N(2), UnitPrice: 12900, OrderID: fmt.Sprintf("ORD-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%7001 == 7000 {
			e.Data = []byte(`{"sku":"` + sku + `","quantity":"two"}`) // malformed: dead-lettered
		}
		w.purchases = append(w.purchases, event.Message{Topic: event.TopicPurchases, Envelope: e})
	}
	books := pricing.DefaultRule()
	books.Category, books.ID, books.StepLimit, books.DemandWeight = "books", "books@1", 0.1, 0.2
	re, err := event.New("pricing.rule", "test", "books", t0, books)
	if err != nil {
		t.Fatal(err)
	}
	w.rules = []event.Message{{Topic: event.TopicPricingRules, Envelope: re}}
	return w
}

// broker starts an embedded broker with Mercato's topics and the changelog.
func broker(t testing.TB) (*bus.EmbeddedBroker, *bus.Client) {
	t.Helper()
	b := testenv.Kafka(t, testPartitions)
	c := testenv.BusClient(t, b.Addr(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.EnsureTopics(ctx, Topics(), testPartitions); err != nil {
		t.Fatal(err)
	}
	return b, c
}

func publish(t testing.TB, c *bus.Client, msgs []event.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for chunk := range slices.Chunk(msgs, 5000) {
		if err := c.Publish(ctx, chunk...); err != nil {
			t.Fatal(err)
		}
	}
}

type running struct {
	p        *Processor
	cancel   context.CancelFunc
	finished chan struct{}
	err      error
	once     sync.Once
}

func start(t testing.TB, c *bus.Client, instance string, hook func(ctx context.Context, cancel context.CancelFunc, recs []*bus.Record) error) *running {
	t.Helper()
	return startWith(t, c, instance, 2000, hook)
}

func startWith(t testing.TB, c *bus.Client, instance string, maxPoll int, hook func(ctx context.Context, cancel context.CancelFunc, recs []*bus.Record) error) *running {
	t.Helper()
	p, err := NewProcessor(ProcessorOptions{Client: c, Config: processorConfig(), Fallback: pricing.DefaultRule(), InstanceID: instance, MaxPoll: maxPoll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if hook != nil {
		p.onBatch = func(ctx context.Context, recs []*bus.Record) error { return hook(ctx, cancel, recs) }
	}
	r := &running{p: p, cancel: cancel, finished: make(chan struct{})}
	go func() {
		r.err = p.Run(ctx)
		close(r.finished)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) {
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.finished:
			if r.err != nil {
				t.Errorf("processor Run: %v", r.err)
			}
		case <-time.After(30 * time.Second):
			t.Error("processor did not stop within 30s")
		}
	})
}

// waitConsumed waits until the group committed every input record.
func waitConsumed(t testing.TB, c *bus.Client, r *running) {
	t.Helper()
	topics := []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lag, err := c.GroupLag(ctx, "pricing", topics...)
		cancel()
		caughtUp := err == nil && lag == 0
		if caughtUp {
			return
		}
		select {
		case <-r.finished:
			t.Fatalf("processor stopped before consuming everything: %v", r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the processor to consume its input")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readCommitted returns every committed record of topic, by key in order.
func readCommitted(t testing.TB, seed, topic string) map[string][][]byte {
	t.Helper()
	adm := kadm.NewClient(mustClient(t, seed))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	todo := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			todo[o.Partition] = o.Offset
		}
	})
	cl := mustClient(t, seed, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	out := map[string][][]byte{}
	for len(todo) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out[string(r.Key)] = append(out[string(r.Key)], r.Value)
			}
			if end, ok := todo[r.Partition]; ok && r.Offset+1 >= end {
				delete(todo, r.Partition)
			}
		})
	}
	return out
}

func mustClient(t testing.TB, seed string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// result is what a run leaves behind: the price records per SKU, the latest
// changelog value per key, and the late and dead-lettered purchases.
type result struct {
	prices    map[string][][]byte
	state     map[string][]byte
	late, dlq int
}

func collect(t testing.TB, b *bus.EmbeddedBroker) result {
	t.Helper()
	r := result{prices: readCommitted(t, b.Addr(), event.TopicPrices), state: map[string][]byte{}}
	for k, vs := range readCommitted(t, b.Addr(), TopicChangelog) {
		r.state[k] = vs[len(vs)-1]
	}
	for _, vs := range readCommitted(t, b.Addr(), event.TopicPurchasesLate) {
		r.late += len(vs)
	}
	for _, vs := range readCommitted(t, b.Addr(), event.TopicPurchases+event.DLQSuffix) {
		r.dlq += len(vs)
	}
	return r
}

func (r result) equal(t testing.TB, want result, what string) {
	t.Helper()
	if r.late != want.late || r.dlq != want.dlq {
		t.Errorf("%s: %d late and %d dead-lettered, want %d and %d", what, r.late, r.dlq, want.late, want.dlq)
	}
	if len(r.prices) != len(want.prices) {
		t.Errorf("%s: prices for %d SKUs, want %d", what, len(r.prices), len(want.prices))
	}
	for sku, vs := range want.prices {
		if !slices.EqualFunc(r.prices[sku], vs, bytes.Equal) {
			t.Errorf("%s: %s has %d price records, want %d (or they differ)", what, sku, len(r.prices[sku]), len(vs))
			break
		}
	}
	if !maps.EqualFunc(r.state, want.state, bytes.Equal) {
		n := 0
		for k, v := range want.state {
			if !bytes.Equal(r.state[k], v) {
				n++
			}
		}
		t.Errorf("%s: %d of %d changelog keys differ (%d keys present)", what, n, len(want.state), len(r.state))
	}
}

// model runs the same input through bare Pricers, one per partition, in the
// order each partition holds it: what any correct processor run must produce.
func model(t testing.TB, c *bus.Client, w workload) result {
	t.Helper()
	book, err := pricing.NewRuleBook(pricing.DefaultRule())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range w.rules {
		var r pricing.Rule
		if err := m.Envelope.DecodeData(&r); err != nil {
			t.Fatal(err)
		}
		if err := book.Set(r); err != nil {
			t.Fatal(err)
		}
	}
	part := func(topic, key string) int32 {
		return int32(kgo.StickyKeyPartitioner(nil).ForTopic(c.Topic(topic)).Partition(&kgo.Record{Key: []byte(key)}, testPartitions))
	}
	pricers := map[int32]*pricing.Pricer{}
	for i := range int32(testPartitions) {
		if pricers[i], err = pricing.NewPricer(processorConfig(), book); err != nil {
			t.Fatal(err)
		}
	}
	res := result{prices: map[string][][]byte{}, state: map[string][]byte{}}
	stockOffsets := map[int32]int64{} // inventory records so far, per partition
	for _, m := range append(slices.Clone(w.setup), w.purchases...) {
		pr := pricers[part(m.Topic, m.Envelope.Subject)]
		switch m.Topic {
		case event.TopicProducts:
			var d event.ProductUpserted
			if err := m.Envelope.DecodeData(&d); err != nil {
				t.Fatal(err)
			}
			if err := pr.Product(d.SKU, d.Category, d.BasePrice, d.PriceFloor, d.PriceCeiling); err != nil {
				t.Fatal(err)
			}
		case event.TopicInventory:
			var d event.StockChanged
			if err := m.Envelope.DecodeData(&d); err != nil {
				t.Fatal(err)
			}
			// Ties in time go by log order, the record's offset.
			p := part(m.Topic, m.Envelope.Subject)
			if _, err := pr.Inventory(d.SKU, m.Envelope.Time, d.Available, logOrder(stockOffsets[p]), wall); err != nil {
				t.Fatal(err)
			}
			stockOffsets[p]++
		case event.TopicPurchases:
			var d event.Purchase
			if err := m.Envelope.DecodeData(&d); err != nil {
				res.dlq++
				continue
			}
			late, err := pr.Purchase(d.SKU, m.Envelope.Time, d.Quantity, wall)
			if err != nil {
				t.Fatal(err)
			}
			if late {
				res.late++
			}
		}
	}
	meta := &Processor{c: c, nParts: testPartitions, metaKeys: map[int32][]byte{}}
	for i, pr := range pricers {
		for _, ch := range pr.TakeChanges(nil) {
			env, err := PriceEnvelope(ch)
			if err != nil {
				t.Fatal(err)
			}
			b, err := env.Encode()
			if err != nil {
				t.Fatal(err)
			}
			res.prices[ch.SKU] = append(res.prices[ch.SKU], b)
		}
		pr.Each(func(s *pricing.SKUState) {
			b, err := s.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			res.state[s.SKU] = b
		})
		res.state[string(meta.metaKey(i))] = pr.AppendPartitionState(nil)
	}
	return res
}

func purchaseCount() int {
	if raceEnabled || testing.Short() {
		return 20_000
	}
	return 100_000
}

// TestProcessorExactlyOnceAcrossCrashes runs the workload once without
// interruption and once with the processor killed mid-transaction at several
// points and restarted; both must equal the model, record for record.
func TestProcessorExactlyOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	w := newWorkload(t, 300, purchaseCount())

	// Uninterrupted.
	b1, c1 := broker(t)
	publish(t, c1, w.rules)
	r := start(t, c1, "a", nil)
	publish(t, c1, w.setup)
	waitConsumed(t, c1, r)
	publish(t, c1, w.purchases)
	waitConsumed(t, c1, r)
	want := model(t, c1, w)
	if got := r.p.Late(); got != uint64(want.late) {
		t.Errorf("Late() = %d, want %d", got, want.late)
	}
	if _, ok := r.p.SlowestWatermark(); !ok {
		t.Error("SlowestWatermark: none after every record was priced")
	}
	r.stop(t)
	if len(want.prices) < 50 || want.late == 0 || want.dlq == 0 {
		t.Fatalf("workload too tame: prices for %d SKUs, %d late, %d dead-lettered", len(want.prices), want.late, want.dlq)
	}
	n := 0
	for _, vs := range want.prices {
		n += len(vs)
	}
	// The metrics count each committed price change once.
	var counted uint64
	for _, c := range r.p.PriceChanges() {
		counted += c
	}
	if counted != uint64(n) || r.p.LastPriceChange().IsZero() {
		t.Errorf("PriceChanges() = %v (%d), LastPriceChange() = %v; want %d changes", r.p.PriceChanges(), counted, r.p.LastPriceChange(), n)
	}
	t.Logf("%d purchases: %d price records for %d SKUs, %d changelog keys, %d late, %d dead-lettered",
		len(w.purchases), n, len(want.prices), len(want.state), want.late, want.dlq)
	collect(t, b1).equal(t, want, "uninterrupted run")

	// Killed (context cancelled inside a transaction) at several points.
	b2, c2 := broker(t)
	publish(t, c2, w.rules)
	r = start(t, c2, "a", nil)
	publish(t, c2, w.setup)
	waitConsumed(t, c2, r)
	r.stop(t)
	publish(t, c2, w.purchases)
	var crashes atomic.Int32
	for _, killAt := range []int{3, 1, 6, 2} {
		batches := 0
		r = start(t, c2, "a", func(ctx context.Context, cancel context.CancelFunc, recs []*bus.Record) error {
			if batches++; batches == killAt {
				crashes.Add(1)
				cancel()
			}
			return nil
		})
		select {
		case <-r.finished:
		case <-time.After(60 * time.Second):
			t.Fatalf("crash at batch %d never came", killAt)
		}
		r.stop(t)
	}
	// The last instance also has transactions abort under it (a failed
	// batch) and must restore and redo them without restarting.
	var aborts atomic.Int32
	batches := 0
	r = start(t, c2, "a", func(context.Context, context.CancelFunc, []*bus.Record) error {
		if batches++; batches == 1 || batches == 3 {
			aborts.Add(1)
			return errors.New("batch fails: its transaction aborts")
		}
		return nil
	})
	waitConsumed(t, c2, r)
	r.stop(t)
	if crashes.Load() != 4 || aborts.Load() != 2 {
		t.Fatalf("%d crashes and %d aborts, want 4 and 2", crashes.Load(), aborts.Load())
	}
	collect(t, b2).equal(t, want, "run with crashes")
}

// TestProcessorInstancesSplitAndTakeOver: two instances share the partitions;
// when one stops, the other restores its partitions and carries on, and the
// result is still the model's.
func TestProcessorInstancesSplitAndTakeOver(t *testing.T) {
	t.Parallel()
	w := newWorkload(t, 200, purchaseCount()/4)
	b, c := broker(t)
	publish(t, c, w.rules)
	ra := start(t, c, "a", nil)
	rb := start(t, c, "b", nil)
	deadline := time.Now().Add(60 * time.Second)
	for len(ra.p.Partitions()) == 0 || len(rb.p.Partitions()) == 0 || len(ra.p.Partitions())+len(rb.p.Partitions()) != testPartitions {
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split: a has %v, b has %v", ra.p.Partitions(), rb.p.Partitions())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("a prices partitions %v, b %v", ra.p.Partitions(), rb.p.Partitions())
	// Catalogue first, as in a running shop: a product that arrives after its
	// purchases changes which boundaries can price it.
	publish(t, c, w.setup)
	waitConsumed(t, c, ra)
	half := len(w.purchases) / 2
	publish(t, c, w.purchases[:half])
	waitConsumed(t, c, ra)
	ra.stop(t)
	publish(t, c, w.purchases[half:])
	waitConsumed(t, c, rb)
	if got := rb.p.Partitions(); len(got) != testPartitions {
		t.Errorf("after a stopped, b prices partitions %v, want all %d", got, testPartitions)
	}
	rb.stop(t)
	full := newWorkload(t, 200, purchaseCount()/4)
	collect(t, b).equal(t, model(t, c, full), "two instances with a takeover")
}

// TestProcessorRulesTakeEffectWithoutRestart: the kill switch published on
// commerce.pricing-rules freezes a running processor's prices, and the next
// rule version releases them.
func TestProcessorRulesTakeEffectWithoutRestart(t *testing.T) {
	t.Parallel()
	b, c := broker(t)
	r := start(t, c, "a", nil)
	pe, err := event.New(event.TypeProductUpserted, "test", "EARBUDS-01", t0, event.ProductUpserted{Product: event.Product{
		SKU: "EARBUDS-01", Name: "earbuds", Category: "audio", BasePrice: 12900, PriceFloor: 9900, PriceCeiling: 15900,
	}})
	if err != nil {
		t.Fatal(err)
	}
	setRule := func(frozen bool, id string) {
		rule := heuristicRule() // the price below is the rule's, to the unit
		rule.Category, rule.ID, rule.Frozen = "audio", id, frozen
		e, err := event.New("pricing.rule", "test", "audio", t0, rule)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, c, []event.Message{{Topic: event.TopicPricingRules, Envelope: e}})
		deadline := time.Now().Add(30 * time.Second)
		for {
			r.p.ruleMu.Lock()
			queued := len(r.p.ruleUpdates) > 0
			r.p.ruleMu.Unlock()
			if queued {
				return // applied before the next batch
			}
			if time.Now().After(deadline) {
				t.Fatal("rule never reached the processor")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	buys := func(from, to time.Duration) []event.Message {
		var out []event.Message
		for at := from; at <= to; at += time.Second {
			e, err := event.New(event.TypePurchase, "test", "EARBUDS-01", t0.Add(at), event.Purchase{SKU: "EARBUDS-01", Quantity: 1})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, event.Message{Topic: event.TopicPurchases, Envelope: e})
		}
		return out
	}
	publish(t, c, []event.Message{{Topic: event.TopicProducts, Envelope: pe}})
	waitConsumed(t, c, r)
	setRule(true, "audio@1")
	publish(t, c, buys(0, 66*time.Second)) // a surge, and the 60 s boundary passes
	waitConsumed(t, c, r)
	if got := readCommitted(t, b.Addr(), event.TopicPrices); len(got) != 0 {
		t.Fatalf("frozen category changed price: %d records", len(got["EARBUDS-01"]))
	}
	setRule(false, "audio@2")
	publish(t, c, buys(67*time.Second, 126*time.Second))
	waitConsumed(t, c, r)
	got := readCommitted(t, b.Addr(), event.TopicPrices)["EARBUDS-01"]
	if len(got) != 1 {
		t.Fatalf("after release want one price record, got %d", len(got))
	}
	env, err := event.Decode(got[0])
	if err != nil {
		t.Fatal(err)
	}
	var pr pricing.PriceRecord
	if err := env.DecodeData(&pr); err != nil {
		t.Fatal(err)
	}
	if pr.Reason.RuleID != "audio@2" || pr.Price != 13540 || pr.Reason.PreviousPrice != 12900 || !pr.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("price record = %+v", pr)
	}
}

// TestProcessorStateFollowsTheRecordsPartition: a producer that partitions
// differently from murmur2 (kcat's default does) still gets its SKU's state
// restored on the partition its records are on.
func TestProcessorStateFollowsTheRecordsPartition(t *testing.T) {
	t.Parallel()
	b, c := broker(t)
	const sku = "EARBUDS-01"
	home := int32(kgo.StickyKeyPartitioner(nil).ForTopic(c.Topic(event.TopicPurchases)).Partition(&kgo.Record{Key: []byte(sku)}, testPartitions))
	other := (home + 1) % testPartitions
	manual := mustClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	buy := func(at time.Duration) {
		e, err := event.New(event.TypePurchase, "test", sku, t0.Add(at), event.Purchase{SKU: sku, Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Topic: c.Topic(event.TopicPurchases), Partition: other, Key: []byte(sku), Value: v}
		if err := manual.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	units := func(r *running) int64 {
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		pr := r.p.pricers[other]
		if pr == nil {
			return -1
		}
		s, _ := pr.SKU(sku)
		return s.Window.Sum(0, 1<<40)
	}
	r := start(t, c, "a", nil)
	buy(time.Second)
	waitConsumed(t, c, r)
	r.stop(t)
	r = start(t, c, "a", nil)
	buy(2 * time.Second)
	waitConsumed(t, c, r)
	if got := units(r); got != 2 {
		t.Fatalf("after a restart partition %d holds %d units of %s, want 2: its state was not restored", other, got, sku)
	}
}

// TestProcessorCountsARepublishedPurchaseOnce: the same event id twice (an
// outbox relay that crashed after sending) is one purchase.
func TestProcessorCountsARepublishedPurchaseOnce(t *testing.T) {
	t.Parallel()
	_, c := broker(t)
	const sku = "EARBUDS-01"
	e, err := event.New(event.TypePurchase, "test", sku, t0, event.Purchase{SKU: sku, Quantity: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := event.Message{Topic: event.TopicPurchases, Envelope: e}
	r := start(t, c, "a", nil)
	publish(t, c, []event.Message{m, m})
	waitConsumed(t, c, r)
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	for _, pr := range r.p.pricers {
		if s, ok := pr.SKU(sku); ok {
			if got := s.Window.Sum(0, 1<<40); got != 3 {
				t.Fatalf("%d units counted, want 3", got)
			}
			return
		}
	}
	t.Fatal("purchase not seen")
}

// heuristicRule is the default rule with the rule policy, whose prices a
// test can work out by hand.
func heuristicRule() pricing.Rule {
	r := pricing.DefaultRule()
	r.Policy = pricing.PolicyRule
	return r
}

func TestPriceChangeReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		reason pricing.Reason
		want   string
	}{
		{pricing.Reason{}, pricing.PolicyRule},
		{pricing.Reason{ClippedBy: pricing.ClippedByStep}, pricing.ClippedByStep},
		{pricing.Reason{ClippedBy: pricing.ClippedByFloor, Learn: &pricing.LearnReason{}}, pricing.ClippedByFloor},
		{pricing.Reason{Learn: &pricing.LearnReason{}}, pricing.PolicyLearn},
	} {
		got := PriceChangeReason(pricing.PriceChange{Reason: tt.reason})
		if got != tt.want || !slices.Contains(ChangeReasons(), got) {
			t.Errorf("PriceChangeReason(%+v) = %q, want %q (one of %v)", tt.reason, got, tt.want, ChangeReasons())
		}
	}
}

// Stock levels stamped with the same millisecond (a batch of checkouts
// reads its clock once) apply in log order: the last written is the level,
// whatever their random event ids say.
func TestStockOfTheSameMillisecondGoesByLogOrder(t *testing.T) {
	t.Parallel()
	book, err := pricing.NewRuleBook(pricing.DefaultRule())
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pricing.NewPricer(processorConfig(), book)
	if err != nil {
		t.Fatal(err)
	}
	const sku = "TIE-1"
	seen := dedup.New(0)
	stock := func(id string, at time.Time, available int64, offset int64) {
		t.Helper()
		env, err := event.New(event.TypeStockReserved, "test", sku, at, event.StockChanged{SKU: sku, OnHand: 100, Available: available})
		if err != nil {
			t.Fatal(err)
		}
		env.ID = id
		v, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(pr, seen, &bus.Record{Topic: event.TopicInventory, Key: []byte(sku), Value: v, Offset: offset, Timestamp: at}, at); err != nil {
			t.Fatal(err)
		}
	}
	// Later in the log, smaller id: the later one is the level.
	stock("ZZZZ", t0, 90, 7)
	stock("AAAA", t0, 89, 8)
	// A record an hour on passes the watermark over both.
	stock("MMMM", t0.Add(time.Hour), 50, 9)
	s, ok := pr.SKU(sku)
	if !ok || s.Available != 89 {
		t.Fatalf("available %d (%v), want 89: the last written of the millisecond", s.Available, ok)
	}
}
