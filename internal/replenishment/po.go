package replenishment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// Status is a purchase order's state.
type Status string

// Purchase order states.
const (
	StatusRequested Status = event.PORequested
	StatusConfirmed Status = event.POConfirmed
	StatusShipped   Status = event.POShipped
	StatusReceived  Status = event.POReceived
	StatusCancelled Status = event.POCancelled
)

// Statuses lists every state, for exhaustive tests.
var Statuses = []Status{StatusRequested, StatusConfirmed, StatusShipped, StatusReceived, StatusCancelled}

var transitions = map[Status][]Status{
	StatusRequested: {StatusConfirmed, StatusCancelled},
	StatusConfirmed: {StatusShipped, StatusCancelled},
	StatusShipped:   {StatusReceived, StatusCancelled},
}

// Open reports whether the order is still on its way.
func (s Status) Open() bool {
	return s == StatusRequested || s == StatusConfirmed || s == StatusShipped
}

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Sentinel errors.
var (
	ErrNotFound          = errors.New("purchase order not found")
	ErrIllegalTransition = errors.New("illegal purchase order transition")
	ErrOpenOrderExists   = errors.New("the sku already has an open purchase order")
)

// PurchaseOrder is an order to a supplier.
type PurchaseOrder struct {
	ID         string        `json:"id"`
	SKU        string        `json:"sku"`
	Quantity   int64         `json:"quantity"`
	Status     Status        `json:"status"`
	Supplier   string        `json:"supplier"`
	Urgent     bool          `json:"urgent"`
	CreatedAt  time.Time     `json:"created_at"`
	ExpectedAt time.Time     `json:"expected_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	Reason     Justification `json:"justification"`
	// TriggerEvent is the inventory event that raised it.
	TriggerEvent string `json:"trigger_event,omitempty"`
}

// Event is the purchase order as its events carry it.
func (po PurchaseOrder) Event() event.PurchaseOrder {
	return event.PurchaseOrder{ID: po.ID, SKU: po.SKU, Quantity: po.Quantity, Status: string(po.Status), Supplier: po.Supplier,
		Urgent: po.Urgent, CreatedAt: po.CreatedAt, ExpectedAt: po.ExpectedAt, UpdatedAt: po.UpdatedAt, Reason: po.Reason,
		TriggerEvent: po.TriggerEvent}
}

// Store is the system of record as replenishment needs it.
type Store interface {
	// CreatePurchaseOrder stores po and its events unless its trigger key
	// was seen before (created=false) or the SKU already has an open
	// non-urgent order (ErrOpenOrderExists). on_order rises by its quantity.
	CreatePurchaseOrder(ctx context.Context, po PurchaseOrder, triggerKey string, events []event.Message) (created bool, err error)
	GetPurchaseOrder(ctx context.Context, id string) (PurchaseOrder, error)
	ListPurchaseOrders(ctx context.Context, status Status, sku string, limit int) ([]PurchaseOrder, error)
	OpenPurchaseOrders(ctx context.Context, sku string) ([]PurchaseOrder, error)
	// UpdatePurchaseOrder moves an order under its lock; leaving the open
	// states lowers on_order by its quantity.
	UpdatePurchaseOrder(ctx context.Context, id string, fn func(po *PurchaseOrder) ([]event.Message, error)) (PurchaseOrder, error)
	// RecordDemands records a batch of demand in one transaction, each
	// event id once (a repeat within the batch or of an earlier one adds
	// nothing), and returns how many were new.
	RecordDemands(ctx context.Context, ds []Demand) (int, error)
	// DailyDemand returns units per day for days [from, to), zero days included.
	DailyDemand(ctx context.Context, sku string, from, to time.Time) ([]float64, error)
}

// Demand is units of a SKU sold at an event time, by the event EventID.
type Demand struct {
	EventID, SKU string
	At           time.Time
	Units        int64
}

// FirstOfEach returns ds without the repeats of an event id, keeping each
// id's first demand, in order.
func FirstOfEach(ds []Demand) []Demand {
	seen := make(map[string]bool, len(ds))
	out := make([]Demand, 0, len(ds))
	for _, d := range ds {
		if !seen[d.EventID] {
			seen[d.EventID] = true
			out = append(out, d)
		}
	}
	return out
}

// Event types on commerce.purchase-orders.
const source = "mercato/replenishment"

func poEvent(po PurchaseOrder, at time.Time) (event.Message, error) {
	env, err := event.New(event.TypePurchaseOrderPrefix+string(po.Status), source, po.ID, at, po.Event())
	if err != nil {
		return event.Message{}, fmt.Errorf("building purchase order event: %w", err)
	}
	return event.Message{Topic: event.TopicPurchaseOrders, Envelope: env}, nil
}
