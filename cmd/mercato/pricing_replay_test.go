package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/dedup"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
)

// pricingInSeconds runs pricing in seconds of event time, so prices move
// within a test's run: each boundary the watermark (newest event − 10 s)
// passes is a decision to compare with a replay. A process catching up
// after a restart or a move reads the three input topics in step (the
// processor aligns them), so their interleaving stays within the
// out-of-orderness, which makes it irrelevant to the prices. With 5 s a
// loaded CI run once saw more skew than that: a pause takes effect on the
// next fetches, and one fetch of purchases can span seconds more than one
// of stock levels. No partition idles for the run (the wall clock would
// decide then).
var pricingInSeconds = []string{
	"--pricing-slide", "1s", "--pricing-window", "4s", "--pricing-out-of-orderness", "10s", "--pricing-allowed-lateness", "3s",
	"--pricing-idle-timeout", "10m",
}

// testPartitions is the --partitions of the multi-process tests.
const testPartitions = 4

// replayConfig is the configuration serve builds from pricingInSeconds.
func replayConfig(t *testing.T) pricing.Config {
	t.Helper()
	var c config.PricingConfig
	fs := flag.NewFlagSet("pricing", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(pricingInSeconds); err != nil {
		t.Fatal(err)
	}
	return app.PricingConfig(c)
}

// pricingLog is what the broker holds of pricing, read committed: its
// inputs (purchases, stock levels, products) in the order they were
// written, the rules, the published prices and the committed state.
type pricingLog struct {
	inputs []*bus.Record
	rules  []*bus.Record
	prices map[string][]string // SKU → each change once: id and data
	states map[string][]byte   // SKU → last changelog record
	late   []*bus.Record       // commerce.purchases.late, for dump
}

// readPricingLog reads the pricing topics from the start with one client;
// opts add the client's security.
func readPricingLog(t *testing.T, seed string, opts ...kgo.Opt) *pricingLog {
	t.Helper()
	l := &pricingLog{prices: map[string][]string{}, states: map[string][]byte{}}
	seen := map[string]bool{} // price ids: readers deduplicate on them
	inputs := []string{event.TopicProducts, event.TopicInventory, event.TopicPurchases}
	topics := append([]string{event.TopicPricingRules, event.TopicPrices, stream.TopicChangelog, event.TopicPurchasesLate}, inputs...)
	byTopic := map[string][]*bus.Record{}
	readTopics(t, seed, topics, true, func(r *kgo.Record) {
		br := &bus.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		switch r.Topic {
		case event.TopicPricingRules:
			l.rules = append(l.rules, br)
		case event.TopicPrices:
			env, err := event.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !seen[env.ID] {
				seen[env.ID] = true
				l.prices[env.Subject] = append(l.prices[env.Subject], env.ID+" "+string(env.Data))
			}
		case event.TopicPurchasesLate:
			l.late = append(l.late, br)
		case stream.TopicChangelog:
			if r.Value == nil {
				return
			}
			if st, err := pricing.DecodeSKUState(r.Value); err == nil && st.SKU != "" && bytes.HasPrefix(r.Key, []byte(st.SKU)) {
				l.states[st.SKU] = r.Value // one partition holds a SKU: its records come in order
			}
		default:
			byTopic[r.Topic] = append(byTopic[r.Topic], br)
		}
	}, opts...)
	for _, topic := range inputs {
		l.inputs = append(l.inputs, byTopic[topic]...)
	}
	// Stable: each topic's records stay in their log order; equal times go
	// by topic name, as the processor merges them.
	slices.SortStableFunc(l.inputs, func(a, b *bus.Record) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), strings.Compare(a.Topic, b.Topic))
	})
	return l
}

// pricingReplay is what one process made of the input partitions.
type pricingReplay struct {
	changes       int // price changes of the checked SKUs
	counted, late int // distinct purchases of the checked SKUs
}

// check replays the input partitions of skus through one pricer per
// partition in this process (stream.Apply, the processor's own path), and
// compares each SKU's price history (each change's id, time, price and
// reason) and committed state with what the processes published. The
// processes' fetches interleaved the three topics their own way; the
// event-time design makes that irrelevant within the out-of-orderness,
// which the tests stay inside.
func (l *pricingLog) check(t *testing.T, skus ...string) pricingReplay {
	t.Helper()
	book, err := pricing.NewRuleBook(pricing.DefaultRule())
	if err != nil {
		t.Fatal(err)
	}
	rules := stream.NewRuleTable(nil)
	for _, r := range l.rules {
		rules.Apply(r)
	}
	for _, rule := range rules.Rules() {
		if err := book.Set(rule); err != nil {
			t.Fatal(err)
		}
	}
	parts := map[int32]bool{}
	for _, sku := range skus {
		parts[bus.PartitionOf([]byte(sku), testPartitions)] = true
	}
	cfg := replayConfig(t)
	pricers, seen := map[int32]*pricing.Pricer{}, map[int32]*dedup.IDs{}
	for part := range parts {
		if pricers[part], err = pricing.NewPricer(cfg, book); err != nil {
			t.Fatal(err)
		}
		seen[part] = dedup.New(0)
	}
	var out pricingReplay
	purchases := map[string]bool{}
	for _, r := range l.inputs {
		pr := pricers[r.Partition]
		if pr == nil {
			continue
		}
		late, err := stream.Apply(pr, seen[r.Partition], r, r.Timestamp)
		if err != nil {
			t.Fatalf("replaying %s record: %v", r.Topic, err)
		}
		if r.Topic != event.TopicPurchases || !slices.Contains(skus, string(r.Key)) {
			continue
		}
		env, err := event.Decode(r.Value)
		if err != nil || purchases[env.ID] {
			continue // a copy the relay sent twice counts once
		}
		purchases[env.ID] = true
		if late {
			out.late++
		} else {
			out.counted++
		}
	}
	replayed := map[string][]string{}
	for _, pr := range pricers {
		for _, ch := range pr.TakeChanges(nil) {
			env, err := stream.PriceEnvelope(ch)
			if err != nil {
				t.Fatal(err)
			}
			replayed[ch.SKU] = append(replayed[ch.SKU], env.ID+" "+string(env.Data))
		}
	}
	for _, sku := range skus {
		part := bus.PartitionOf([]byte(sku), testPartitions)
		want, got := replayed[sku], l.prices[sku]
		out.changes += len(want)
		if len(want) == 0 {
			t.Errorf("the replay of %s moved no price: the run compares nothing", sku)
		}
		if !slices.Equal(got, want) {
			t.Errorf("commerce.prices of %s differs from a single-process replay of its input:\n%s\n%s", sku, firstDiff(got, want),
				l.publishDelays(part))
			l.dump(t, sku, part, got, want)
		}
		st, ok := pricers[part].SKU(sku)
		if !ok {
			t.Errorf("the replay never saw %s", sku)
			continue
		}
		b, err := st.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.states[sku], b) {
			t.Errorf("pricing's committed state of %s differs from a single-process replay of its input", sku)
		}
	}
	return out
}

// publishDelays describes, per input topic of partition part, the longest
// time between a record's event time and its write to the broker: a
// record written later than the out-of-orderness after its event time may
// be read behind the watermark, depending on the topics' interleaving.
func (l *pricingLog) publishDelays(part int32) string {
	worst := map[string]time.Duration{}
	for _, r := range l.inputs {
		if r.Partition != part {
			continue
		}
		env, err := event.Decode(r.Value)
		if err != nil {
			continue
		}
		worst[r.Topic] = max(worst[r.Topic], r.Timestamp.Sub(env.Time))
	}
	return fmt.Sprintf("longest delay from event time to the broker, per topic: %v", worst)
}

// firstDiff describes where two price histories part.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("change %d of %d (replay %d):\n processes: %s\n replay:    %s", i+1, len(got), len(want), g, w)
		}
	}
	return "equal"
}

// pricingOwners maps each input partition of commerce.purchases to the
// static member id (pricing-<instance id>) of the pricing group member
// consuming it.
func pricingOwners(t *testing.T, seed string, opts ...kgo.Opt) map[int32]string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, "pricing")
	if err != nil {
		t.Fatal(err)
	}
	owners := map[int32]string{}
	for _, m := range groups["pricing"].Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok || m.InstanceID == nil {
			continue
		}
		for _, at := range a.Topics {
			if at.Topic == event.TopicPurchases {
				for _, p := range at.Partitions {
					owners[p] = *m.InstanceID
				}
			}
		}
	}
	return owners
}

// pricingAssignment describes the pricing group's whole assignment and
// lag, for failure messages.
func pricingAssignment(t *testing.T, seed string, opts ...kgo.Opt) string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed)}, opts...)...)
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	lag, err := adm.Lag(ctx, "pricing")
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	lag.Each(func(l kadm.DescribedGroupLag) {
		for _, ml := range l.Lag.Sorted() {
			owner := "-"
			if ml.Member != nil && ml.Member.InstanceID != nil {
				owner = *ml.Member.InstanceID
			}
			fmt.Fprintf(&b, "%s/%d: %s lag %d\n", ml.Topic, ml.Partition, owner, ml.Lag)
		}
	})
	return b.String()
}

// dump writes, when MERCATO_TEST_REPLAY_DUMP names a directory, both price
// histories and partition part's input in replay order (topic, offset,
// broker time, event time, id, type, data) with the records pricing sent
// to commerce.purchases.late: what it takes to find which record the two
// runs saw on different sides of a boundary.
func (l *pricingLog) dump(t *testing.T, sku string, part int32, got, want []string) {
	t.Helper()
	dir := os.Getenv("MERCATO_TEST_REPLAY_DUMP")
	if dir == "" {
		t.Logf("set MERCATO_TEST_REPLAY_DUMP to a directory to keep this run's pricing input")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "processes:\n%s\nreplay:\n%s\n", strings.Join(got, "\n"), strings.Join(want, "\n"))
	for _, r := range append(slices.Clone(l.inputs), l.late...) {
		if r.Partition != part {
			continue
		}
		env, err := event.Decode(r.Value)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s off=%d broker=%d event=%d id=%s type=%s %s\n",
			r.Topic, r.Offset, r.Timestamp.UnixMilli(), env.Time.UnixMilli(), env.ID, env.Type, env.Data)
	}
	f := filepath.Join(dir, fmt.Sprintf("pricing-replay-%s-%d.txt", sku, time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Logf("writing the pricing input: %v", err)
		return
	}
	t.Logf("pricing input written to %s", f)
}
