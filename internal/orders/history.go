package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// MaxPage bounds one page of GET /v1/orders.
const MaxPage = 500

// ListQuery selects a page of orders, newest first.
type ListQuery struct {
	Status Status    // every status when empty
	After  *Position // continue below this order; nil starts at the newest
	Limit  int
}

// Position is where a newest-first listing continues: orders are ordered
// by creation time, then id, both descending.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// StoredEvent is one event of an order (order.* and payment.*) as the store
// kept it, in the transaction of the change it reports.
type StoredEvent struct {
	ID   string
	Type string
	At   time.Time
	Data json.RawMessage
}

// Reader is the part of the order store the console reads.
type Reader interface {
	// ListOrders returns up to q.Limit orders, newest first, below q.After.
	ListOrders(ctx context.Context, q ListQuery) ([]Order, error)
	// OrderEvents returns an order's stored events in the order they were
	// written.
	OrderEvents(ctx context.Context, id string) ([]StoredEvent, error)
}

// Refusal is a checkout refused before any order was stored.
type Refusal struct {
	Reason string // RefusalOutOfStock
	SKUs   []string
	At     time.Time
}

// RefusalOutOfStock is a checkout refused because a SKU had too little
// stock available.
const RefusalOutOfStock = "out_of_stock"

// RefusalRecorder is an optional capability of a Store: it keeps refused
// checkouts, which leave no order behind, so they can be counted later.
type RefusalRecorder interface {
	RecordRefusal(ctx context.Context, r Refusal) error
}

// ValidStatus reports whether s is an order status.
func ValidStatus(s Status) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// List returns a page of orders, newest first, and where the next page
// starts (nil after the last page).
func (s *Service) List(ctx context.Context, q ListQuery) ([]Order, *Position, error) {
	r, ok := s.store.(Reader)
	if !ok {
		return nil, nil, errors.New("listing orders: the order store cannot list")
	}
	if q.Status != "" && !ValidStatus(q.Status) {
		return nil, nil, fmt.Errorf("%w: status must be one of %v", ErrInvalid, Statuses)
	}
	if q.Limit < 1 || q.Limit > MaxPage {
		return nil, nil, fmt.Errorf("%w: limit must be 1-%d", ErrInvalid, MaxPage)
	}
	limit := q.Limit
	q.Limit++ // one more says whether another page follows
	page, err := r.ListOrders(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if len(page) <= limit {
		return page, nil, nil
	}
	page = page[:limit]
	last := page[limit-1]
	return page, &Position{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// TimelineEntry is one step of an order's life.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"` // created, reserved, paid, payment_failed, cancelled, refunded
	Detail string    `json:"detail"`
}

// Timeline is an order's life, oldest step first.
type Timeline struct {
	OrderID string          `json:"order_id"`
	Events  []TimelineEntry `json:"events"`
}

// Timeline tells o's life from its stored events. An order stored before
// its events were kept (or by a store that keeps none) is told from its
// own record instead: created and reserved at its creation, its current
// status at its last update.
func (s *Service) Timeline(ctx context.Context, o Order) (Timeline, error) {
	t := Timeline{OrderID: o.ID, Events: []TimelineEntry{}}
	var events []StoredEvent
	if r, ok := s.store.(Reader); ok {
		var err error
		if events, err = r.OrderEvents(ctx, o.ID); err != nil {
			return Timeline{}, err
		}
	}
	if len(events) == 0 {
		t.Events = recordTimeline(o)
		return t, nil
	}
	for _, e := range events {
		entries, err := timelineEntries(e)
		if err != nil {
			return Timeline{}, fmt.Errorf("reading event %s of order %s: %w", e.ID, o.ID, err)
		}
		t.Events = append(t.Events, entries...)
	}
	return t, nil
}

// timelineEntries turns one stored event into the steps it reports. The
// payment events that come with order.paid and order.payment_failed say
// nothing more than those; payment.refunded is its own step.
func timelineEntries(e StoredEvent) ([]TimelineEntry, error) {
	at := e.At.UTC()
	switch e.Type {
	case event.TypeOrderCreated:
		var o event.Order
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return nil, err
		}
		out := []TimelineEntry{{At: at, Type: "created", Detail: fmt.Sprintf("%s, total %d", lineSummary(o.Items), o.Total)}}
		if o.Status == string(StatusReserved) {
			out = append(out, TimelineEntry{At: at, Type: "reserved", Detail: "stock reserved: " + itemList(o.Items)})
		}
		return out, nil
	case event.TypeOrderPaid:
		var o event.Order
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return nil, err
		}
		return []TimelineEntry{{At: at, Type: "paid", Detail: fmt.Sprintf("paid %d, payment %s", o.Total, o.PaymentID)}}, nil
	case event.TypeOrderPaymentFailed:
		var o event.Order
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return nil, err
		}
		return []TimelineEntry{{At: at, Type: "payment_failed", Detail: "payment failed (" + o.FailureReason + "), stock released"}}, nil
	case event.TypeOrderCancelled:
		return []TimelineEntry{{At: at, Type: "cancelled", Detail: "cancelled, stock returned"}}, nil
	case event.TypePaymentRefunded:
		var p event.Payment
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, err
		}
		return []TimelineEntry{{At: at, Type: "refunded", Detail: fmt.Sprintf("refunded %d", p.Amount)}}, nil
	}
	return nil, nil
}

// recordTimeline tells an order's life from its record alone.
func recordTimeline(o Order) []TimelineEntry {
	created := o.CreatedAt.UTC()
	out := []TimelineEntry{{At: created, Type: "created", Detail: fmt.Sprintf("%s, total %d", lineSummary(o.Items), o.Total)}}
	if o.Status == StatusPending {
		return out
	}
	out = append(out, TimelineEntry{At: created, Type: "reserved", Detail: "stock reserved: " + itemList(o.Items)})
	at := o.UpdatedAt.UTC()
	switch o.Status {
	case StatusPaid:
		out = append(out, TimelineEntry{At: at, Type: "paid", Detail: fmt.Sprintf("paid %d, payment %s", o.Total, o.PaymentID)})
	case StatusPaymentFailed:
		out = append(out, TimelineEntry{At: at, Type: "payment_failed", Detail: "payment failed (" + o.FailureReason + "), stock released"})
	case StatusCancelled:
		// The record keeps only the last change: the payment is known to
		// have happened, not when.
		out = append(out,
			TimelineEntry{At: at, Type: "cancelled", Detail: "cancelled, stock returned"},
			TimelineEntry{At: at, Type: "refunded", Detail: fmt.Sprintf("refunded %d", o.Total)})
	}
	return out
}

func lineSummary(items []event.OrderLine) string {
	var units int64
	for _, l := range items {
		units += l.Quantity
	}
	lines := "lines"
	if len(items) == 1 {
		lines = "line"
	}
	return fmt.Sprintf("%d %s, %d units", len(items), lines, units)
}

func itemList(items []event.OrderLine) string {
	parts := make([]string, len(items))
	for i, l := range items {
		parts[i] = fmt.Sprintf("%s×%d", l.SKU, l.Quantity)
	}
	return strings.Join(parts, ", ")
}

// recordRefusal keeps a checkout refused for stock, when the store can.
// Counting is not worth failing the answer for: a failure is logged.
func (s *Service) recordRefusal(ctx context.Context, err error, items []inventory.Item) {
	var insufficient *inventory.InsufficientStockError
	rec, ok := s.store.(RefusalRecorder)
	if !ok || !errors.As(err, &insufficient) {
		return
	}
	skus := make([]string, len(items))
	for i, it := range items {
		skus[i] = it.SKU
	}
	if err := rec.RecordRefusal(ctx, Refusal{Reason: RefusalOutOfStock, SKUs: skus, At: s.o.Now().UTC()}); err != nil {
		s.o.Logger.Warn("recording a checkout refused for stock", "sku", insufficient.SKU, "err", err)
	}
}

// Sales are an interval's checkout figures, by the orders created in it.
// Money is in minor units.
type Sales struct {
	// Paid counts orders that were paid (those cancelled since included).
	Paid int64
	// Revenue is the total of the orders still paid: a cancelled order is
	// refunded.
	Revenue int64
	// Cost is what the units of the orders still paid cost, at each
	// product's reorder unit cost now (order lines do not carry a cost);
	// CostedRevenue is the revenue of those lines. Lines of products
	// without a unit cost are in neither.
	Cost, CostedRevenue int64
	// PaymentFailed counts orders whose payment failed (or is failing).
	PaymentFailed int64
	// OutOfStockRefusals counts checkouts refused for stock, which leave no
	// order (see RefusalRecorder).
	OutOfStockRefusals int64
}

// MinuteSales are one minute's paid orders and revenue (as in Sales).
type MinuteSales struct {
	Minute  time.Time
	Orders  int64
	Revenue int64
}

// SalesReader is an optional capability of a Store: checkout figures read
// from the stored orders.
type SalesReader interface {
	// Sales sums the orders created in [from, to).
	Sales(ctx context.Context, from, to time.Time) (Sales, error)
	// SalesByMinute sums the orders created in [from, to) by minute (UTC
	// minute boundaries), oldest first; minutes without orders are left out.
	SalesByMinute(ctx context.Context, from, to time.Time) ([]MinuteSales, error)
}

// ErrNoSales is returned by the figures of a store that cannot sum sales.
var ErrNoSales = errors.New("the order store cannot sum sales")

// Sales sums the orders created in [from, to).
func (s *Service) Sales(ctx context.Context, from, to time.Time) (Sales, error) {
	r, ok := s.store.(SalesReader)
	if !ok {
		return Sales{}, ErrNoSales
	}
	return r.Sales(ctx, from, to)
}

// SalesByMinute is the per-minute series of the orders created in
// [from, to), every minute present, oldest first.
func (s *Service) SalesByMinute(ctx context.Context, from, to time.Time) ([]MinuteSales, error) {
	r, ok := s.store.(SalesReader)
	if !ok {
		return nil, ErrNoSales
	}
	from, to = from.UTC().Truncate(time.Minute), to.UTC().Truncate(time.Minute)
	got, err := r.SalesByMinute(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]MinuteSales, 0, int(to.Sub(from)/time.Minute))
	i := 0
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		ms := MinuteSales{Minute: m}
		for i < len(got) && got[i].Minute.Before(m) {
			i++
		}
		if i < len(got) && got[i].Minute.Equal(m) {
			ms = got[i]
		}
		out = append(out, ms)
	}
	return out, nil
}
