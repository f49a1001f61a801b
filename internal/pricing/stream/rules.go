package stream

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// RuleTable is the api role's read view of the pricing rules: it follows
// commerce.pricing-rules (compacted, keyed by category) like the pricing
// role does and keeps each category's current rule, so a PUT is read back
// once the rule reaches the topic.
type RuleTable struct {
	log     *slog.Logger
	mu      sync.RWMutex
	rules   map[string]pricing.Rule
	running atomic.Bool
}

// NewRuleTable builds an empty table; Follow fills it.
func NewRuleTable(log *slog.Logger) *RuleTable {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RuleTable{log: log, rules: map[string]pricing.Rule{}}
}

// Rules returns every category's rule, sorted by category.
func (t *RuleTable) Rules() []pricing.Rule {
	t.mu.RLock()
	out := make([]pricing.Rule, 0, len(t.rules))
	for _, r := range t.rules {
		out = append(out, r)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b pricing.Rule) int { return cmp.Compare(a.Category, b.Category) })
	return out
}

// Rule returns a category's rule, if it has one of its own.
func (t *RuleTable) Rule(category string) (pricing.Rule, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.rules[category]
	return r, ok
}

// Apply reads one record of the rules topic: a rule replaces its category's,
// a tombstone deletes it, and an invalid rule is logged and ignored, as the
// pricing role does (the category keeps its last good rule).
func (t *RuleTable) Apply(r *bus.Record) {
	category, rule, err := decodeRule(r)
	if err != nil {
		t.log.Warn("ignoring invalid pricing rule", "category", category, "offset", r.Offset, "err", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rule == nil {
		delete(t.rules, category)
		return
	}
	t.rules[category] = *rule
}

// Running reports whether the table is following the topic.
func (t *RuleTable) Running() bool { return t.running.Load() }

// Follow reads the rules topic from its start and keeps following it until
// ctx ends.
func (t *RuleTable) Follow(ctx context.Context, c *bus.Client) error {
	tb, err := c.OpenTable(event.TopicPricingRules)
	if err != nil {
		return fmt.Errorf("following pricing rules: %w", err)
	}
	defer tb.Close()
	tb.ReportLag("rule-feed") // mercato_consumer_lag{group="rule-feed"}
	t.running.Store(true)
	defer t.running.Store(false)
	tb.Follow(ctx, 1000, func(recs []bus.Record) {
		for i := range recs {
			t.Apply(&recs[i])
		}
	}, func(err error) { t.log.Warn("rules fetch error", "err", err) })
	return nil
}

// decodeRule reads a record of the rules topic: the category it is keyed
// by and its rule, or nil for a tombstone. A rule without category or id
// gets them from the key and offset; an invalid rule is an error.
func decodeRule(r *bus.Record) (string, *pricing.Rule, error) {
	category := string(r.Key)
	if r.Value == nil {
		return category, nil, nil
	}
	env, err := event.Decode(r.Value)
	var rule pricing.Rule
	if err == nil {
		err = env.DecodeData(&rule)
	}
	if err != nil {
		return category, nil, err
	}
	if rule.Category == "" {
		rule.Category = category
	}
	if rule.ID == "" {
		rule.ID = rule.Category + "@" + strconv.FormatInt(r.Offset, 10)
	}
	if err := rule.Validate(); err != nil {
		return category, nil, err
	}
	return rule.Category, &rule, nil
}
