package orders

import (
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/payments"
)

const source = "mercato/orders"

// Purchase is the data of a purchase record on commerce.purchases: one per
// order line, emitted when the order is paid, keyed by SKU. Category and
// base price travel with it so the sales lake needs no catalog lookup.
type Purchase struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	OrderID   string `json:"order_id"`
	Category  string `json:"category,omitempty"`
	BasePrice int64  `json:"base_price,omitempty"`
}

// Payment is the data of payment events on commerce.payments.
type Payment struct {
	OrderID         string `json:"order_id"`
	Amount          int64  `json:"amount"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

func msg(topic, typ, subject string, at time.Time, data any) (event.Message, error) {
	env, err := event.New(typ, source, subject, at, data)
	return event.Message{Topic: topic, Envelope: env}, err
}

func orderEvent(typ string, o Order, at time.Time) (event.Message, error) {
	return msg(event.TopicOrders, typ, o.ID, at, o)
}

func collect(builders ...func() (event.Message, error)) ([]event.Message, error) {
	out := make([]event.Message, 0, len(builders))
	for _, b := range builders {
		m, err := b()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func paidEvents(o Order, auth payments.Authorization, at time.Time) ([]event.Message, error) {
	bs := []func() (event.Message, error){
		func() (event.Message, error) { return orderEvent("order.paid", o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, "payment.authorized", o.ID, at, Payment{OrderID: o.ID, Amount: o.Total, AuthorizationID: auth.ID})
		},
	}
	for _, l := range o.Items {
		bs = append(bs, func() (event.Message, error) {
			return msg(event.TopicPurchases, "purchase", l.SKU, at, Purchase{SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, OrderID: o.ID, Category: l.Category, BasePrice: l.BasePrice})
		})
	}
	return collect(bs...)
}

func failedEvents(o Order, reason string, at time.Time) ([]event.Message, error) {
	return collect(
		func() (event.Message, error) { return orderEvent("order.payment_failed", o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, "payment.declined", o.ID, at, Payment{OrderID: o.ID, Amount: o.Total, Reason: reason})
		},
	)
}

func cancelEvents(o Order, at time.Time) ([]event.Message, error) {
	return collect(
		func() (event.Message, error) { return orderEvent("order.cancelled", o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, "payment.refunded", o.ID, at, Payment{OrderID: o.ID, Amount: o.Total, AuthorizationID: o.PaymentID})
		},
	)
}
