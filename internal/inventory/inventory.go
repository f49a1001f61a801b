package inventory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/money"
)

// Sentinel errors; the HTTP layer maps them in one place.
var (
	ErrUnknownSKU         = errors.New("unknown sku")
	ErrWouldGoNegative    = errors.New("change would leave on-hand below reserved")
	ErrUnknownReservation = errors.New("unknown reservation")
	// ErrReservationClosed: the reservation was released (or expired) and
	// cannot be committed, or was committed and cannot be released.
	ErrReservationClosed = errors.New("reservation already closed")
	ErrInvalid           = errors.New("invalid inventory request")
	// ErrStockLimit: a change would take a SKU's on-hand above
	// money.MaxStock, or moves more than that at once.
	ErrStockLimit = errors.New("stock limit exceeded")
)

// InsufficientStockError says which SKU lacked availability.
type InsufficientStockError struct {
	SKU       string
	Requested int64
	Available int64
}

func (e *InsufficientStockError) Error() string {
	return fmt.Sprintf("insufficient stock for %s: requested %d, available %d", e.SKU, e.Requested, e.Available)
}

// ErrInsufficientStock is matched by errors.Is for any InsufficientStockError.
var ErrInsufficientStock = errors.New("insufficient stock")

// Is makes errors.Is(err, ErrInsufficientStock) true.
func (e *InsufficientStockError) Is(target error) bool { return target == ErrInsufficientStock }

// Item is a quantity of one SKU.
type Item struct {
	SKU string `json:"sku"`
	Qty int64  `json:"quantity"`
}

// Levels is a SKU's stock.
type Levels struct {
	SKU               string `json:"sku"`
	OnHand            int64  `json:"on_hand"`
	Reserved          int64  `json:"reserved"`
	Available         int64  `json:"available"`
	OnOrder           int64  `json:"on_order"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
	// Version is the system of record's change counter for the SKU's stock
	// row as of these levels: a cache that loaded version v already holds
	// every change up to v (not part of the API).
	Version int64 `json:"-"`
}

// Reservation states.
const (
	StateHeld      = "held"
	StateCommitted = "committed"
	StateReleased  = "released"
)

// Closing says what closing a reservation (found says whether it exists, in
// state from) to state to means: replay is true when it is already in that
// state (an idempotent retry, nothing to do); an unknown or otherwise closed
// reservation is an error.
func Closing(id string, found bool, from, to string) (replay bool, err error) {
	switch {
	case !found:
		return false, fmt.Errorf("%w: %s", ErrUnknownReservation, id)
	case from == to:
		return true, nil
	case from != StateHeld:
		return false, fmt.Errorf("%w: %s is %s", ErrReservationClosed, id, from)
	}
	return false, nil
}

// Store is the inventory port. Every operation is atomic and idempotent on
// its id; every change is written to the ledger with its events.
type Store interface {
	// Reserve holds all items or none; ErrInsufficientStock names the SKU.
	Reserve(ctx context.Context, reservationID string, items []Item, ttl time.Duration) error
	// Commit turns a held reservation into a sale: on_hand and reserved drop.
	Commit(ctx context.Context, reservationID string) error
	// Release returns a held reservation's stock.
	Release(ctx context.Context, reservationID string) error
	// Adjust changes on_hand (receiving, counts, damage); never below
	// reserved (ErrWouldGoNegative) nor above money.MaxStock (ErrStockLimit).
	Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (Levels, error)
	Levels(ctx context.Context, sku string) (Levels, error)
	// ExpiredReservations lists held reservations whose TTL passed.
	ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// OnHandCeiling returns the largest on-hand a SKU may have for delta to be
// added to it without passing money.MaxStock: stores put it in the same
// conditional update that applies delta, so the check is atomic. A
// decrease fits any on-hand (it may bring down stock stored above the
// bound before the bound existed); a change larger than money.MaxStock fits
// none. Callers check CheckStockDelta first.
func OnHandCeiling(delta int64) int64 {
	if delta <= 0 {
		return math.MaxInt64
	}
	return money.MaxStock - delta
}

// CheckStockDelta refuses a change of on-hand larger than money.MaxStock
// either way: no SKU can need it, and it keeps stock arithmetic in range.
func CheckStockDelta(delta int64) error {
	if delta > money.MaxStock || delta < -money.MaxStock {
		return fmt.Errorf("%w: a stock change is at most ±%d units, got %d", ErrStockLimit, money.MaxStock, delta)
	}
	return nil
}

// ReserveRequest is one reservation of a batch (see BatchReserver).
type ReserveRequest struct {
	ID    string
	Items []Item
	TTL   time.Duration
}

// BatchReserver is an optional capability of a Store: many reservations in
// one durable write, each with the outcome Reserve would have given it.
type BatchReserver interface {
	ReserveBatch(ctx context.Context, reqs []ReserveRequest) []error
}

// CheckReservation validates a reservation and returns its items normalised.
func CheckReservation(id string, items []Item, ttl time.Duration) ([]Item, error) {
	items, err := Normalize(items)
	if err != nil {
		return nil, err
	}
	if id == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: a reservation needs an id and a positive ttl", ErrInvalid)
	}
	return items, nil
}

// ReserveEach answers a batch as Reserve would answer each request one by
// one. batch decides the valid requests with distinct ids, normalised and in
// order; an invalid request gets its CheckReservation error; a request that
// repeats an earlier one's id (a retry racing its first call) gets that
// one's outcome when it was held, as a replay would, and is tried alone
// after the batch when it was refused.
func ReserveEach(reqs []ReserveRequest, batch func([]ReserveRequest) []error, alone func(ReserveRequest) error) []error {
	errs := make([]error, len(reqs))
	distinct := make([]ReserveRequest, 0, len(reqs))
	at := make([]int, 0, len(reqs))
	first := make(map[string]int, len(reqs)) // id -> index of its first request
	var repeats []int
	for i, r := range reqs {
		items, err := CheckReservation(r.ID, r.Items, r.TTL)
		if err != nil {
			errs[i] = err
			continue
		}
		if _, ok := first[r.ID]; ok {
			repeats = append(repeats, i)
			continue
		}
		first[r.ID] = i
		distinct = append(distinct, ReserveRequest{ID: r.ID, Items: items, TTL: r.TTL})
		at = append(at, i)
	}
	if len(distinct) > 0 {
		for k, err := range batch(distinct) {
			errs[at[k]] = err
		}
	}
	for _, i := range repeats {
		if errs[i] = errs[first[reqs[i].ID]]; errs[i] != nil {
			errs[i] = alone(reqs[i])
		}
	}
	return errs
}

// MaxItems bounds one reservation.
const MaxItems = 50

// Normalize validates items and returns them sorted by SKU (the lock order).
func Normalize(items []Item) ([]Item, error) {
	if len(items) == 0 || len(items) > MaxItems {
		return nil, fmt.Errorf("%w: a reservation holds 1-%d items, got %d", ErrInvalid, MaxItems, len(items))
	}
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b Item) int {
		switch {
		case a.SKU < b.SKU:
			return -1
		case a.SKU > b.SKU:
			return 1
		}
		return 0
	})
	for i, it := range out {
		if it.SKU == "" {
			return nil, fmt.Errorf("%w: empty sku", ErrInvalid)
		}
		if it.Qty < 1 || it.Qty > 1_000_000 {
			return nil, fmt.Errorf("%w: quantity of %s must be 1-1000000, got %d", ErrInvalid, it.SKU, it.Qty)
		}
		if i > 0 && out[i-1].SKU == it.SKU {
			return nil, fmt.Errorf("%w: %s appears twice", ErrInvalid, it.SKU)
		}
	}
	return out, nil
}

// Alert types.
const (
	AlertLowStock   = "low_stock"
	AlertOutOfStock = "out_of_stock"
)

// AlertFlags remember which alerts have fired and not yet re-armed.
type AlertFlags struct {
	Low bool
	Out bool
}

// DefaultHysteresis re-arms a low-stock alert at threshold + 10 %.
const DefaultHysteresis = 0.10

// EvaluateAlerts is the edge-triggered alert rule, shared by every adapter
// (the Redis Lua script mirrors it). A low_stock alert fires when available
// falls below the threshold and re-arms only once available is back at or
// above threshold + ceil(threshold × hysteresis); out_of_stock fires when
// available reaches 0 and re-arms when it is positive again.
func EvaluateAlerts(f AlertFlags, available, threshold int64, hysteresis float64) (fired []string, next AlertFlags) {
	next = f
	if threshold > 0 {
		rearm := threshold + int64(math.Ceil(float64(threshold)*hysteresis))
		switch {
		case !f.Low && available < threshold:
			fired = append(fired, AlertLowStock)
			next.Low = true
		case f.Low && available >= rearm:
			next.Low = false
		}
	}
	switch {
	case !f.Out && available <= 0:
		fired = append(fired, AlertOutOfStock)
		next.Out = true
	case f.Out && available > 0:
		next.Out = false
	}
	return fired, next
}

// Alert is a stored alert.
type Alert = event.Alert

// Event types on commerce.inventory and commerce.alerts.
const (
	TypeReserved  = event.TypeStockReserved
	TypeCommitted = event.TypeStockCommitted
	TypeReleased  = event.TypeStockReleased
	TypeAdjusted  = event.TypeStockAdjusted
	TypeAlert     = event.TypeAlert
	Source        = "mercato/inventory"
)

// Event is the data of every commerce.inventory event.
type Event = event.StockChanged

// LevelsMessage builds the commerce.inventory event for a change.
func LevelsMessage(typ string, l Levels, delta, reservedDelta int64, reason, ref string, at time.Time) (event.Message, error) {
	env, err := event.New(typ, Source, l.SKU, at, Event{
		SKU: l.SKU, OnHand: l.OnHand, Reserved: l.Reserved, Available: l.OnHand - l.Reserved, OnOrder: l.OnOrder,
		Delta: delta, ReservedDelta: reservedDelta, Reason: reason, Ref: ref, LowStockThreshold: l.LowStockThreshold,
	})
	return event.Message{Topic: event.TopicInventory, Envelope: env}, err
}

// AlertMessage builds the commerce.alerts event; the alert's id is the event id.
func AlertMessage(typ string, l Levels, at time.Time) (Alert, event.Message, error) {
	a := Alert{ID: event.NewID(), Type: typ, SKU: l.SKU, Available: l.OnHand - l.Reserved, Threshold: l.LowStockThreshold, At: at.UTC()}
	env, err := event.New(TypeAlert, Source, l.SKU, at, a)
	if err != nil {
		return Alert{}, event.Message{}, err
	}
	env.ID = a.ID
	return a, event.Message{Topic: event.TopicAlerts, Envelope: env}, nil
}
