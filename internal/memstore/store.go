package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/replenishment"
)

// Options tune the store.
type Options struct {
	// AlertHysteresis re-arms low-stock alerts at threshold × (1 + h); default 0.10.
	AlertHysteresis float64
	// Now is the clock that stamps reservations and their events; default time.Now.
	Now func() time.Time
}

// Store is the in-memory system of record. The zero value is not usable:
// call New.
type Store struct {
	hysteresis float64
	now        func() time.Time
	// lease holds a token while a relay holds the outbox lease.
	lease chan struct{}

	mu           sync.RWMutex
	products     map[string]catalog.Product
	stock        map[string]stockRow
	reservations map[string]reservation
	ledger       []inventory.LedgerEntry
	ledgerSeq    int64
	adjustRefs   map[[2]string]bool // {sku, ref} of adjustments with a ref
	alerts       []inventory.Alert
	outbox       []outbox.Row // unsent, in id order
	outboxSeq    int64
	outboxIDs    map[string]bool // event ids of unsent rows
	runs         map[string]runRecord
	pos          map[string]replenishment.PurchaseOrder
	triggers     map[string]bool
	demandSeen   map[string]bool
	demand       map[demandKey]int64
}

// New returns an empty store.
func New(o Options) *Store {
	if o.AlertHysteresis <= 0 {
		o.AlertHysteresis = 0.10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{
		hysteresis: o.AlertHysteresis, now: o.Now, lease: make(chan struct{}, 1),
		products: map[string]catalog.Product{}, stock: map[string]stockRow{}, reservations: map[string]reservation{},
		adjustRefs: map[[2]string]bool{}, outboxIDs: map[string]bool{}, runs: map[string]runRecord{},
		pos: map[string]replenishment.PurchaseOrder{}, triggers: map[string]bool{},
		demandSeen: map[string]bool{}, demand: map[demandKey]int64{},
	}
}

// tx is one write. Its changes apply as it goes and are undone, newest
// first, when the write fails, so a failed write leaves nothing behind.
type tx struct {
	undo []func()
}

// write runs fn under the store's lock as one all-or-nothing write.
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &tx{}
	if err := fn(t); err != nil {
		for i := len(t.undo) - 1; i >= 0; i-- {
			t.undo[i]()
		}
		return err
	}
	return nil
}

// read takes the read lock unless ctx has ended; the caller unlocks.
func (s *Store) read(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	return nil
}

// set stores m[k] = v in t.
func set[K comparable, V any](t *tx, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	t.undo = append(t.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// push appends v to *list in t.
func push[T any](t *tx, list *[]T, v T) {
	n := len(*list)
	*list = append(*list, v)
	t.undo = append(t.undo, func() {
		clear((*list)[n:])
		*list = (*list)[:n]
	})
}

// stamp keeps what the SQL store keeps of a time: microseconds, in UTC.
func stamp(t time.Time) time.Time {
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// upTo returns the first limit items of list (none for a limit below one),
// never nil, so an empty list encodes as [] in JSON.
func upTo[T any](list []T, limit int) []T {
	limit = max(0, min(limit, len(list)))
	out := make([]T, limit)
	copy(out, list)
	return out
}
