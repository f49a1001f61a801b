package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/money"
)

// boundedProduct is a product body with the given prices and stock.
func boundedProduct(base, floor, ceiling, stock, threshold int64) string {
	return fmt.Sprintf(`{"name":"earbuds","category":"audio","base_price":%d,"price_floor":%d,"price_ceiling":%d,"stock":%d,"low_stock_threshold":%d}`,
		base, floor, ceiling, stock, threshold)
}

func TestProductAmountsAndStockAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const maxInt64 = int64(^uint64(0) >> 1)
	amount, stock := money.MaxAmount, money.MaxStock
	tests := []struct {
		name, body string
		code       string
	}{
		{"base price above the maximum", boundedProduct(amount+1, 1, amount+1, 1, 0), "invalid_base_price"},
		{"base price int64 max", boundedProduct(maxInt64, 1, maxInt64, 1, 0), "invalid_base_price"},
		{"floor above the maximum", boundedProduct(amount, amount+1, amount, 1, 0), "invalid_price_floor"},
		{"ceiling above the maximum", boundedProduct(10, 1, amount+1, 1, 0), "invalid_price_ceiling"},
		{"stock above the maximum", boundedProduct(10, 1, 20, stock+1, 0), "invalid_stock"},
		{"stock int64 max", boundedProduct(10, 1, 20, maxInt64, 0), "invalid_stock"},
		{"threshold above the maximum", boundedProduct(10, 1, 20, 1, stock+1), "invalid_low_stock_threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.do(t, "PUT", "/v1/products/BOUNDED-1", tt.body, admin...)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if status != 400 || errCode(body) != tt.code {
				t.Errorf("got %d %v, want 400 %s", status, body, tt.code)
			}
			field := strings.TrimPrefix(tt.code, "invalid_")
			if !strings.Contains(msg, field) || !strings.Contains(msg, "1000000000000") {
				t.Errorf("message %q does not name %s and the maximum", msg, field)
			}
		})
	}
	t.Cleanup(func() {
		if n, _ := e.store.OutboxBacklog(context.Background()); n != 0 {
			t.Errorf("refused products wrote %d outbox rows", n)
		}
	})
}

func TestProductAtEveryMaximumIsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	amount, stock := money.MaxAmount, money.MaxStock
	if status, body := e.do(t, "PUT", "/v1/products/AT-MAX", boundedProduct(amount, amount, amount, stock, stock), admin...); status != 201 {
		t.Fatalf("a product at every maximum: %d %v", status, body)
	}
	if status, body := e.do(t, "GET", "/v1/inventory/AT-MAX", ""); status != 200 || body["on_hand"] != float64(stock) {
		t.Fatalf("levels: %d %v", status, body)
	}
}

func TestAdjustmentPastTheStockLimitIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	limit := money.MaxStock
	if status, body := e.do(t, "PUT", "/v1/products/FULL", boundedProduct(10, 1, 20, limit, 0), admin...); status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	backlog := func() int64 {
		n, err := e.store.OutboxBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := backlog()
	for _, delta := range []string{"1", "1000000000"} {
		status, body := e.do(t, "POST", "/v1/inventory/FULL/adjustments", `{"delta":`+delta+`,"reason":"receive"}`, admin...)
		if status != 422 || errCode(body) != "stock_limit" {
			t.Errorf("delta %s past the limit: %d %v, want 422 stock_limit", delta, status, body)
		}
	}
	if status, body := e.do(t, "GET", "/v1/inventory/FULL", ""); status != 200 || body["on_hand"] != float64(limit) {
		t.Errorf("levels after refused adjustments: %d %v", status, body)
	}
	if n := backlog(); n != before {
		t.Errorf("refused adjustments wrote %d outbox rows", n-before)
	}
	if status, body := e.do(t, "POST", "/v1/inventory/FULL/adjustments", `{"delta":-3,"reason":"damage"}`, admin...); status != 200 || body["on_hand"] != float64(limit-3) {
		t.Fatalf("adjusting down: %d %v", status, body)
	}
	if status, body := e.do(t, "POST", "/v1/inventory/FULL/adjustments", `{"delta":3,"reason":"count"}`, admin...); status != 200 || body["on_hand"] != float64(limit) {
		t.Fatalf("adjusting back up to the limit: %d %v", status, body)
	}
}
