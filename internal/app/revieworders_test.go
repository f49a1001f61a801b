package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mercato-platform/mercato/internal/orders"
)

type orderStore map[string]orders.Order

func (s orderStore) GetOrder(_ context.Context, id string) (orders.Order, error) {
	if id == "broken" {
		return orders.Order{}, errors.New("disk on fire")
	}
	o, ok := s[id]
	if !ok {
		return orders.Order{}, fmt.Errorf("%w: %s", orders.ErrNotFound, id)
	}
	return o, nil
}

func TestReviewOrdersTellsWhosOrderItIs(t *testing.T) {
	t.Parallel()
	lookup := reviewOrders{orderStore{"ord_1": {ID: "ord_1", CustomerID: "c1"}}}
	tests := []struct {
		id, customer string
		ok, err      bool
	}{
		{"ord_1", "c1", true, false},
		{"ord_2", "", false, false},
		{"broken", "", false, true},
	}
	for _, tt := range tests {
		customer, ok, err := lookup.OrderCustomer(context.Background(), tt.id)
		if customer != tt.customer || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("OrderCustomer(%s) = %q %v %v", tt.id, customer, ok, err)
		}
	}
}
