package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/money"
)

// Ledger entry kinds written by the inventory operations (as the SQL store's).
const (
	kindReserve = "reserve"
	kindCommit  = "commit"
	kindRelease = "release"
)

// stockRow is a SKU's stock counters and which of its alerts have fired.
type stockRow struct {
	inventory.Levels
	flags inventory.AlertFlags
}

type reservation struct {
	state   string
	items   []inventory.Item
	expires time.Time
}

// change is one counter update with its record: ledger entry, inventory
// event, and any alert the new availability fires.
type change struct {
	kind, eventType, reason, ref string
	sku                          string
	onHand, reserved             int64
	// guard is what the row must meet, e.g. enough available; nil for none.
	guard func(stockRow) bool
}

// apply makes c in t; ok is false (and nothing changes) when the SKU has no
// stock or fails the guard.
func (s *Store) apply(t *tx, c change, at time.Time, msgs *[]event.Message) (stockRow, bool, error) {
	r, ok := s.stock[c.sku]
	if !ok || (c.guard != nil && !c.guard(r)) {
		return stockRow{}, false, nil
	}
	r.OnHand += c.onHand
	r.Reserved += c.reserved
	r.Available = r.OnHand - r.Reserved
	r.Version++
	s.appendLedger(t, c.sku, c.kind, c.onHand, c.reserved, c.reason, c.ref)
	m, err := inventory.LevelsMessage(c.eventType, r.Levels, c.onHand, c.reserved, c.reason, c.ref, at)
	if err != nil {
		return stockRow{}, false, err
	}
	*msgs = append(*msgs, m)
	// Alerts fire in the same write as the change, so concurrent writers
	// produce exactly one alert per crossing.
	fired, next := inventory.EvaluateAlerts(r.flags, r.Available, r.LowStockThreshold, s.hysteresis)
	for _, typ := range fired {
		a, m, err := inventory.AlertMessage(typ, r.Levels, at)
		if err != nil {
			return stockRow{}, false, err
		}
		a.At = stamp(a.At)
		push(t, &s.alerts, a)
		*msgs = append(*msgs, m)
	}
	r.flags = next
	set(t, s.stock, c.sku, r)
	return r, true, nil
}

// Levels returns a SKU's stock.
func (s *Store) Levels(ctx context.Context, sku string) (inventory.Levels, error) {
	if err := s.read(ctx); err != nil {
		return inventory.Levels{}, err
	}
	defer s.mu.RUnlock()
	r, ok := s.stock[sku]
	if !ok {
		return inventory.Levels{}, fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, sku)
	}
	return r.Levels, nil
}

// Reserve holds every item or none (inventory.Store).
func (s *Store) Reserve(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) error {
	items, err := inventory.CheckReservation(id, items, ttl)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		now := s.now()
		if r, ok := s.reservations[id]; ok {
			if r.state == inventory.StateReleased {
				return fmt.Errorf("%w: %s was released", inventory.ErrReservationClosed, id)
			}
			return nil // replay of a reservation that holds or sold its stock
		}
		set(t, s.reservations, id, reservation{state: inventory.StateHeld, items: items, expires: stamp(now.Add(ttl))})
		var msgs []event.Message
		for _, it := range items {
			_, ok, err := s.apply(t, change{
				kind: kindReserve, eventType: inventory.TypeReserved, reason: "reserve", ref: id,
				sku: it.SKU, reserved: it.Qty, guard: func(r stockRow) bool { return r.Available >= it.Qty },
			}, now, &msgs)
			if err != nil {
				return err
			}
			if !ok {
				cur, known := s.stock[it.SKU]
				if !known {
					return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, it.SKU)
				}
				return &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: cur.Available}
			}
		}
		return s.enqueue(t, msgs)
	})
}

// Commit sells a held reservation.
func (s *Store) Commit(ctx context.Context, id string) error {
	return s.closeReservation(ctx, id, inventory.StateCommitted)
}

// Release returns a held reservation's stock.
func (s *Store) Release(ctx context.Context, id string) error {
	return s.closeReservation(ctx, id, inventory.StateReleased)
}

func (s *Store) closeReservation(ctx context.Context, id, to string) error {
	return s.write(ctx, func(t *tx) error {
		now := s.now()
		r, ok := s.reservations[id]
		if replay, err := inventory.Closing(id, ok, r.state, to); replay || err != nil {
			return err
		}
		var msgs []event.Message
		for _, it := range r.items {
			c := change{kind: kindRelease, eventType: inventory.TypeReleased, reason: "release", ref: id, sku: it.SKU, reserved: -it.Qty}
			if to == inventory.StateCommitted {
				c = change{kind: kindCommit, eventType: inventory.TypeCommitted, reason: "sale", ref: id, sku: it.SKU, onHand: -it.Qty, reserved: -it.Qty}
			}
			if _, ok, err := s.apply(t, c, now, &msgs); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, it.SKU)
			}
		}
		r.state = to
		set(t, s.reservations, id, r)
		return s.enqueue(t, msgs)
	})
}

// Adjust changes on_hand. With a ref (a PO id, a count id) it is idempotent:
// a second call with the same ref changes nothing.
func (s *Store) Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (inventory.Levels, error) {
	if delta == 0 || reason == "" {
		return inventory.Levels{}, fmt.Errorf("%w: an adjustment needs a non-zero delta and a reason", inventory.ErrInvalid)
	}
	if err := inventory.CheckStockDelta(delta); err != nil {
		return inventory.Levels{}, err
	}
	ceiling := inventory.OnHandCeiling(delta)
	var out inventory.Levels
	err := s.write(ctx, func(t *tx) error {
		cur, known := s.stock[sku]
		if ref != "" && s.adjustRefs[[2]string{sku, ref}] {
			if !known {
				return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, sku)
			}
			out = cur.Levels
			return nil
		}
		var msgs []event.Message
		r, ok, err := s.apply(t, change{
			kind: inventory.KindAdjust, eventType: inventory.TypeAdjusted, reason: reason, ref: ref,
			sku: sku, onHand: delta,
			// Both bounds are checked so that neither side can overflow.
			guard: func(r stockRow) bool { return r.Reserved-delta <= r.OnHand && r.OnHand <= ceiling },
		}, s.now(), &msgs)
		if err != nil {
			return err
		}
		if !ok {
			if !known {
				return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, sku)
			}
			if cur.OnHand > ceiling {
				return fmt.Errorf("%w: %s has %d on hand; adding %d would pass the limit of %d", inventory.ErrStockLimit, sku, cur.OnHand, delta, money.MaxStock)
			}
			return fmt.Errorf("%w: %s has %d on hand and %d reserved, delta %d", inventory.ErrWouldGoNegative, sku, cur.OnHand, cur.Reserved, delta)
		}
		out = r.Levels
		return s.enqueue(t, msgs)
	})
	return out, err
}

// ExpiredReservations lists held reservations past their TTL, oldest first.
func (s *Store) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	type expired struct {
		id string
		at int64
	}
	var found []expired
	for id, r := range s.reservations {
		if r.state == inventory.StateHeld && r.expires.UnixMicro() < now.UnixMicro() {
			found = append(found, expired{id, r.expires.UnixMicro()})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].at != found[j].at {
			return found[i].at < found[j].at
		}
		return found[i].id < found[j].id
	})
	ids := make([]string, len(found))
	for i, e := range found {
		ids[i] = e.id
	}
	return upTo(ids, limit), nil
}

// Alerts lists stored alerts of a type (all types when empty) at or after
// since, oldest first.
func (s *Store) Alerts(ctx context.Context, typ string, since time.Time, limit int) ([]inventory.Alert, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []inventory.Alert
	for _, a := range s.alerts {
		if a.At.UnixMicro() >= since.UnixMicro() && (typ == "" || a.Type == typ) {
			out = append(out, a)
		}
	}
	return upTo(out, limit), nil
}

// ReserveBatch reserves each request as Reserve would, in order, each in a
// write of its own (inventory.BatchReserver): in memory a write costs
// nothing worth sharing.
func (s *Store) ReserveBatch(ctx context.Context, reqs []inventory.ReserveRequest) []error {
	one := func(r inventory.ReserveRequest) error { return s.Reserve(ctx, r.ID, r.Items, r.TTL) }
	return inventory.ReserveEach(reqs, func(distinct []inventory.ReserveRequest) []error {
		errs := make([]error, len(distinct))
		for i, r := range distinct {
			errs[i] = one(r)
		}
		return errs
	}, one)
}

// NewestAlerts lists stored alerts of a type (all types when empty) newest
// first, below position before (0: from the newest). An alert's position is
// its index in the append-only list plus one.
func (s *Store) NewestAlerts(ctx context.Context, typ string, before int64, limit int) (inventory.AlertPage, error) {
	if err := s.read(ctx); err != nil {
		return inventory.AlertPage{}, err
	}
	defer s.mu.RUnlock()
	start := int64(len(s.alerts))
	if before > 0 && before-1 < start {
		start = before - 1
	}
	page := inventory.AlertPage{Items: []inventory.Alert{}}
	var last int64 // index of the last alert on the page
	for i := start - 1; i >= 0; i-- {
		a := s.alerts[i]
		if typ != "" && a.Type != typ {
			continue
		}
		if len(page.Items) == limit {
			page.Next = last + 1 // another one follows: continue below the last
			break
		}
		page.Items, last = append(page.Items, a), i
	}
	return page, nil
}
