package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/outbox"
)

// Outbox is the outbox port with a way to fill it.
type Outbox interface {
	outbox.Store
	// EnqueueEvents writes events to the outbox in one transaction.
	EnqueueEvents(ctx context.Context, msgs []event.Message) error
}

// RunOutbox runs the outbox cases. newStore returns a fresh, empty store.
func RunOutbox(t *testing.T, f Features, newStore func(t *testing.T) Outbox) {
	t.Run("OutboxOrderAndMark", func(t *testing.T) { t.Parallel(); testOutbox(t, newStore(t)) })
	t.Run("OutboxRowsAreTheirEvents", func(t *testing.T) { t.Parallel(); testOutboxRows(t, newStore(t)) })
	t.Run("RelayLease", func(t *testing.T) { t.Parallel(); testLease(t, newStore(t), f) })
}

func enqueue(t *testing.T, s Outbox, msgs ...event.Message) {
	t.Helper()
	if err := s.EnqueueEvents(ctx(t), msgs); err != nil {
		t.Fatalf("EnqueueEvents: %v", err)
	}
}

func testOutbox(t *testing.T, s Outbox) {
	for i := range 5 {
		sku := fmt.Sprintf("O-%d", i)
		enqueue(t, s, msg(t, event.TopicProducts, "test.event", sku), msg(t, event.TopicInventory, "test.event", sku))
	}
	rows := pending(t, s)
	if len(rows) != 10 {
		t.Fatalf("pending = %d, want 10", len(rows))
	}
	// In write order; a store may keep one write's events in one row,
	// which they then share the id of.
	for i := 1; i < len(rows); i++ {
		if rows[i].ID < rows[i-1].ID || rows[i].Topic == rows[i-1].Topic {
			t.Fatalf("outbox not in write order: %d %s then %d %s", rows[i-1].ID, rows[i-1].Topic, rows[i].ID, rows[i].Topic)
		}
	}
	first, err := s.PendingOutbox(ctx(t), 2)
	if err != nil || len(first) != 2 || first[0].ID != rows[0].ID {
		t.Fatalf("PendingOutbox(limit 2) = %v, %v", first, err)
	}
	if err := s.MarkOutboxSent(ctx(t), []int64{rows[0].ID, rows[1].ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxBacklog(ctx(t)); err != nil || n != 8 {
		t.Fatalf("backlog = %d, %v; want 8", n, err)
	}
	rest := pending(t, s)
	if len(rest) != 8 || rest[0].ID != rows[2].ID {
		t.Fatalf("pending after mark = %+v", rest)
	}
	// Marking twice is harmless.
	if err := s.MarkOutboxSent(ctx(t), []int64{rows[0].ID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx(t)); n != 8 {
		t.Fatalf("marking again touched unsent rows: backlog %d", n)
	}
	// Large batches are marked in chunks.
	var ids []int64
	for _, r := range rest {
		ids = append(ids, r.ID)
	}
	for i := range 1200 {
		ids = append(ids, int64(1_000_000+i))
	}
	if err := s.MarkOutboxSent(ctx(t), ids); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx(t)); n != 0 {
		t.Fatalf("backlog after marking all = %d", n)
	}
	// Rows written after a mark come after every earlier one.
	enqueue(t, s, msg(t, event.TopicProducts, "test.event", "O-9"))
	if after := pending(t, s); len(after) != 1 || after[0].ID <= rows[len(rows)-1].ID {
		t.Fatalf("pending after a new write = %+v, want one row after id %d", after, rows[len(rows)-1].ID)
	}
	if empty, err := s.PendingOutbox(ctx(t), 0); err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("PendingOutbox(limit 0) = %#v, %v; want an empty list", empty, err)
	}
}

// testOutboxRows: each row is its event, encoded, keyed by the event's
// subject; a write with an event that cannot be encoded writes none of its
// events.
func testOutboxRows(t *testing.T, s Outbox) {
	msgs := []event.Message{msg(t, event.TopicProducts, "test.one", "R-1"), msg(t, event.TopicInventory, "test.two", "R-2")}
	enqueue(t, s, msgs...)
	rows := pending(t, s)
	if len(rows) != 2 {
		t.Fatalf("pending = %d, want 2", len(rows))
	}
	for i, r := range rows {
		m := msgs[i]
		env, err := event.Decode(r.Payload)
		if err != nil {
			t.Fatalf("outbox payload does not decode: %v", err)
		}
		if r.EventID != m.Envelope.ID || env.ID != m.Envelope.ID || r.Topic != m.Topic || r.Key != m.Envelope.Subject ||
			r.Type != m.Envelope.Type || env.Type != m.Envelope.Type || !env.Time.Equal(m.Envelope.Time) {
			t.Errorf("outbox row %+v (envelope %+v) is not the event %+v", r, env, m.Envelope)
		}
	}
	if err := s.EnqueueEvents(ctx(t), []event.Message{msg(t, event.TopicProducts, "test.three", "R-3"), malformed}); err == nil {
		t.Fatal("a malformed event was accepted")
	}
	if n, err := s.OutboxBacklog(ctx(t)); err != nil || n != 2 {
		t.Fatalf("backlog after a failed write = %d, %v; want 2", n, err)
	}
	if err := s.EnqueueEvents(ctx(t), nil); err != nil {
		t.Fatalf("enqueueing nothing: %v", err)
	}
}

// testLease: a lease is held until released, and can be taken again
// after.
func testLease(t *testing.T, s Outbox, f Features) {
	lease, err := s.AcquireRelayLease(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Check(ctx(t)); err != nil {
		t.Fatalf("check of a held lease: %v", err)
	}
	if f.ExclusiveRelayLease {
		c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
		_, err := s.AcquireRelayLease(c)
		cancel()
		if err == nil {
			t.Fatal("a second relay lease was granted while the first was held")
		}
		if err := lease.Check(ctx(t)); err != nil {
			t.Fatalf("check after a refused second lease: %v", err)
		}
	}
	lease.Release()
	lease.Release() // releasing twice is harmless
	lease2, err := s.AcquireRelayLease(ctx(t))
	if err != nil {
		t.Fatalf("lease after release: %v", err)
	}
	if err := lease2.Check(ctx(t)); err != nil {
		t.Fatalf("check of the second lease: %v", err)
	}
	lease2.Release()
}
