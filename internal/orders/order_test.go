package orders_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/orders"
)

// TestStateMachineExhaustive checks every (from, to) pair against the
// allowed transitions: pending -> reserved -> paid -> cancelled, and
// reserved -> failing -> payment_failed. Nothing else.
func TestStateMachineExhaustive(t *testing.T) {
	t.Parallel()
	allowed := map[[2]orders.Status]bool{
		{orders.StatusPending, orders.StatusReserved}:      true,
		{orders.StatusReserved, orders.StatusPaid}:         true,
		{orders.StatusReserved, orders.StatusFailing}:      true,
		{orders.StatusFailing, orders.StatusPaymentFailed}: true,
		{orders.StatusPaid, orders.StatusCancelled}:        true,
	}
	for _, from := range orders.Statuses {
		for _, to := range orders.Statuses {
			want := allowed[[2]orders.Status{from, to}]
			if got := orders.CanTransition(from, to); got != want {
				t.Errorf("%s -> %s: allowed=%v, want %v", from, to, got, want)
			}
			o := orders.Order{Status: from, Version: 3}
			err := o.Move(to, time.Unix(100, 0))
			if want {
				if err != nil || o.Status != to || o.Version != 4 || !o.UpdatedAt.Equal(time.Unix(100, 0)) {
					t.Errorf("%s -> %s: %v %+v", from, to, err, o)
				}
			} else if !errors.Is(err, orders.ErrIllegalTransition) || o.Status != from || o.Version != 3 {
				t.Errorf("%s -> %s: err %v, order %+v; want refused and unchanged", from, to, err, o)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	req := func(token string, items ...orders.RequestItem) orders.Request {
		var r orders.Request
		r.Items = items
		r.Payment.Method, r.Payment.Token = "card", token
		return r
	}
	it := func(sku string, q int64) orders.RequestItem { return orders.RequestItem{SKU: sku, Quantity: q} }
	many := make([]orders.RequestItem, 51)
	for i := range many {
		many[i] = it(strings.Repeat("x", i+1), 1)
	}
	tests := []struct {
		name string
		r    orders.Request
		want error
	}{
		{"ok", req("tok_ok", it("A", 1), it("B", 1000)), nil},
		{"none", req("tok_ok"), orders.ErrInvalid},
		{"51 lines", req("tok_ok", many...), orders.ErrInvalid},
		{"50 lines", req("tok_ok", many[:50]...), nil},
		{"zero", req("tok_ok", it("A", 0)), orders.ErrInvalid},
		{"1001", req("tok_ok", it("A", 1001)), orders.ErrInvalid},
		{"empty sku", req("tok_ok", it("", 1)), orders.ErrInvalid},
		{"duplicate", req("tok_ok", it("A", 1), it("A", 2)), orders.ErrDuplicateSKU},
		{"no token", req("", it("A", 1)), orders.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := orders.Validate(tt.r)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
	r := req("tok_ok", it("A", 1))
	r.Payment.Method = "bank"
	if err := orders.Validate(r); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("method bank: %v", err)
	}
}
