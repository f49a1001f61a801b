package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// The rule table holds what the rules topic says now: the last rule of each
// category, none after a tombstone, the last good one after an invalid one.
func TestRuleTableFollowsTheRulesTopic(t *testing.T) {
	t.Parallel()
	_, c := broker(t)
	rule := func(category, id string, step float64) event.Message {
		r := pricing.DefaultRule()
		r.Category, r.ID, r.StepLimit = category, id, step
		e, err := event.New(event.TypePricingRule, "test", category, t0, r)
		if err != nil {
			t.Fatal(err)
		}
		return event.Message{Topic: event.TopicPricingRules, Envelope: e}
	}
	invalid := rule("books", "books@bad", 0.9) // step_limit above 0.5
	publish(t, c, []event.Message{
		rule("toys", "toys@1", 0.05), rule("audio", "audio@1", 0.05), rule("books", "books@1", 0.1),
		rule("audio", "audio@2", 0.08), invalid,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Produce(ctx, &bus.Record{Topic: event.TopicPricingRules, Key: []byte("toys")}); err != nil {
		t.Fatal(err)
	}
	table := NewRuleTable(nil)
	done := make(chan error, 1)
	followCtx, stop := context.WithCancel(context.Background())
	go func() { done <- table.Follow(followCtx, c) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	want := "[audio:audio@2:0.08 books:books@1:0.1]"
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []string
		for _, r := range table.Rules() {
			got = append(got, fmt.Sprintf("%s:%s:%g", r.Category, r.ID, r.StepLimit))
		}
		if fmt.Sprint(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Rules() = %v, want %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !table.Running() {
		t.Error("Running() = false while following")
	}
	if r, ok := table.Rule("audio"); !ok || r.ID != "audio@2" {
		t.Errorf("Rule(audio) = %+v, %v", r, ok)
	}
	if _, ok := table.Rule("toys"); ok {
		t.Error("Rule(toys) after its tombstone: still there")
	}
}

// A rule without id or category takes them from its record, as the pricing
// role names it.
func TestRuleTableNamesRulesFromTheRecord(t *testing.T) {
	t.Parallel()
	r := pricing.DefaultRule()
	r.ID = ""
	e, err := event.New(event.TypePricingRule, "test", "audio", t0, r)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	table := NewRuleTable(nil)
	table.Apply(&bus.Record{Topic: event.TopicPricingRules, Key: []byte("audio"), Value: raw, Offset: 7})
	table.Apply(&bus.Record{Topic: event.TopicPricingRules, Key: []byte("junk"), Value: []byte("{not json"), Offset: 8})
	got := table.Rules()
	if len(got) != 1 || got[0].Category != "audio" || got[0].ID != "audio@7" {
		t.Errorf("Rules() = %+v, want one rule audio@7", got)
	}
}
