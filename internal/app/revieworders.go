package app

import (
	"context"
	"errors"

	"github.com/mercato-platform/mercato/internal/orders"
)

// reviewOrders answers the reviews service's order look-ups from the
// system of record.
type reviewOrders struct {
	store interface {
		GetOrder(ctx context.Context, id string) (orders.Order, error)
	}
}

// OrderCustomer implements reviews.Orders.
func (r reviewOrders) OrderCustomer(ctx context.Context, id string) (string, bool, error) {
	o, err := r.store.GetOrder(ctx, id)
	if errors.Is(err, orders.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return o.CustomerID, true, nil
}
