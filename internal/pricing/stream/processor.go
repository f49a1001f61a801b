package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/dedup"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// TopicChangelog is the pricing role's compacted state topic: one record per
// SKU (value = pricing.SKUState.AppendBinary) and one per partition for the
// watermark. It must have the input topics' partition count: a SKU's state is
// written to the partition number its records come from (see keyOn).
const TopicChangelog = "commerce.pricing.changelog"

// source names the pricing role in the envelopes it writes.
const source = "mercato/pricing"

// emptyObject stands in for an already decoded data object when the fast
// path validates the rest of an envelope.
var emptyObject = json.RawMessage(`{}`)

// ProcessorOptions configure the pricing role.
type ProcessorOptions struct {
	Client *bus.Client
	Config pricing.Config
	// Fallback prices categories without a rule on commerce.pricing-rules.
	Fallback pricing.Rule
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
// prices out, exactly once. Each assigned partition has its own pricing.Pricer; its
// state goes to TopicChangelog in the same transaction as the price records
// and the consumed offsets, and is restored from there on assignment.
type Processor struct {
	o   ProcessorOptions
	c   *bus.Client
	log *slog.Logger

	ruleMu      sync.Mutex
	ruleUpdates []ruleUpdate
	book        *pricing.RuleBook // owned by the processing goroutine

	mu          sync.Mutex
	pricers     map[int32]*pricing.Pricer
	needRestore map[int32]bool
	metaKeys    map[int32][]byte
	// recent holds, per partition, the purchase event ids seen within the
	// allowed lateness, so an event published twice upstream (an outbox relay
	// that crashed between sending and marking sent) counts once. Older
	// duplicates are late anyway. It is kept in memory only: a duplicate that
	// straddles a restart of this instance is counted twice.
	recent map[int32]*dedup.IDs
	nParts int

	// Price changes for the metrics: pending holds the current batch's, and
	// they count once its transaction committed (onCommit).
	statsMu   sync.Mutex
	pending   changeStats
	committed changeStats

	// onBatch, when set by tests, runs after a batch was processed and before
	// its transaction ends; cancelling ctx there is a crash mid-transaction,
	// and an error aborts the transaction.
	onBatch func(ctx context.Context, recs []*bus.Record) error
}

type ruleUpdate struct {
	category string
	rule     *pricing.Rule // nil deletes
}

// inputTopics are the topics the processor consumes.
var inputTopics = []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts}

// NewProcessor validates the options; Run starts the role.
func NewProcessor(o ProcessorOptions) (*Processor, error) {
	if o.Client == nil || o.InstanceID == "" {
		return nil, errors.New("pricing processor: needs a bus client and an instance id")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("pricing processor: %w", err)
	}
	book, err := pricing.NewRuleBook(o.Fallback)
	if err != nil {
		return nil, fmt.Errorf("pricing processor: %w", err)
	}
	if o.Group == "" {
		o.Group = "pricing"
	}
	o.Client.DeclareDeadLetters(o.Group, inputTopics)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Processor{
		o: o, c: o.Client, log: o.Logger.With("role", "pricing"), book: book,
		pricers: map[int32]*pricing.Pricer{}, needRestore: map[int32]bool{}, metaKeys: map[int32][]byte{},
		recent: map[int32]*dedup.IDs{},
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
		rules.Follow(ruleCtx, 1000, func(recs []bus.Record) {
			for i := range recs {
				p.queueRule(&recs[i])
			}
		}, func(err error) { p.log.Warn("rules fetch error", "err", err) })
	}()
	defer wg.Wait()
	defer stopRules()

	tr, err := p.c.NewTransactor(bus.TransactOptions{
		Group:           p.o.Group,
		TransactionalID: p.o.Group + "-" + p.o.InstanceID,
		Topics:          inputTopics,
		Process:         p.process,
		OnAbort:         p.onAbort,
		OnAssigned:      p.onAssigned,
		OnRevoked:       p.onRevoked,
		OnReset:         p.onReset,
		// Purchases, stock and products are read in step, so a catching-up
		// instance sees them interleaved as a live one does: no record
		// falls behind the watermark because another topic was read
		// first, and prices are the same however instances stop, restart
		// or move.
		AlignBy:   max(p.o.Config.OutOfOrderness/2, 100*time.Millisecond),
		OnCommit:  p.onCommit,
		FromStart: true,
		MaxPoll:   p.o.MaxPoll,
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

// discover checks that the inputs and the changelog are co-partitioned.
func (p *Processor) discover(ctx context.Context) error {
	names := []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts, TopicChangelog}
	parts, err := p.c.Partitions(ctx, names...)
	if err != nil {
		return fmt.Errorf("pricing processor: %w (create %s with stream.Topics())", err, p.c.Topic(TopicChangelog))
	}
	for _, topic := range names {
		if p.nParts == 0 {
			p.nParts = parts[topic]
		} else if parts[topic] != p.nParts {
			return fmt.Errorf("pricing processor: %s has %d partitions, %s has %d; inputs and changelog must be co-partitioned",
				p.c.Topic(topic), parts[topic], p.c.Topic(names[0]), p.nParts)
		}
	}
	return nil
}

// readRules opens a table reader of every rules partition and reads up to
// the current end: rules are broadcast state, every instance needs all of
// them.
func (p *Processor) readRules(ctx context.Context) (*bus.Table, error) {
	t, err := p.c.OpenTable(event.TopicPricingRules)
	if err != nil {
		return nil, fmt.Errorf("pricing processor: %w", err)
	}
	if err := t.CatchUp(ctx, p.queueRule); err != nil {
		t.Close()
		return nil, fmt.Errorf("pricing processor: reading rules: %w", err)
	}
	p.applyRules()
	return t, nil
}

// queueRule decodes a rule record for the processing goroutine to apply at
// its next batch. A tombstone deletes the category's rule; an invalid rule is
// logged and ignored, so the category keeps its last good rule.
func (p *Processor) queueRule(r *bus.Record) {
	category, rule, err := decodeRule(r)
	if err != nil {
		p.log.Warn("ignoring invalid pricing rule", "category", category, "offset", r.Offset, "err", err)
		return
	}
	u := ruleUpdate{category: category, rule: rule}
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

// onReset forgets every partition: the instance was fenced, and the new
// session's assignment restores what it gets from the changelog.
func (p *Processor) onReset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.pricers)
	clear(p.recent)
	clear(p.needRestore)
	p.statsMu.Lock()
	p.pending = changeStats{}
	p.statsMu.Unlock()
}

// onAbort forgets every partition's in-memory state: the aborted batch's
// records come again, and the changelog holds the state they start from.
func (p *Processor) onAbort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for part := range p.pricers {
		p.needRestore[part] = true
	}
	p.statsMu.Lock()
	p.pending = changeStats{}
	p.statsMu.Unlock()
}

// onCommit counts the committed batch's price changes.
func (p *Processor) onCommit() {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	for i, n := range p.pending.byReason {
		p.committed.byReason[i] += n
	}
	if p.pending.last.After(p.committed.last) {
		p.committed.last = p.pending.last
	}
	p.pending = changeStats{}
}

// changeReasons are the values of PriceChangeReason.
var changeReasons = [...]string{pricing.ClippedByFloor, pricing.ClippedByCeiling, pricing.ClippedByStep, pricing.PolicyRule, pricing.PolicyLearn}

// ChangeReasons are the values of PriceChangeReason: what limited a change
// (its ClippedBy), else the policy that set it.
func ChangeReasons() []string { return changeReasons[:] }

// PriceChangeReason is the reason a change is counted under: its ClippedBy
// when a bound or the step limit set the price, else the policy (learn or
// rule) whose target it reached.
func PriceChangeReason(ch pricing.PriceChange) string {
	switch {
	case ch.Reason.ClippedBy != "":
		return ch.Reason.ClippedBy
	case ch.Reason.Learn != nil:
		return pricing.PolicyLearn
	}
	return pricing.PolicyRule
}

// changeStats counts price changes by changeReasons index, and when the
// last was made.
type changeStats struct {
	byReason [len(changeReasons)]uint64
	last     time.Time // wall clock
}

func (c *changeStats) add(ch pricing.PriceChange, now time.Time) {
	if i := slices.Index(changeReasons[:], PriceChangeReason(ch)); i >= 0 {
		c.byReason[i]++
	}
	c.last = now
}

// PriceChanges is the number of price changes this instance committed
// since it started, by reason (every one of ChangeReasons is present).
func (p *Processor) PriceChanges() map[string]uint64 {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	out := make(map[string]uint64, len(changeReasons))
	for i, r := range changeReasons {
		out[r] = p.committed.byReason[i]
	}
	return out
}

// LastPriceChange is the wall-clock time this instance last committed a
// price change; zero before the first.
func (p *Processor) LastPriceChange() time.Time {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	return p.committed.last
}

// SlowestWatermark is the earliest watermark among the partitions this
// instance holds; false while none of them has one (nothing assigned, or
// no event seen yet).
func (p *Processor) SlowestWatermark() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var slowest time.Time
	found := false
	for _, pr := range p.pricers {
		if wm, ok := pr.Watermark(); ok && (!found || wm.Before(slowest)) {
			slowest, found = wm, true
		}
	}
	return slowest, found
}

// process is one transaction: the batch's records through the pricers, and
// the price changes, late purchases, dead letters and changelog records out.
func (p *Processor) process(ctx context.Context, recs []*bus.Record) ([]*bus.Record, error) {
	p.applyRules()
	if err := p.restorePending(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	var out []*bus.Record
	for _, r := range recs {
		pr := p.pricers[r.Partition]
		if pr == nil {
			return nil, fmt.Errorf("record of %s/%d arrived before its partition was restored", r.Topic, r.Partition)
		}
		late, err := Apply(pr, p.recent[r.Partition], r, now)
		switch {
		case err != nil:
			out = append(out, p.c.DeadLetter(r, err))
		case late:
			out = append(out, &bus.Record{Topic: event.TopicPurchasesLate, Key: r.Key, Value: r.Value, Headers: r.Headers})
		}
	}
	var changes []pricing.PriceChange
	for part, pr := range p.pricers {
		pr.Tick(now)
		if wm, ok := pr.Watermark(); ok {
			p.recent[part].Forget(wm.Add(-p.o.Config.AllowedLateness).UnixMilli())
		}
		changes = pr.TakeChanges(changes[:0])
		for _, ch := range changes {
			rec, err := p.priceRecord(ch)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
			p.statsMu.Lock()
			p.pending.add(ch, now)
			p.statsMu.Unlock()
		}
		var encErr error
		pr.TakeTouched(func(s *pricing.SKUState) {
			b, err := s.AppendBinary(nil)
			if err != nil && encErr == nil {
				encErr = err
			}
			out = append(out, &bus.Record{Topic: TopicChangelog, Key: p.keyOn(s.SKU, part), Value: b})
		})
		if encErr != nil {
			return nil, fmt.Errorf("encoding pricing state: %w", encErr)
		}
		out = append(out, &bus.Record{Topic: TopicChangelog, Key: p.metaKey(part), Value: pr.AppendPartitionState(nil)})
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

// Apply feeds one record of an input topic to its partition's pricer, as
// the processor does: a purchase counts unless seen already holds its id,
// a stock level waits for the watermark, a product sets the SKU's bounds.
// late reports a purchase beyond the allowed lateness (the processor sends
// it to the late topic); an error is a record it dead-letters. A
// partition's log replayed through Apply in one process gives the prices
// the processor gave, however its instances were stopped and restarted.
func Apply(pr *pricing.Pricer, seen *dedup.IDs, r *bus.Record, now time.Time) (late bool, err error) {
	switch r.Topic {
	case event.TopicPurchases:
		return purchase(pr, seen, r, now)
	case event.TopicInventory:
		_, err = stock(pr, r, now)
		return false, err
	case event.TopicProducts:
		return false, product(pr, r)
	}
	return false, nil
}

// purchaseRecord is a purchase envelope with its data decoded in the same
// pass: the hot path. Anything it does not take goes through event.Decode,
// which gives the exact verdict and error.
type purchaseRecord struct {
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	Source        string         `json:"source"`
	Time          time.Time      `json:"time"`
	Subject       string         `json:"subject"`
	Data          event.Purchase `json:"data"`
	SchemaVersion int            `json:"schema_version"`
}

func purchase(pr *pricing.Pricer, seen *dedup.IDs, r *bus.Record, now time.Time) (bool, error) {
	if len(r.Value) <= event.MaxSize {
		var pe purchaseRecord
		// The fast path decodes envelope and data in one pass; anything it
		// does not fully understand takes the general path below.
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.DisallowUnknownFields()
		if dec.Decode(&pe) == nil && !dec.More() && pe.Type == event.TypePurchase && pe.Data.Quantity > 0 {
			env := event.Envelope{ID: pe.ID, Type: pe.Type, Source: pe.Source, Time: pe.Time, Subject: pe.Subject, Data: emptyObject, SchemaVersion: pe.SchemaVersion}
			if env.Validate() == nil {
				sku := pe.Data.SKU
				if sku == "" {
					sku = pe.Subject
				}
				if !seen.Add(pe.ID, pe.Time.UnixMilli()) {
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
	if env.Type != event.TypePurchase {
		return false, nil // other events on the topic are not demand
	}
	var d event.Purchase
	if err := env.DecodeData(&d); err != nil {
		return false, err
	}
	sku := d.SKU
	if sku == "" {
		sku = env.Subject
	}
	if !seen.Add(env.ID, env.Time.UnixMilli()) {
		return false, nil
	}
	return pr.Purchase(sku, env.Time, d.Quantity, now)
}

func stock(pr *pricing.Pricer, r *bus.Record, now time.Time) (bool, error) {
	env, err := event.Decode(r.Value)
	if err != nil {
		return false, err
	}
	if env.Type == event.TypeAlert {
		return false, nil
	}
	var d event.StockChanged
	if err := env.DecodeData(&d); err != nil {
		return false, err
	}
	sku := d.SKU
	if sku == "" {
		sku = env.Subject
	}
	return pr.InventoryLevels(sku, env.Time, d.Available, max(d.OnOrder, 0), logOrder(r.Offset), now)
}

// logOrder is the key that orders stock records of the same millisecond:
// the record's offset, zero-padded to sort as text. A SKU's records share a
// partition, written in the order the store changed the SKU, so of several
// levels stamped alike the last written wins. (Event ids are random
// within a millisecond, and a batch of checkouts stamps its changes alike.)
func logOrder(offset int64) string {
	return fmt.Sprintf("%020d", offset)
}

func product(pr *pricing.Pricer, r *bus.Record) error {
	if r.Value == nil {
		return nil // a compaction tombstone: the SKU keeps its last bounds
	}
	env, err := event.Decode(r.Value)
	if err != nil {
		return err
	}
	if env.Type != event.TypeProductUpserted {
		return nil
	}
	var d event.ProductUpserted
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
func (p *Processor) priceRecord(ch pricing.PriceChange) (*bus.Record, error) {
	env, err := PriceEnvelope(ch)
	if err != nil {
		return nil, err
	}
	r, err := bus.EventRecord(event.Message{Topic: event.TopicPrices, Envelope: env})
	return &r, err
}

// PriceEnvelope is the commerce.prices event of a change. Its id is derived
// from the SKU and the boundary, so a replay writes the same id and readers
// can deduplicate on it.
func PriceEnvelope(ch pricing.PriceChange) (event.Envelope, error) {
	data := pricing.PriceRecord{SKU: ch.SKU, Price: ch.Price, BasePrice: ch.BasePrice, UpdatedAt: ch.At, Reason: ch.Reason}
	env, err := event.New(event.TypePriceChanged, source, ch.SKU, ch.At, data)
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
	k := []byte(name)
	if bus.PartitionOf(k, p.nParts) == part {
		return k
	}
	for i := 0; ; i++ {
		k = append(k[:len(name)], "\x00"+strconv.Itoa(i)...)
		if bus.PartitionOf(k, p.nParts) == part {
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
			p.recent[part] = dedup.New(0)
			delete(p.needRestore, part)
		}
	}
	return nil
}

func (p *Processor) restore(ctx context.Context, parts []int32) (map[int32]*pricing.Pricer, error) {
	latest := map[int32]map[string][]byte{}
	for _, part := range parts {
		latest[part] = map[string][]byte{}
	}
	err := p.c.ReadPartitions(ctx, TopicChangelog, parts, func(r *bus.Record) {
		latest[r.Partition][string(r.Key)] = r.Value
	})
	if err != nil {
		return nil, fmt.Errorf("reading the changelog: %w", err)
	}
	out := map[int32]*pricing.Pricer{}
	for _, part := range parts {
		pr, err := pricing.NewPricer(p.o.Config, p.book)
		if err != nil {
			return nil, err
		}
		meta := p.metaKey(part)
		for key, val := range latest[part] {
			if key == string(meta) || val == nil {
				continue
			}
			s, err := pricing.DecodeSKUState(val)
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
