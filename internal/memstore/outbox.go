package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/outbox"
)

// enqueue writes events to the outbox in t, in order.
func (s *Store) enqueue(t *tx, msgs []event.Message) error {
	for _, m := range msgs {
		payload, err := m.Envelope.Encode()
		if err != nil {
			return fmt.Errorf("enqueueing %s: %w", m.Envelope.Type, err)
		}
		// Event ids are unique among unsent rows, as the SQL store's
		// constraint keeps them.
		if s.outboxIDs[m.Envelope.ID] {
			return fmt.Errorf("enqueueing events: event %s is in the outbox already", m.Envelope.ID)
		}
		set(t, s.outboxIDs, m.Envelope.ID, true)
		s.outboxSeq++ // ids are never reused, as a database sequence
		push(t, &s.outbox, outbox.Row{ID: s.outboxSeq, EventID: m.Envelope.ID, Topic: m.Topic, Key: m.Envelope.Subject, Type: m.Envelope.Type, Payload: payload})
	}
	return nil
}

// EnqueueEvents writes events to the outbox in one write.
func (s *Store) EnqueueEvents(ctx context.Context, msgs []event.Message) error {
	return s.write(ctx, func(t *tx) error { return s.enqueue(t, msgs) })
}

// PendingOutbox returns unsent rows in id order.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]outbox.Row, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := upTo(s.outbox, limit)
	for i := range out {
		out[i].Payload = slices.Clone(out[i].Payload)
	}
	return out, nil
}

// MarkOutboxSent deletes published rows: from now on the event log is their
// record.
func (s *Store) MarkOutboxSent(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	sent := make(map[int64]bool, len(ids))
	for _, id := range ids {
		sent[id] = true
	}
	return s.write(ctx, func(*tx) error {
		s.outbox = slices.DeleteFunc(s.outbox, func(r outbox.Row) bool {
			if sent[r.ID] {
				delete(s.outboxIDs, r.EventID)
			}
			return sent[r.ID]
		})
		return nil // nothing here fails, so nothing needs undoing
	})
}

// OutboxBacklog counts unsent rows.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	if err := s.read(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return int64(len(s.outbox)), nil
}

// AcquireRelayLease waits until no other relay of this store holds the
// lease, so two relays in one test publish one at a time.
func (s *Store) AcquireRelayLease(ctx context.Context) (outbox.Lease, error) {
	select {
	case s.lease <- struct{}{}:
		return &lease{s: s}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lease is the token in Store.lease; it is lost only by releasing it.
type lease struct {
	s        *Store
	mu       sync.Mutex
	released bool
}

func (l *lease) Check(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("%w: released", outbox.ErrLeaseLost)
	}
	return nil
}

func (l *lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.released {
		l.released = true
		<-l.s.lease
	}
}
