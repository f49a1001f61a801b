package orders

import (
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// Status is an order's state.
type Status string

// Order states.
const (
	StatusPending  Status = "pending"
	StatusReserved Status = "reserved"
	StatusPaid     Status = "paid"
	// StatusFailing is a checkout that will never be paid whose
	// compensation is under way: its authorization is voided and its stock
	// returned, then it ends payment_failed. The move into it is the one
	// decision that a concurrent payment and the recovery loop race for
	// (whoever moves the order out of reserved first wins), and it is
	// durable, so a crash half way through the compensation is finished by
	// the recovery loop.
	StatusFailing       Status = "failing"
	StatusPaymentFailed Status = "payment_failed"
	StatusCancelled     Status = "cancelled"
)

// Statuses lists every state, for exhaustive tests.
var Statuses = []Status{StatusPending, StatusReserved, StatusPaid, StatusFailing, StatusPaymentFailed, StatusCancelled}

// transitions are the only allowed moves. Nothing leaves failing or
// payment_failed for paid: a payment that completes after the decision to
// fail is voided, never recorded.
var transitions = map[Status][]Status{
	StatusPending:  {StatusReserved},
	StatusReserved: {StatusPaid, StatusFailing},
	StatusFailing:  {StatusPaymentFailed},
	StatusPaid:     {StatusCancelled},
}

// ErrIllegalTransition is returned for a move the state machine forbids.
var ErrIllegalTransition = errors.New("illegal order transition")

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Line is one SKU of an order at its locked-in price.
type Line = event.OrderLine

// Order is a customer's order.
type Order struct {
	ID            string    `json:"id"`
	CustomerID    string    `json:"customer_id"`
	Status        Status    `json:"status"`
	Items         []Line    `json:"items"`
	Total         int64     `json:"total"`
	PaymentID     string    `json:"payment_id,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// PaymentToken is kept to resume an interrupted checkout; never shown.
	PaymentToken string `json:"-"`
	Version      int64  `json:"-"`
}

// Event is the order as its events carry it.
func (o Order) Event() event.Order {
	return event.Order{ID: o.ID, CustomerID: o.CustomerID, Status: string(o.Status), Items: o.Items, Total: o.Total,
		PaymentID: o.PaymentID, FailureReason: o.FailureReason, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// Move changes the status if the state machine allows it.
func (o *Order) Move(to Status, at time.Time) error {
	if !CanTransition(o.Status, to) {
		return fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, o.Status, to)
	}
	o.Status, o.UpdatedAt = to, at.UTC().Truncate(time.Microsecond) // the precision the store keeps
	o.Version++
	return nil
}

// Request is the body of POST /v1/orders.
type Request struct {
	Items   []RequestItem `json:"items"`
	Payment struct {
		Method string `json:"method"`
		Token  string `json:"token"`
	} `json:"payment"`
}

// RequestItem is one requested line.
type RequestItem struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Limits of one order.
const (
	MaxLines    = 50
	MaxQuantity = 1000
)
