package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

const token = "test-admin-token-0123456789"

type env struct {
	srv     *httptest.Server
	api     *httpapi.Server
	store   *sqlstore.Store
	gateway *payments.Simulated
}

func newEnv(t *testing.T, ready ...httpapi.ReadyCheck) *env {
	return newEnvWith(t, payments.SimulatedOptions{SlowDelay: 50 * time.Millisecond}, time.Second, ready...)
}

func newEnvWith(t *testing.T, gw payments.SimulatedOptions, paymentTimeout time.Duration, ready ...httpapi.ReadyCheck) *env {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	gateway := payments.NewSimulated(gw)
	checkout := orders.NewService(s, prices{s}, s, gateway, orders.Options{PaymentTimeout: paymentTimeout})
	api := httpapi.New(httpapi.Options{AdminToken: token, Catalog: catalog.NewService(s, nil, nil),
		Inventory: inventory.NewService(s, s, nil, nil), Orders: checkout, Ready: ready, Version: "test"})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{srv: srv, api: api, store: s, gateway: gateway}
}

type prices struct{ s *sqlstore.Store }

func (p prices) Quote(ctx context.Context, sku string) (orders.Quote, error) {
	cur, err := p.s.GetProduct(ctx, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return orders.Quote{}, orders.ErrUnknownSKU
	}
	return orders.Quote{Price: cur.Product.BasePrice, BasePrice: cur.Product.BasePrice, Category: cur.Product.Category}, err
}

func (e *env) do(t *testing.T, method, path, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	status, header, raw := e.send(t, method, path, body, headers)
	var out map[string]any
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
		}
	}
	return status, out
}

// send makes one request with headers given as name, value pairs, with a
// deadline so a handler that never answers fails the test instead of
// hanging it, and returns the status, headers and body.
func (e *env) send(t *testing.T, method, path, body string, headers []string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

var admin = []string{"Authorization", "Bearer " + token}

const earbuds = `{"name":"무선 이어폰 <script>","category":"audio","base_price":12900,"price_floor":9900,"price_ceiling":15900,"stock":100,"low_stock_threshold":10,
 "reorder":{"lead_time_days":3,"service_level":0.95,"order_cost":50000,"unit_cost":7000,"supplier":"acme"}}`

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestProductLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.do(t, "PUT", "/v1/products/SKU-1", earbuds, admin...)
	if status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	stock := body["stock"].(map[string]any)
	if stock["on_hand"] != 100.0 || stock["available"] != 100.0 || body["version"] != 1.0 {
		t.Errorf("create body = %v", body)
	}
	status, body = e.do(t, "PUT", "/v1/products/SKU-1", strings.Replace(earbuds, `"stock":100`, `"stock":80`, 1), admin...)
	if status != 200 || body["version"] != 2.0 || body["stock"].(map[string]any)["on_hand"] != 80.0 {
		t.Fatalf("update: %d %v", status, body)
	}
	// Omitting stock leaves it alone.
	status, body = e.do(t, "PUT", "/v1/products/SKU-1", strings.Replace(earbuds, `"stock":100,`, ``, 1), admin...)
	if status != 200 || body["stock"].(map[string]any)["on_hand"] != 80.0 {
		t.Fatalf("update without stock: %d %v", status, body)
	}
	status, body = e.do(t, "GET", "/v1/products/SKU-1", "")
	if status != 200 || body["name"] != "무선 이어폰 <script>" || body["category"] != "audio" {
		t.Fatalf("get: %d %v", status, body)
	}
	ledger, err := e.store.Ledger(context.Background(), "SKU-1")
	if err != nil || len(ledger) != 2 || ledger[0].OnHandDelta != 100 || ledger[1].OnHandDelta != -20 {
		t.Errorf("ledger = %+v, %v", ledger, err)
	}
	if status, body = e.do(t, "GET", "/v1/products/NOPE", ""); status != 404 || errCode(body) != "unknown_sku" {
		t.Errorf("unknown: %d %v", status, body)
	}
}

func TestListPagesWithCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 5 {
		cat := map[bool]string{true: "audio", false: "food"}[i%2 == 0]
		body := strings.Replace(earbuds, `"category":"audio"`, `"category":"`+cat+`"`, 1)
		if status, b := e.do(t, "PUT", fmt.Sprintf("/v1/products/P-%d", i), body, admin...); status != 201 {
			t.Fatalf("%d %v", status, b)
		}
	}
	skus, _ := e.pageField(t, "/v1/products?limit=2", "sku")
	if fmt.Sprint(skus) != "[P-0 P-1 P-2 P-3 P-4]" {
		t.Errorf("pages = %v", skus)
	}
	_, body := e.do(t, "GET", "/v1/products?category=food", "")
	if items := body["items"].([]any); len(items) != 2 {
		t.Errorf("food = %v", items)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=!!!", "cursor=Pz8_"} {
		if status, body := e.do(t, "GET", "/v1/products?"+q, ""); status != 400 {
			t.Errorf("%s: %d %v", q, status, body)
		}
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, sku, body string
		headers         []string
		status          int
		code            string
	}{
		{"no token", "SKU-1", earbuds, nil, 401, "unauthorized"},
		{"wrong token", "SKU-1", earbuds, []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"customer is not admin", "SKU-1", earbuds, []string{"X-Customer-ID", "c1"}, 401, "unauthorized"},
		{"malformed", "SKU-1", `{"name":`, admin, 400, "malformed_json"},
		{"syntax", "SKU-1", `{"name" "x"}`, admin, 400, "malformed_json"},
		{"unknown field", "SKU-1", strings.Replace(earbuds, `"name"`, `"colour":"red","name"`, 1), admin, 400, "unknown_field"},
		{"wrong type", "SKU-1", strings.Replace(earbuds, `12900`, `"12900"`, 1), admin, 400, "wrong_type"},
		{"empty", "SKU-1", ``, admin, 400, "empty_body"},
		{"trailing", "SKU-1", earbuds + `{}`, admin, 400, "malformed_json"},
		{"oversize", "SKU-1", `{"name":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`, admin, 413, "body_too_large"},
		{"invalid utf8", "SKU-1", strings.Replace(earbuds, "무선", "\xff\xfe", 1), admin, 400, "invalid_utf8"},
		{"bad sku", "bad%20sku", earbuds, admin, 400, "invalid_sku"},
		{"long sku", strings.Repeat("A", 65), earbuds, admin, 400, "invalid_sku"},
		{"floor above base", "SKU-1", strings.Replace(earbuds, `"price_floor":9900`, `"price_floor":13900`, 1), admin, 400, "invalid_base_price"},
		{"negative price", "SKU-1", strings.Replace(earbuds, `"base_price":12900`, `"base_price":-1`, 1), admin, 400, "invalid_base_price"},
		{"negative stock", "SKU-1", strings.Replace(earbuds, `"stock":100`, `"stock":-1`, 1), admin, 400, "invalid_stock"},
		{"category control char", "SKU-1", strings.Replace(earbuds, `"category":"audio"`, `"category":"au\u0000dio"`, 1), admin, 400, "invalid_category"},
		{"category replacement char", "SKU-1", strings.Replace(earbuds, `"category":"audio"`, `"category":"\ufffd"`, 1), admin, 400, "invalid_category"},
		{"no name", "SKU-1", strings.Replace(earbuds, `"name":"무선 이어폰 <script>"`, `"name":"  "`, 1), admin, 400, "invalid_name"},
		{"service level", "SKU-1", strings.Replace(earbuds, `0.95`, `95`, 1), admin, 400, "invalid_reorder_service_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.do(t, "PUT", "/v1/products/"+tt.sku, tt.body, tt.headers...)
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if msg, _ := body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("error without a message: %v", body)
			}
		})
	}
	t.Cleanup(func() {
		if n, _ := e.store.OutboxBacklog(context.Background()); n != 0 {
			t.Errorf("bad requests wrote %d outbox rows", n)
		}
		if _, err := e.store.GetProduct(context.Background(), "SKU-1"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("bad requests created the product: %v", err)
		}
	})
}

func TestHealthReadinessMetricsAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	down := errors.New("broker unreachable")
	e := newEnv(t, httpapi.ReadyCheck{Name: "store", Check: func(context.Context) error { return nil }},
		httpapi.ReadyCheck{Name: "broker", Check: func(context.Context) error { return down }})
	if status, body := e.do(t, "GET", "/healthz", ""); status != 200 || body["status"] != "ok" {
		t.Errorf("healthz: %d %v", status, body)
	}
	status, body := e.do(t, "GET", "/readyz", "")
	if status != 503 || body["status"] != "not_ready" || body["checks"].(map[string]any)["broker"] != "broker unreachable" {
		t.Errorf("readyz: %d %v", status, body)
	}
	if status, body := e.do(t, "GET", "/v2/nothing", ""); status != 404 || errCode(body) != "not_found" {
		t.Errorf("unknown route: %d %v", status, body)
	}
	if status, body := e.do(t, "DELETE", "/v1/products/SKU-1", "", admin...); status != 405 && status != 404 {
		t.Errorf("wrong method: %d %v", status, body)
	}
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `mercato_http_requests_total{code="503",method="GET",route="/readyz"} 1`) {
		t.Errorf("metrics lack the readyz request:\n%s", raw)
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, doc := e.do(t, "GET", "/openapi.json", "")
	if status != 200 || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi: %d", status)
	}
	paths := doc["paths"].(map[string]any)
	for _, rt := range e.api.Routes() {
		p := strings.ReplaceAll(rt.Path, "{$}", "")
		if p == "" {
			p = "/"
		}
		item, ok := paths[p].(map[string]any)
		if !ok || item[strings.ToLower(rt.Method)] == nil {
			t.Errorf("%s %s is served but not in openapi.json", rt.Method, rt.Path)
		}
	}
	put := paths["/v1/products/{sku}"].(map[string]any)["put"].(map[string]any)
	if put["security"] == nil || put["requestBody"] == nil {
		t.Errorf("PUT product lacks security or body: %v", put)
	}
}

func TestConsoleIsServedWithStrictCSP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "<title>Mercato console</title>") {
		t.Fatalf("console: %d %s", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	// Every asset the page names is served from the binary (no CDN).
	for _, m := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		resp, err := http.Get(e.srv.URL + m[1])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d", m[1], resp.StatusCode)
		}
		if strings.HasSuffix(m[1], "/console.js") {
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
				if strings.Contains(string(body), bad) {
					t.Errorf("console.js uses %s: user text must be set as text", bad)
				}
			}
		}
	}
	if strings.Contains(string(raw), "<script>") || strings.Contains(string(raw), "style=") {
		t.Error("index.html has inline script or style, which the CSP refuses")
	}
}

func TestInventoryAdjustmentsAndAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if status, b := e.do(t, "PUT", "/v1/products/SKU-1", earbuds, admin...); status != 201 {
		t.Fatalf("%d %v", status, b)
	}
	status, body := e.do(t, "GET", "/v1/inventory/SKU-1", "")
	if status != 200 || body["on_hand"] != 100.0 || body["available"] != 100.0 || body["low_stock_threshold"] != 10.0 {
		t.Fatalf("levels: %d %v", status, body)
	}
	tests := []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"no token", `{"delta":-1,"reason":"damage"}`, nil, 401, "unauthorized"},
		{"zero", `{"delta":0,"reason":"count"}`, admin, 400, "invalid_request"},
		{"no reason", `{"delta":5}`, admin, 400, "invalid_request"},
		{"unknown field", `{"delta":5,"reason":"x","why":"y"}`, admin, 400, "unknown_field"},
		{"below zero", `{"delta":-101,"reason":"damage"}`, admin, 409, "would_go_negative"},
	}
	for _, tt := range tests {
		if status, body := e.do(t, "POST", "/v1/inventory/SKU-1/adjustments", tt.body, tt.headers...); status != tt.status || errCode(body) != tt.code {
			t.Errorf("%s: %d %v, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	if status, body := e.do(t, "POST", "/v1/inventory/NOPE/adjustments", `{"delta":1,"reason":"count"}`, admin...); status != 404 || errCode(body) != "unknown_sku" {
		t.Errorf("unknown sku: %d %v", status, body)
	}
	if status, body := e.do(t, "GET", "/v1/inventory/NOPE", ""); status != 404 || errCode(body) != "unknown_sku" {
		t.Errorf("unknown sku levels: %d %v", status, body)
	}
	// Damage 95 units: available 5 < threshold 10 -> one low_stock alert.
	for range 2 {
		status, body = e.do(t, "POST", "/v1/inventory/SKU-1/adjustments", `{"delta":-95,"reason":"water damage","ref":"incident-7"}`, admin...)
		if status != 200 || body["on_hand"] != 5.0 {
			t.Fatalf("adjust: %d %v", status, body)
		}
	}
	status, body = e.do(t, "GET", "/v1/alerts?type=low_stock&since=2026-01-01T00:00:00Z", "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 1 || items[0].(map[string]any)["sku"] != "SKU-1" || items[0].(map[string]any)["available"] != 5.0 {
		t.Fatalf("alerts: %d %v", status, body)
	}
	if _, body = e.do(t, "GET", "/v1/alerts?type=out_of_stock", ""); len(body["items"].([]any)) != 0 {
		t.Errorf("out_of_stock alerts: %v", body)
	}
	for _, q := range []string{"type=nope", "since=yesterday", "limit=0", "limit=x", "limit=1001"} {
		if status, body := e.do(t, "GET", "/v1/alerts?"+q, ""); status != 400 {
			t.Errorf("%s: %d %v", q, status, body)
		}
	}
}

func TestLimitIsCheckedOnEveryListRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/v1/products", "/v1/purchase-orders"} {
		for _, bad := range []string{"0", "x", "100000"} {
			resp, err := http.Get(e.srv.URL + path + "?limit=" + bad)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(raw), `"invalid_limit"`) {
				t.Errorf("%s?limit=%s = %d %s", path, bad, resp.StatusCode, raw)
			}
		}
	}
}
