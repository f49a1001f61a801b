package orders

import (
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/payments"
)

const source = "mercato/orders"

func msg(topic, typ, subject string, at time.Time, data any) (event.Message, error) {
	env, err := event.New(typ, source, subject, at, data)
	return event.Message{Topic: topic, Envelope: env}, err
}

func orderEvent(typ string, o Order, at time.Time) (event.Message, error) {
	return msg(event.TopicOrders, typ, o.ID, at, o.Event())
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
		func() (event.Message, error) { return orderEvent(event.TypeOrderPaid, o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, event.TypePaymentAuthorized, o.ID, at, event.Payment{OrderID: o.ID, Amount: o.Total, AuthorizationID: auth.ID})
		},
	}
	for _, l := range o.Items {
		bs = append(bs, func() (event.Message, error) {
			return msg(event.TopicPurchases, event.TypePurchase, l.SKU, at, event.Purchase{SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, OrderID: o.ID, Category: l.Category, BasePrice: l.BasePrice})
		})
	}
	return collect(bs...)
}

func failedEvents(o Order, reason string, at time.Time) ([]event.Message, error) {
	return collect(
		func() (event.Message, error) { return orderEvent(event.TypeOrderPaymentFailed, o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, event.TypePaymentDeclined, o.ID, at, event.Payment{OrderID: o.ID, Amount: o.Total, Reason: reason})
		},
	)
}

func cancelEvents(o Order, at time.Time) ([]event.Message, error) {
	return collect(
		func() (event.Message, error) { return orderEvent(event.TypeOrderCancelled, o, at) },
		func() (event.Message, error) {
			return msg(event.TopicPayments, event.TypePaymentRefunded, o.ID, at, event.Payment{OrderID: o.ID, Amount: o.Total, AuthorizationID: o.PaymentID})
		},
	)
}
