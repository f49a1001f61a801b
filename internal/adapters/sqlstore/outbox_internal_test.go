package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// The events of one write are one outbox row; the relay still gets each
// event, in write order, whole writes at a time, and the backlog counts
// events.
func TestOneOutboxRowPerWrite(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dsn := filepath.Join(t.TempDir(), "outbox.db")
			if kind == "postgres" {
				dsn = testenv.PostgresDB(t)
			}
			s, err := Open(ctx, kind, dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var msgs []event.Message
			for i, topic := range []string{event.TopicOrders, event.TopicInventory, event.TopicPurchases, event.TopicProducts} {
				env, err := event.New("test.packed", "test", "S-"+string(rune('a'+i)), time.Now(), map[string]int{"n": i})
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, event.Message{Topic: topic, Envelope: env})
			}
			if err := s.EnqueueEvents(ctx, msgs[:3]); err != nil {
				t.Fatal(err)
			}
			if err := s.EnqueueEvents(ctx, msgs[3:]); err != nil {
				t.Fatal(err)
			}
			var stored int
			if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&stored); err != nil || stored != 2 {
				t.Fatalf("outbox rows = %d, %v; want one per write", stored, err)
			}
			rows, err := s.PendingOutbox(ctx, 10)
			if err != nil || len(rows) != len(msgs) {
				t.Fatalf("pending = %d events, %v; want %d", len(rows), err, len(msgs))
			}
			for i, r := range rows {
				m := msgs[i]
				env, err := event.Decode(r.Payload)
				if err != nil || env.ID != m.Envelope.ID || r.EventID != m.Envelope.ID || r.Topic != m.Topic ||
					r.Key != m.Envelope.Subject || r.Type != m.Envelope.Type {
					t.Errorf("event %d: row %+v (%v) is not %+v", i, r, err, m.Envelope)
				}
			}
			if rows[1].ID != rows[0].ID || rows[2].ID != rows[0].ID || rows[3].ID <= rows[0].ID {
				t.Errorf("row ids %d %d %d %d: want the first write's events to share one", rows[0].ID, rows[1].ID, rows[2].ID, rows[3].ID)
			}
			if n, err := s.OutboxBacklog(ctx); err != nil || n != 4 {
				t.Errorf("backlog = %d, %v; want 4 events", n, err)
			}
			// A limit below a write's size still returns the whole write.
			if first, err := s.PendingOutbox(ctx, 1); err != nil || len(first) != 3 {
				t.Errorf("pending(limit 1) = %d events, %v; want the first write's 3", len(first), err)
			}
			if err := s.MarkOutboxSent(ctx, []int64{rows[0].ID}); err != nil {
				t.Fatal(err)
			}
			if n, err := s.OutboxBacklog(ctx); err != nil || n != 1 {
				t.Errorf("backlog after marking the first write = %d, %v; want 1", n, err)
			}
		})
	}
}

// A packed row that is cut short or of an unknown format is an error, not
// a partial or empty list of events.
func TestUnpackRefusesDamagedRows(t *testing.T) {
	env, err := event.New("test.packed", "test", "S-1", time.Now(), map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := packEvents([]event.Message{{Topic: event.TopicOrders, Envelope: env}, {Topic: event.TopicInventory, Envelope: env}})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := unpackEvents(nil, 7, b); err != nil || len(rows) != 2 || rows[1].Topic != event.TopicInventory || rows[1].ID != 7 {
		t.Fatalf("unpack = %+v, %v", rows, err)
	}
	for name, damaged := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, b[1:]...),
		"cut short":      b[:len(b)-3],
		"cut in a field": b[:5],
	} {
		if _, err := unpackEvents(nil, 7, damaged); err == nil {
			t.Errorf("%s: unpacked without an error", name)
		}
	}
}
