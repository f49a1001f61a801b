package pricing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// TopicChangelog is the pricing role's compacted state topic: one record per
// SKU (value = SKUState.AppendBinary) and one per partition for the
// watermark. It must have the input topics' partition count: a SKU's state is
// written to the partition number its records come from (see keyOn).
const TopicChangelog = "commerce.pricing.changelog"

// Event types the pricing role reads and writes.
const (
	TypePurchase     = "purchase"
	TypePriceChanged = "price.changed"
	source           = "mercato/pricing"
)

// PurchaseData is the data of a purchase event on commerce.purchases.
type PurchaseData struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	OrderID   string `json:"order_id"`
}

// emptyObject stands in for an already decoded data object when the fast
// path validates the rest of an envelope.
var emptyObject = json.RawMessage(`{}`)

// PriceRecord is the data of a price.changed event on commerce.prices: what
// GET /v1/prices/{sku} serves.
type PriceRecord struct {
	SKU       string    `json:"sku"`
	Price     int64     `json:"price"`
	BasePrice int64     `json:"base_price"`
	UpdatedAt time.Time `json:"updated_at"`
	Reason    Reason    `json:"reason"`
}

// ProcessorOptions configure the pricing role.
type ProcessorOptions struct {
	Client *bus.Client
	Config Config
	// Fallback prices categories without a rule on commerce.pricing-rules.
	Fallback Rule
	// Group is the consumer group (default "pricing"); InstanceID must be
	// stable per instance across restarts so a restart fences its zombie.
	Group      string
	InstanceID string
	Logger     *slog.Logger
	// Now is the wall clock for idle partitions (time.Now when nil).
	Now     func() time.Time
	MaxPoll int
	// IdleTick, when positive, runs the processor with no records after that
	// long without any, so idle partitions' watermarks advance (and their
	// windows close) even when every input is silent. 0 disables it.
	IdleTick time.Duration
}

// Processor is the pricing role: purchases, inventory and products in,
// prices out, exactly once. Each assigned partition has its own Pricer; its
// state goes to TopicChangelog in the same transaction as the price records
// and the consumed offsets, and is restored from there on assignment.
type Processor struct {
	o   ProcessorOptions
	c   *bus.Client
	log *slog.Logger

	ruleMu      sync.Mutex
	ruleUpdates []ruleUpdate
	book        *RuleBook // owned by the processing goroutine

	mu          sync.Mutex
	pricers     map[int32]*Pricer
	needRestore map[int32]bool
	metaKeys    map[int32][]byte
	hasher      kgo.TopicPartitioner
	recent      map[int32]*recentIDs
	seeds       []string
	nParts      int

	// onBatch, when set by tests, runs after a batch was processed and before
	// its transaction ends; cancelling ctx there is a crash mid-transaction,
	// and an error aborts the transaction.
	onBatch func(ctx context.Context, recs []*kgo.Record) error
}

type ruleUpdate struct {
	category string
	rule     *Rule // nil deletes
}

// NewProcessor validates the options; Run starts the role.
func NewProcessor(o ProcessorOptions) (*Processor, error) {
	if o.Client == nil || o.InstanceID == "" {
		return nil, errors.New("pricing processor: needs a bus client and an instance id")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("pricing processor: %w", err)
	}
	book, err := NewRuleBook(o.Fallback)
	if err != nil {
		return nil, fmt.Errorf("pricing processor: %w", err)
	}
	if o.Group == "" {
		o.Group = "pricing"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Processor{
		o: o, c: o.Client, log: o.Logger.With("role", "pricing"), book: book,
		pricers: map[int32]*Pricer{}, needRestore: map[int32]bool{}, metaKeys: map[int32][]byte{},
		recent: map[int32]*recentIDs{},
	}, nil
}

// Run consumes until ctx is cancelled. It first reads every pricing rule, so
// no price is computed under a stale rule at start.
func (p *Processor) Run(ctx context.Context) error {
	if err := p.discover(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	rules, err := p.readRules(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer rules.Close()
	ruleCtx, stopRules := context.WithCancel(ctx)
	defer stopRules()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.followRules(ruleCtx, rules)
	}()
	defer wg.Wait()
	defer stopRules()

	tr, err := p.c.NewTransactor(bus.TransactOptions{
		Group:           p.o.Group,
		TransactionalID: p.o.Group + "-" + p.o.InstanceID,
		Topics:          []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts},
		Process:         p.process,
		OnAbort:         p.onAbort,
		OnAssigned:      p.onAssigned,
		OnRevoked:       p.onRevoked,
		FromStart:       true,
		MaxPoll:         p.o.MaxPoll,
		// A silent instance still closes its windows once the idle timeout
		// lets its watermarks follow the wall clock.
		IdleTick: p.o.IdleTick,
	})
	if err != nil {
		return fmt.Errorf("pricing processor: %w", err)
	}
	return tr.Run(ctx)
}

// Topics is the topic the pricing role needs beyond event.Topics(): create
// it with the same partition count (Client.EnsureTopics).
func Topics() []event.TopicSpec {
	return []event.TopicSpec{{Name: TopicChangelog, Compacted: true}}
}

// Late is the number of late purchases on the partitions this instance
// holds. It is part of the changelogged state, so it is exact across
// restarts and moves with its partitions.
func (p *Processor) Late() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n uint64
	for _, pr := range p.pricers {
		n += pr.Late()
	}
	return n
}

// Partitions lists the partitions assigned to this instance (restored, or
// to be restored before their first record).
func (p *Processor) Partitions() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, 0, len(p.pricers)+len(p.needRestore))
	for part := range p.pricers {
		out = append(out, part)
	}
	for part := range p.needRestore {
		if _, ok := p.pricers[part]; !ok {
			out = append(out, part)
		}
	}
	slices.Sort(out)
	return out
}

// discover finds the brokers (for the restore and rule readers) and checks
// that the inputs and the changelog are co-partitioned.
func (p *Processor) discover(ctx context.Context) error {
	names := []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts, TopicChangelog}
	topics := make([]string, len(names))
	for i, n := range names {
		topics[i] = p.c.Topic(n)
	}
	md, err := kadm.NewClient(p.c.Kgo()).Metadata(ctx, topics...)
	if err != nil {
		return fmt.Errorf("pricing processor: reading metadata: %w", err)
	}
	for _, b := range md.Brokers {
		p.seeds = append(p.seeds, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	for _, topic := range topics {
		d, ok := md.Topics[topic]
		if !ok || d.Err != nil {
			return fmt.Errorf("pricing processor: topic %s must exist (create %s with pricing.Topics())", topic, p.c.Topic(TopicChangelog))
		}
		if p.nParts == 0 {
			p.nParts = len(d.Partitions)
		} else if len(d.Partitions) != p.nParts {
			return fmt.Errorf("pricing processor: %s has %d partitions, %s has %d; inputs and changelog must be co-partitioned",
				topic, len(d.Partitions), topics[0], p.nParts)
		}
	}
	return nil
}

// readRules opens a plain (non-group) reader of every rules partition and
// reads up to the current end: rules are broadcast state, every instance
// needs all of them.
func (p *Processor) readRules(ctx context.Context) (*kgo.Client, error) {
	topic := p.c.Topic(event.TopicPricingRules)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, fmt.Errorf("pricing processor: rules reader: %w", err)
	}
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("pricing processor: listing rule offsets: %w", err)
	}
	todo := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			todo[o.Partition] = o.Offset
		}
	})
	for len(todo) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.Close()
			return nil, ctx.Err()
		}
		fs.EachRecord(func(r *kgo.Record) {
			p.queueRule(r)
			if end, ok := todo[r.Partition]; ok && r.Offset+1 >= end {
				delete(todo, r.Partition)
			}
		})
	}
	p.applyRules()
	return cl, nil
}

func (p *Processor) followRules(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, part int32, err error) {
			p.log.Warn("rules fetch error", "topic", topic, "partition", part, "err", err)
		})
		fs.EachRecord(p.queueRule)
	}
}

// queueRule decodes a rule record for the processing goroutine to apply at
// its next batch. A tombstone deletes the category's rule; an invalid rule is
// logged and ignored, so the category keeps its last good rule.
func (p *Processor) queueRule(r *kgo.Record) {
	u := ruleUpdate{category: string(r.Key)}
	if r.Value != nil {
		env, err := event.Decode(r.Value)
		var rule Rule
		if err == nil {
			err = env.DecodeData(&rule)
		}
		if err == nil {
			if rule.Category == "" {
				rule.Category = string(r.Key)
			}
			if rule.ID == "" {
				rule.ID = rule.Category + "@" + strconv.FormatInt(r.Offset, 10)
			}
			err = rule.Validate()
		}
		if err != nil {
			p.log.Warn("ignoring invalid pricing rule", "category", u.category, "offset", r.Offset, "err", err)
			return
		}
		u.category, u.rule = rule.Category, &rule
	}
	p.ruleMu.Lock()
	p.ruleUpdates = append(p.ruleUpdates, u)
	p.ruleMu.Unlock()
}

func (p *Processor) applyRules() {
	p.ruleMu.Lock()
	updates := p.ruleUpdates
	p.ruleUpdates = nil
	p.ruleMu.Unlock()
	for _, u := range updates {
		if u.rule == nil {
			p.book.Delete(u.category)
			continue
		}
		if err := p.book.Set(*u.rule); err != nil {
			p.log.Warn("ignoring invalid pricing rule", "category", u.category, "err", err)
		}
	}
}

func (p *Processor) onAssigned(_ context.Context, assigned map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, parts := range assigned {
		for _, part := range parts {
			if _, ok := p.pricers[part]; !ok {
				p.needRestore[part] = true
			}
		}
	}
}

func (p *Processor) onRevoked(_ context.Context, revoked map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, parts := range revoked {
		for _, part := range parts {
			delete(p.pricers, part)
			delete(p.recent, part)
			delete(p.needRestore, part)
		}
	}
}

// onAbort forgets every partition's in-memory state: the aborted batch's
// records come again, and the changelog holds the state they start from.
func (p *Processor) onAbort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for part := range p.pricers {
		p.needRestore[part] = true
	}
}

// process is one transaction: the batch's records through the pricers, and
// the price changes, late purchases, dead letters and changelog records out.
func (p *Processor) process(ctx context.Context, recs []*kgo.Record) ([]*kgo.Record, error) {
	p.applyRules()
	if err := p.restorePending(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	var out []*kgo.Record
	purchases, inventory, products := p.c.Topic(event.TopicPurchases), p.c.Topic(event.TopicInventory), p.c.Topic(event.TopicProducts)
	for _, r := range recs {
		pr := p.pricers[r.Partition]
		if pr == nil {
			return nil, fmt.Errorf("record of %s/%d arrived before its partition was restored", r.Topic, r.Partition)
		}
		var err error
		var late bool
		switch r.Topic {
		case purchases:
			late, err = p.purchase(pr, r, now)
		case inventory:
			_, err = p.stock(pr, r, now)
		case products:
			err = p.product(pr, r)
		}
		switch {
		case err != nil:
			out = append(out, p.c.DLQRecord(r, err))
		case late:
			out = append(out, &kgo.Record{Topic: p.c.Topic(event.TopicPurchasesLate), Key: r.Key, Value: r.Value, Headers: r.Headers})
		}
	}
	var changes []PriceChange
	for part, pr := range p.pricers {
		pr.Tick(now)
		if wm, ok := pr.Watermark(); ok {
			p.recent[part].forget(wm.Add(-p.o.Config.AllowedLateness))
		}
		changes = pr.TakeChanges(changes[:0])
		for _, ch := range changes {
			rec, err := p.priceRecord(ch)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
		var encErr error
		pr.TakeTouched(func(s *SKUState) {
			b, err := s.AppendBinary(nil)
			if err != nil && encErr == nil {
				encErr = err
			}
			out = append(out, &kgo.Record{Topic: p.c.Topic(TopicChangelog), Key: p.keyOn(s.SKU, part), Value: b})
		})
		if encErr != nil {
			return nil, fmt.Errorf("encoding pricing state: %w", encErr)
		}
		out = append(out, &kgo.Record{Topic: p.c.Topic(TopicChangelog), Key: p.metaKey(part), Value: pr.AppendPartitionState(nil)})
	}
	if p.onBatch != nil {
		if err := p.onBatch(ctx, recs); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// purchaseRecord is a purchase envelope with its data decoded in the same
// pass: the hot path. Anything it does not take goes through event.Decode,
// which gives the exact verdict and error.
type purchaseRecord struct {
	ID            string       `json:"id"`
	Type          string       `json:"type"`
	Source        string       `json:"source"`
	Time          time.Time    `json:"time"`
	Subject       string       `json:"subject"`
	Data          PurchaseData `json:"data"`
	SchemaVersion int          `json:"schema_version"`
}

func (p *Processor) purchase(pr *Pricer, r *kgo.Record, now time.Time) (bool, error) {
	if len(r.Value) <= event.MaxSize {
		var pe purchaseRecord
		// The fast path decodes envelope and data in one pass; anything it
		// does not fully understand takes the general path below.
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.DisallowUnknownFields()
		if dec.Decode(&pe) == nil && !dec.More() && pe.Type == TypePurchase && pe.Data.Quantity > 0 {
			env := event.Envelope{ID: pe.ID, Type: pe.Type, Source: pe.Source, Time: pe.Time, Subject: pe.Subject, Data: emptyObject, SchemaVersion: pe.SchemaVersion}
			if env.Validate() == nil {
				sku := pe.Data.SKU
				if sku == "" {
					sku = pe.Subject
				}
				if p.recent[r.Partition].repeat(pe.ID, pe.Time) {
					return false, nil
				}
				return pr.Purchase(sku, pe.Time, pe.Data.Quantity, now)
			}
		}
	}
	env, err := event.Decode(r.Value)
	if err != nil {
		return false, err
	}
	if env.Type != TypePurchase {
		return false, nil // other events on the topic are not demand
	}
	var d PurchaseData
	if err := env.DecodeData(&d); err != nil {
		return false, err
	}
	sku := d.SKU
	if sku == "" {
		sku = env.Subject
	}
	if p.recent[r.Partition].repeat(env.ID, env.Time) {
		return false, nil
	}
	return pr.Purchase(sku, env.Time, d.Quantity, now)
}

func (p *Processor) stock(pr *Pricer, r *kgo.Record, now time.Time) (bool, error) {
	env, err := event.Decode(r.Value)
	if err != nil {
		return false, err
	}
	if env.Type == inventory.TypeAlert {
		return false, nil
	}
	var d inventory.Event
	if err := env.DecodeData(&d); err != nil {
		return false, err
	}
	sku := d.SKU
	if sku == "" {
		sku = env.Subject
	}
	return pr.InventoryLevels(sku, env.Time, d.Available, max(d.OnOrder, 0), env.ID, now)
}

func (p *Processor) product(pr *Pricer, r *kgo.Record) error {
	if r.Value == nil {
		return nil // a compaction tombstone: the SKU keeps its last bounds
	}
	env, err := event.Decode(r.Value)
	if err != nil {
		return err
	}
	if env.Type != catalog.TypeProductUpserted {
		return nil
	}
	var d catalog.ProductEvent
	if err := env.DecodeData(&d); err != nil {
		return err
	}
	if err := pr.Product(d.SKU, d.Category, d.BasePrice, d.PriceFloor, d.PriceCeiling); err != nil {
		return err
	}
	// The learn policy's margin and stock horizon come from the product's
	// reorder policy.
	lead := time.Duration(d.Reorder.LeadTimeDays * float64(24*time.Hour))
	return pr.ProductCost(d.SKU, d.Reorder.UnitCost, lead)
}

// priceRecord builds the commerce.prices record of a change.
func (p *Processor) priceRecord(ch PriceChange) (*kgo.Record, error) {
	env, err := PriceEnvelope(ch)
	if err != nil {
		return nil, err
	}
	return p.c.Record(event.Message{Topic: event.TopicPrices, Envelope: env})
}

// PriceEnvelope is the commerce.prices event of a change. Its id is derived
// from the SKU and the boundary, so a replay writes the same id and readers
// can deduplicate on it.
func PriceEnvelope(ch PriceChange) (event.Envelope, error) {
	data := PriceRecord{SKU: ch.SKU, Price: ch.Price, BasePrice: ch.BasePrice, UpdatedAt: ch.At, Reason: ch.Reason}
	env, err := event.New(TypePriceChanged, source, ch.SKU, ch.At, data)
	if err != nil {
		return event.Envelope{}, fmt.Errorf("price of %s: %w", ch.SKU, err)
	}
	env.ID = "price-" + strconv.FormatInt(ch.At.UnixMilli(), 36) + "-" + ch.SKU
	if len(env.ID) > 128 {
		env.ID = env.ID[:128]
	}
	return env, nil
}

// metaKey is the changelog key of partition part's own state.
func (p *Processor) metaKey(part int32) []byte {
	if k, ok := p.metaKeys[part]; ok {
		return k
	}
	k := p.keyOn("\x00partition/"+strconv.Itoa(int(part)), part)
	p.metaKeys[part] = k
	return k
}

// keyOn returns a changelog key for name that the default partitioner
// (murmur2, like the Java client's) sends to partition part: name itself when
// it hashes there, which is the case for every SKU produced by a Kafka client
// with the default partitioner, else name with the first suffix that does.
// So a SKU's state always sits on the partition its records came from, even
// when a producer (kcat's default, say) partitions differently.
func (p *Processor) keyOn(name string, part int32) []byte {
	if p.hasher == nil {
		p.hasher = kgo.StickyKeyPartitioner(nil).ForTopic(p.c.Topic(TopicChangelog))
	}
	k := []byte(name)
	if p.hasher.Partition(&kgo.Record{Key: k}, p.nParts) == int(part) {
		return k
	}
	for i := 0; ; i++ {
		k = append(k[:len(name)], "\x00"+strconv.Itoa(i)...)
		if p.hasher.Partition(&kgo.Record{Key: k}, p.nParts) == int(part) {
			return k
		}
	}
}

// restorePending rebuilds the pricers of newly assigned (or aborted)
// partitions from the changelog, up to its last stable offset: records after
// it belong to a transaction that never committed.
func (p *Processor) restorePending(ctx context.Context) error {
	p.mu.Lock()
	var parts []int32
	for part := range p.needRestore {
		parts = append(parts, part)
	}
	p.mu.Unlock()
	if len(parts) == 0 {
		return nil
	}
	restored, err := p.restore(ctx, parts)
	if err != nil {
		return fmt.Errorf("restoring pricing state of partitions %v: %w", parts, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for part, pr := range restored {
		if p.needRestore[part] { // still ours
			p.pricers[part] = pr
			p.recent[part] = &recentIDs{seen: map[uint64]int64{}}
			delete(p.needRestore, part)
		}
	}
	return nil
}

func (p *Processor) restore(ctx context.Context, parts []int32) (map[int32]*Pricer, error) {
	topic := p.c.Topic(TopicChangelog)
	adm := kadm.NewClient(p.c.Kgo())
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing changelog offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing changelog offsets: %w", err)
	}
	latest := map[int32]map[string][]byte{}
	todo := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for _, part := range parts {
		latest[part] = map[string][]byte{}
		end, ok1 := ends.Lookup(topic, part)
		start, ok2 := starts.Lookup(topic, part)
		if !ok1 || !ok2 || end.Err != nil || start.Err != nil {
			return nil, fmt.Errorf("changelog partition %d has no offsets", part)
		}
		if end.Offset > start.Offset {
			todo[part] = end.Offset
			from[part] = kgo.NewOffset().AtStart()
		}
	}
	if len(todo) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.seeds...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			// Transaction markers are kept so the reader knows it reached the
			// last stable offset even when aborted records precede it.
			kgo.KeepControlRecords())
		if err != nil {
			return nil, fmt.Errorf("changelog reader: %w", err)
		}
		defer cl.Close()
		for len(todo) > 0 {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				return nil, fmt.Errorf("reading changelog: %w", ferr)
			}
			fs.EachRecord(func(r *kgo.Record) {
				end, ok := todo[r.Partition]
				if !ok || r.Offset >= end {
					return
				}
				if !r.Attrs.IsControl() {
					latest[r.Partition][string(r.Key)] = r.Value
				}
				if r.Offset+1 >= end {
					delete(todo, r.Partition)
				}
			})
		}
	}
	out := map[int32]*Pricer{}
	for _, part := range parts {
		pr, err := NewPricer(p.o.Config, p.book)
		if err != nil {
			return nil, err
		}
		meta := p.metaKey(part)
		for key, val := range latest[part] {
			if key == string(meta) || val == nil {
				continue
			}
			s, err := DecodeSKUState(val)
			if err != nil {
				return nil, fmt.Errorf("partition %d: %w", part, err)
			}
			if err := pr.Restore(s); err != nil {
				return nil, fmt.Errorf("partition %d: %w", part, err)
			}
		}
		if val := latest[part][string(meta)]; val != nil {
			if err := pr.RestorePartitionState(val, p.o.Now().UnixMilli()); err != nil {
				return nil, fmt.Errorf("partition %d: %w", part, err)
			}
		}
		out[part] = pr
	}
	return out, nil
}

// recentIDs remembers the purchase event ids a partition saw within the
// allowed lateness, so an event published twice upstream (an outbox relay
// that crashed between sending and marking sent) counts once. Older
// duplicates are late anyway. It is kept in memory only: a duplicate that
// straddles a restart of this instance is counted twice.
type recentIDs struct {
	seen map[uint64]int64 // FNV-1a of the id → event time (Unix ms)
}

// repeat reports whether id was seen before, and remembers it.
func (r *recentIDs) repeat(id string, at time.Time) bool {
	if r == nil {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	k := h.Sum64()
	if _, ok := r.seen[k]; ok {
		return true
	}
	r.seen[k] = at.UnixMilli()
	return false
}

// forget drops ids of events older than horizon.
func (r *recentIDs) forget(horizon time.Time) {
	if r == nil {
		return
	}
	h := horizon.UnixMilli()
	for k, at := range r.seen {
		if at < h {
			delete(r.seen, k)
		}
	}
}
