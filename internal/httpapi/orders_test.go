package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

func (e *env) product(t *testing.T, sku string, price, stock int) {
	t.Helper()
	body := fmt.Sprintf(`{"name":"item %s","category":"c","base_price":%d,"price_floor":%d,"price_ceiling":%d,"stock":%d}`, sku, price, price, price, stock)
	if status, b := e.do(t, "PUT", "/v1/products/"+sku, body, admin...); status != 201 {
		t.Fatalf("product %s: %d %v", sku, status, b)
	}
}

// order posts an order and returns the status and the raw body bytes.
func (e *env) order(t *testing.T, customer, key, body string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/orders", strings.NewReader(body))
	if customer != "" {
		req.Header.Set("X-Customer-ID", customer)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

func orderBody(token string, kv ...any) string {
	var items []string
	for i := 0; i+1 < len(kv); i += 2 {
		items = append(items, fmt.Sprintf(`{"sku":%q,"quantity":%d}`, kv[i], kv[i+1]))
	}
	return fmt.Sprintf(`{"items":[%s],"payment":{"method":"card","token":%q}}`, strings.Join(items, ","), token)
}

func (e *env) levels(t *testing.T, sku string) (onHand, reserved float64) {
	t.Helper()
	_, b := e.do(t, "GET", "/v1/inventory/"+sku, "")
	return b["on_hand"].(float64), b["reserved"].(float64)
}

func TestCheckoutPaysAndReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 12900, 10)
	e.product(t, "B", 3000, 5)
	body := orderBody("tok_ok", "A", 2, "B", 1)
	status, first, _ := e.order(t, "cust-1", "key-1", body)
	if status != 201 || !strings.Contains(string(first), `"status":"paid"`) || !strings.Contains(string(first), `"total":28800`) {
		t.Fatalf("checkout: %d %s", status, first)
	}
	status, again, h := e.order(t, "cust-1", "key-1", body)
	if status != 201 || !bytes.Equal(first, again) || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (replayed=%q)", status, again, h.Get("Idempotent-Replayed"))
	}
	if status, b, _ := e.order(t, "cust-1", "key-1", orderBody("tok_ok", "A", 1)); status != 422 || !strings.Contains(string(b), "idempotency_key_reused") {
		t.Fatalf("reused key: %d %s", status, b)
	}
	// Keys are scoped to the customer.
	if status, _, _ := e.order(t, "cust-2", "key-1", body); status != 201 {
		t.Fatalf("same key, other customer: %d", status)
	}
	if oh, res := e.levels(t, "A"); oh != 6 || res != 0 {
		t.Errorf("A on_hand %v reserved %v, want 6 and 0", oh, res)
	}
	counts, _ := e.store.CountOrders(context.Background())
	if counts[orders.StatusPaid] != 2 {
		t.Errorf("orders = %v, want 2 paid", counts)
	}
}

func TestCheckoutFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 1000, 3)
	tests := []struct {
		name, customer, key, body string
		status                    int
		code                      string
	}{
		{"no customer", "", "k1", orderBody("tok_ok", "A", 1), 401, "missing_customer_id"},
		{"no key", "c", "", orderBody("tok_ok", "A", 1), 400, "missing_idempotency_key"},
		{"long key", "c", strings.Repeat("k", 256), orderBody("tok_ok", "A", 1), 400, "invalid_idempotency_key"},
		{"malformed", "c", "k2", `{"items":`, 400, "malformed_json"},
		{"unknown field", "c", "k3", `{"items":[{"sku":"A","quantity":1}],"payment":{"method":"card","token":"tok_ok"},"coupon":"x"}`, 400, "unknown_field"},
		{"no items", "c", "k4", orderBody("tok_ok"), 400, "invalid_order"},
		{"zero quantity", "c", "k5", orderBody("tok_ok", "A", 0), 400, "invalid_order"},
		{"huge quantity", "c", "k6", orderBody("tok_ok", "A", 1001), 400, "invalid_order"},
		{"duplicate sku", "c", "k7", orderBody("tok_ok", "A", 1, "A", 1), 422, "duplicate_sku"},
		{"not card", "c", "k8", strings.Replace(orderBody("tok_ok", "A", 1), `"card"`, `"cash"`, 1), 400, "invalid_order"},
		{"bad token", "c", "k9", orderBody("tok_what", "A", 1), 422, "invalid_payment_token"},
		{"unknown sku", "c", "k10", orderBody("tok_ok", "NOPE", 1), 404, "unknown_sku"},
		{"insufficient", "c", "k11", orderBody("tok_ok", "A", 4), 409, "insufficient_stock"},
		{"declined", "c", "k12", orderBody("tok_decline", "A", 2), 402, "payment_declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b, _ := e.order(t, tt.customer, tt.key, tt.body)
			if status != tt.status || !strings.Contains(string(b), `"code":"`+tt.code+`"`) {
				t.Errorf("got %d %s, want %d %s", status, b, tt.status, tt.code)
			}
		})
	}
	if oh, res := e.levels(t, "A"); oh != 3 || res != 0 {
		t.Errorf("failures changed stock: on_hand %v reserved %v", oh, res)
	}
	counts, _ := e.store.CountOrders(context.Background())
	if counts[orders.StatusPaymentFailed] != 1 || counts[orders.StatusPaid] != 0 || len(counts) != 1 {
		t.Errorf("orders = %v, want only the declined one, kept as payment_failed", counts)
	}
	// The 409 is replayed for the same key; a decline too.
	if status, _, h := e.order(t, "c", "k11", orderBody("tok_ok", "A", 4)); status != 409 || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed 409: %d", status)
	}
}

func TestGatewayTimeoutReleasesStockAndChargesNothing(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, payments.SimulatedOptions{SlowDelay: 2 * time.Second}, 100*time.Millisecond)
	e.product(t, "A", 1000, 5)
	status, b, h := e.order(t, "c", "slow-1", orderBody("tok_slow", "A", 2))
	if status != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(b), "payment_gateway_unavailable") {
		t.Fatalf("timeout: %d %s %v", status, b, h)
	}
	if oh, res := e.levels(t, "A"); oh != 5 || res != 0 {
		t.Errorf("stock after timeout: on_hand %v reserved %v", oh, res)
	}
	ids, _ := e.store.StaleOrders(context.Background(), orders.StatusPaymentFailed, time.Now().Add(time.Hour), 10)
	if len(ids) != 1 || e.gateway.Charged(ids[0]) != 0 {
		t.Errorf("failed orders %v; a timed-out payment must be voided", ids)
	}
	// 5xx answers are not stored: the retry runs again.
	if status, _, h := e.order(t, "c", "slow-1", orderBody("tok_slow", "A", 2)); status != 503 || h.Get("Idempotent-Replayed") != "" {
		t.Errorf("retry after 503: %d replayed=%q", status, h.Get("Idempotent-Replayed"))
	}
}

func TestConcurrentDuplicatesMakeOneOrder(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, payments.SimulatedOptions{SlowDelay: 200 * time.Millisecond}, time.Second)
	e.product(t, "A", 1000, 100)
	body := orderBody("tok_slow", "A", 1)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		bodies   = map[string]bool{}
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, _ := e.order(t, "c", "dup-key", body)
			mu.Lock()
			defer mu.Unlock()
			statuses[status]++
			if status == 201 {
				bodies[string(b)] = true
			}
		}()
	}
	wg.Wait()
	if statuses[201]+statuses[409] != 50 || statuses[201] < 1 || len(bodies) != 1 {
		t.Fatalf("statuses %v, %d distinct 201 bodies; want 201 replays or 409 request_in_progress only", statuses, len(bodies))
	}
	counts, _ := e.store.CountOrders(context.Background())
	if counts[orders.StatusPaid] != 1 {
		t.Fatalf("orders = %v, want exactly one", counts)
	}
	if oh, _ := e.levels(t, "A"); oh != 99 {
		t.Errorf("on_hand %v, want 99 (one charge, one sale)", oh)
	}
}

func TestOrderVisibilityAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 1000, 10)
	_, b, _ := e.order(t, "alice", "k1", orderBody("tok_ok", "A", 3))
	id := between(string(b), `"id":"`, `"`)
	if status, body := e.do(t, "GET", "/v1/orders/"+id, "", "X-Customer-ID", "alice"); status != 200 || body["status"] != "paid" {
		t.Fatalf("owner: %d %v", status, body)
	}
	if status, body := e.do(t, "GET", "/v1/orders/"+id, "", "X-Customer-ID", "mallory"); status != 404 || errCode(body) != "order_not_found" {
		t.Fatalf("other customer: %d %v", status, body)
	}
	if status, _ := e.do(t, "GET", "/v1/orders/"+id, ""); status != 401 {
		t.Fatalf("anonymous: %d", status)
	}
	if status, _ := e.do(t, "GET", "/v1/orders/"+id, "", admin...); status != 200 {
		t.Fatalf("admin: %d", status)
	}
	if status, _ := e.do(t, "POST", "/v1/orders/"+id+"/cancel", "", "X-Customer-ID", "mallory"); status != 404 {
		t.Fatalf("cancel by another customer: %d", status)
	}
	for range 2 {
		status, body := e.do(t, "POST", "/v1/orders/"+id+"/cancel", "", "X-Customer-ID", "alice")
		if status != 200 || body["status"] != "cancelled" {
			t.Fatalf("cancel: %d %v", status, body)
		}
	}
	if oh, _ := e.levels(t, "A"); oh != 10 {
		t.Errorf("on_hand after cancel = %v, want 10", oh)
	}
	if e.gateway.Charged(id) != 0 {
		t.Error("cancelled order still charged")
	}
	_, b, _ = e.order(t, "alice", "k2", orderBody("tok_decline", "A", 1))
	failed := between(string(b), "order ", " ")
	if status, body := e.do(t, "POST", "/v1/orders/"+failed+"/cancel", "", "X-Customer-ID", "alice"); status != 409 || errCode(body) != "not_cancellable" {
		t.Errorf("cancel payment_failed: %d %v", status, body)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}

// A retry while the first request with its key still runs is told so, in
// the API's error shape, and runs nothing.
func TestCheckoutKeyInProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 1000, 5)
	body := orderBody("tok_ok", "A", 1)
	// The first request claimed the key and is still running.
	hash := idempotency.Hash("POST", "/v1/orders", []byte(body))
	if _, err := e.store.Begin(context.Background(), "c", "busy", hash, time.Now(), time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	status, b, h := e.order(t, "c", "busy", body)
	want := `{"error":{"code":"request_in_progress","message":"a request with this Idempotency-Key is still being processed; retry later"}}` + "\n"
	if status != 409 || string(b) != want || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("got %d %s, want 409 %s", status, b, want)
	}
	if oh, res := e.levels(t, "A"); oh != 5 || res != 0 {
		t.Errorf("a request in progress ran again: on_hand %v reserved %v", oh, res)
	}
}
