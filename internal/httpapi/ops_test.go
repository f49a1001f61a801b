package httpapi_test

import (
	"strings"
	"testing"
)

// Drain fails /readyz at once while the API keeps answering.
func TestDrainFailsReadinessOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if status, body := e.do(t, "GET", "/readyz", ""); status != 200 {
		t.Fatalf("readyz before the drain: %d %v", status, body)
	}
	e.api.Drain()
	if status, body := e.do(t, "GET", "/readyz", ""); status != 503 || body["status"] != "draining" {
		t.Errorf("readyz while draining: %d %v", status, body)
	}
	for _, path := range []string{"/healthz", "/v1/products"} {
		if status, body := e.do(t, "GET", path, ""); status != 200 {
			t.Errorf("%s while draining: %d %v", path, status, body)
		}
	}
}

// Checkouts are counted by outcome: created, replayed, and the error code
// answered, whether the checkout ran or the request was refused before.
func TestCheckoutOutcomesAreCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if status, body := e.do(t, "PUT", "/v1/products/SKU-1", earbuds, admin...); status != 201 {
		t.Fatalf("PUT: %d %v", status, body)
	}
	order := func(key, qty, token string) int {
		status, _ := e.do(t, "POST", "/v1/orders", `{"items":[{"sku":"SKU-1","quantity":`+qty+`}],"payment":{"method":"card","token":"`+token+`"}}`,
			"X-Customer-ID", "c1", "Idempotency-Key", key)
		return status
	}
	for _, o := range []struct {
		key, qty, token string
		want            int
	}{
		{"k1", "1", "tok_ok", 201}, {"k1", "1", "tok_ok", 201}, {"k2", "1000", "tok_ok", 409},
		{"k3", "1", "tok_decline", 402}, {"", "1", "tok_ok", 400},
	} {
		if got := order(o.key, o.qty, o.token); got != o.want {
			t.Fatalf("order %+v: %d", o, got)
		}
	}
	_, _, raw := e.send(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`mercato_checkout_outcomes_total{code="created"} 1`,
		`mercato_checkout_outcomes_total{code="replayed"} 1`,
		`mercato_checkout_outcomes_total{code="insufficient_stock"} 1`,
		`mercato_checkout_outcomes_total{code="payment_declined"} 1`,
		`mercato_checkout_outcomes_total{code="missing_idempotency_key"} 1`,
		`mercato_checkout_outcomes_total{code="checkout_expired"} 0`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
