package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
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

// pageIDs follows next_cursor from path and returns the ids of every item,
// in order, and the number of pages.
func (e *env) pageIDs(t *testing.T, path string, headers ...string) ([]string, int) {
	t.Helper()
	return e.pageField(t, path, "id", headers...)
}

// pageField is pageIDs for any string field of the items.
func (e *env) pageField(t *testing.T, path, field string, headers ...string) ([]string, int) {
	t.Helper()
	var ids []string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := path
	for pages := 1; ; pages++ {
		status, body := e.do(t, "GET", next, "", headers...)
		if status != 200 {
			t.Fatalf("GET %s: %d %v", next, status, body)
		}
		for _, it := range body["items"].([]any) {
			ids = append(ids, it.(map[string]any)[field].(string))
		}
		c, _ := body["next_cursor"].(string)
		if c == "" {
			return ids, pages
		}
		if pages > 50 {
			t.Fatalf("GET %s: paging does not end", path)
		}
		next = path + sep + "cursor=" + url.QueryEscape(c)
	}
}

func TestAlertsNewestFirstPaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Each SKU fires low_stock (available 1 < 2) then out_of_stock (0).
	for i := range 4 {
		sku := fmt.Sprintf("AL-%d", i)
		body := `{"name":"n","category":"c","base_price":1000,"price_floor":1000,"price_ceiling":1000,"stock":2,"low_stock_threshold":2}`
		if status, b := e.do(t, "PUT", "/v1/products/"+sku, body, admin...); status != 201 {
			t.Fatalf("%d %v", status, b)
		}
		for range 2 {
			if status, b := e.do(t, "POST", "/v1/inventory/"+sku+"/adjustments", `{"delta":-1,"reason":"damage"}`, admin...); status != 200 {
				t.Fatalf("%d %v", status, b)
			}
		}
	}
	oldest, pages := e.pageIDs(t, "/v1/alerts")
	if len(oldest) != 8 || pages != 1 {
		t.Fatalf("oldest first: %d alerts in %d pages", len(oldest), pages)
	}
	newest, pages := e.pageIDs(t, "/v1/alerts?order=newest&limit=3")
	want := slices.Clone(oldest)
	slices.Reverse(want)
	if !slices.Equal(newest, want) || pages != 3 {
		t.Fatalf("newest first = %v in %d pages, want %v in 3", newest, pages, want)
	}
	outs, _ := e.pageIDs(t, "/v1/alerts?order=newest&type=out_of_stock&limit=1")
	if len(outs) != 4 || outs[0] != want[0] {
		t.Fatalf("newest out_of_stock = %v", outs)
	}
	_, body := e.do(t, "GET", "/v1/alerts?order=newest&limit=1", "")
	first := body["items"].([]any)[0].(map[string]any)
	if first["sku"] != "AL-3" || first["type"] != "out_of_stock" {
		t.Fatalf("newest alert = %v", first)
	}
	for _, tc := range []struct{ q, code string }{
		{"order=sideways", "invalid_sort_order"},
		{"order=newest&cursor=!!", "invalid_cursor"},
		{"order=newest&cursor=LTE", "invalid_cursor"}, // "-1"
		{"cursor=MQ", "invalid_cursor"},               // a cursor without order=newest
		{"order=newest&since=2026-01-01T00:00:00Z", "invalid_since"},
		{"order=newest&limit=1001", "invalid_limit"},
		{"order=newest&type=nope", "invalid_input"},
	} {
		status, body := e.do(t, "GET", "/v1/alerts?"+tc.q, "")
		if status != 400 || (tc.code != "invalid_input" && errCode(body) != tc.code) {
			t.Errorf("%s: %d %v, want 400 %s", tc.q, status, body, tc.code)
		}
	}
}

func TestOrdersListNewestFirstAdminOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 1000, 100)
	var placed []string
	for i := range 5 {
		tok := "tok_ok"
		if i == 2 {
			tok = "tok_decline"
		}
		status, raw, _ := e.order(t, fmt.Sprintf("c%d", i%2), fmt.Sprintf("k%d", i), orderBody(tok, "A", 1))
		if status != 201 && status != 402 {
			t.Fatalf("order %d: %d %s", i, status, raw)
		}
		var o struct {
			ID    string `json:"id"`
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if o.ID == "" { // the declined one: its id is in the message
			f := strings.Fields(o.Error.Message)
			o.ID = f[slices.Index(f, "order")+1]
		}
		placed = append(placed, o.ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	slices.Reverse(placed)
	got, pages := e.pageIDs(t, "/v1/orders?limit=2", admin...)
	if !slices.Equal(got, placed) || pages != 3 {
		t.Fatalf("orders = %v in %d pages, want %v in 3", got, pages, placed)
	}
	failed, _ := e.pageIDs(t, "/v1/orders?status=payment_failed", admin...)
	if len(failed) != 1 || failed[0] != placed[2] {
		t.Fatalf("payment_failed = %v, want [%s]", failed, placed[2])
	}
	_, body := e.do(t, "GET", "/v1/orders?limit=1", "", admin...)
	o := body["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "customer_id", "status", "items", "total", "payment_id", "created_at"} {
		if _, ok := o[k]; !ok {
			t.Errorf("order has no %s: %v", k, o)
		}
	}
	for _, tc := range []struct {
		name    string
		q       string
		headers []string
		status  int
		code    string
	}{
		{"customer", "", []string{"X-Customer-ID", "c0"}, 403, "forbidden"},
		{"nobody", "", nil, 401, "unauthorized"},
		{"wrong token", "", []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"bad status", "?status=lost", admin, 400, "invalid_status"},
		{"bad cursor", "?cursor=eHl6", admin, 400, "invalid_cursor"},
		{"bad limit", "?limit=501", admin, 400, "invalid_limit"},
	} {
		status, body := e.do(t, "GET", "/v1/orders"+tc.q, "", tc.headers...)
		if status != tc.status || errCode(body) != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
}

func TestOrderTimelineFromItsEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "A", 1000, 10)
	status, raw, _ := e.order(t, "c1", "k1", orderBody("tok_ok", "A", 2))
	if status != 201 {
		t.Fatalf("%d %s", status, raw)
	}
	var o struct{ ID string }
	_ = json.Unmarshal(raw, &o)
	cust := []string{"X-Customer-ID", "c1"}
	if status, b := e.do(t, "POST", "/v1/orders/"+o.ID+"/cancel", "", cust...); status != 200 {
		t.Fatalf("cancel: %d %v", status, b)
	}
	timeline := func(headers ...string) (int, []string, map[string]any) {
		status, body := e.do(t, "GET", "/v1/orders/"+o.ID+"/timeline", "", headers...)
		var types []string
		if evs, ok := body["events"].([]any); ok {
			var last time.Time
			for _, ev := range evs {
				m := ev.(map[string]any)
				at, err := time.Parse(time.RFC3339Nano, m["at"].(string))
				if err != nil || at.Before(last) || m["detail"] == "" {
					t.Errorf("event %v out of order or without detail", m)
				}
				last = at
				types = append(types, m["type"].(string))
			}
		}
		return status, types, body
	}
	for _, h := range [][]string{cust, admin} {
		status, types, body := timeline(h...)
		if status != 200 || body["order_id"] != o.ID || fmt.Sprint(types) != "[created reserved paid cancelled refunded]" {
			t.Fatalf("timeline (%s): %d %v %v", h[0], status, types, body)
		}
	}
	if status, _, body := timeline("X-Customer-ID", "c2"); status != 404 || errCode(body) != "order_not_found" {
		t.Errorf("another customer: %d %v", status, body)
	}
	if status, _, _ := timeline(); status != 401 {
		t.Errorf("nobody: %d", status)
	}

	status, raw, _ = e.order(t, "c1", "k2", orderBody("tok_decline", "A", 1))
	if status != 402 {
		t.Fatalf("%d %s", status, raw)
	}
	_, body := e.do(t, "GET", "/v1/orders?status=payment_failed", "", admin...)
	failed := body["items"].([]any)[0].(map[string]any)["id"].(string)
	_, b := e.do(t, "GET", "/v1/orders/"+failed+"/timeline", "", cust...)
	var types []string
	for _, ev := range b["events"].([]any) {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	if fmt.Sprint(types) != "[created reserved payment_failed]" {
		t.Errorf("declined timeline = %v", b)
	}
}

func TestOverviewToday(t *testing.T) {
	t.Parallel()
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	checkout := orders.NewService(s, prices{s}, s, payments.NewSimulated(payments.SimulatedOptions{}), orders.Options{})
	api := httpapi.New(httpapi.Options{AdminToken: token, Catalog: catalog.NewService(s, nil, nil),
		Inventory: inventory.NewService(s, s, nil, nil), Orders: checkout, Version: "test",
		OutboxBacklog: s.OutboxBacklog,
		ConsumerLag: func(context.Context) ([]httpapi.GroupLag, error) {
			return []httpapi.GroupLag{{Group: "pricing", Lag: 7}}, nil
		}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, api: api, store: s}

	if status, b := e.do(t, "PUT", "/v1/products/SKU-1", earbuds, admin...); status != 201 { // 12900, unit cost 7000
		t.Fatalf("%d %v", status, b)
	}
	e.product(t, "B", 1000, 1) // no unit cost
	for i, tc := range []struct {
		body   string
		status int
	}{
		{orderBody("tok_ok", "SKU-1", 2), 201},
		{orderBody("tok_ok", "B", 1), 201},
		{orderBody("tok_decline", "SKU-1", 1), 402},
		{orderBody("tok_ok", "B", 1), 409}, // out of stock
	} {
		if status, raw, _ := e.order(t, "c1", fmt.Sprint("k", i), tc.body); status != tc.status {
			t.Fatalf("order %d: %d %s", i, status, raw)
		}
	}
	status, raw := e.raw(t, "/v1/overview", admin...)
	if status != 200 {
		t.Fatalf("overview: %d %s", status, raw)
	}
	var o struct {
		Timezone    string           `json:"timezone"`
		Day         string           `json:"day"`
		Orders      int64            `json:"orders_today"`
		Revenue     int64            `json:"revenue_today"`
		Cost        int64            `json:"cost_today"`
		Margin      *float64         `json:"gross_margin_today"`
		Failed      int64            `json:"payments_failed_today"`
		FailureRate float64          `json:"payment_failure_rate"`
		Refusals    int64            `json:"out_of_stock_refusals_today"`
		Backlog     *int64           `json:"outbox_backlog"`
		ConsumerLag []map[string]any `json:"consumer_lag"`
		PerMinute   []struct {
			Minute  time.Time `json:"minute"`
			Orders  int64     `json:"orders"`
			Revenue int64     `json:"revenue"`
		} `json:"per_minute"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	kst := time.FixedZone("KST", 9*3600)
	if o.Timezone != "Asia/Seoul" || (o.Day != time.Now().In(kst).Format(time.DateOnly) && o.Day != time.Now().Add(-time.Minute).In(kst).Format(time.DateOnly)) {
		t.Errorf("day = %s %s", o.Timezone, o.Day)
	}
	if o.Orders != 2 || o.Revenue != 26800 || o.Cost != 14000 || o.Failed != 1 || o.Refusals != 1 {
		t.Errorf("overview = %s", raw)
	}
	if o.Margin == nil || *o.Margin < 0.457 || *o.Margin > 0.458 { // (25800 - 14000) / 25800
		t.Errorf("gross margin = %v", o.Margin)
	}
	if o.FailureRate < 0.333 || o.FailureRate > 0.334 {
		t.Errorf("failure rate = %v", o.FailureRate)
	}
	if o.Backlog == nil || *o.Backlog < 1 { // nothing relays in this test
		t.Errorf("outbox backlog = %v", o.Backlog)
	}
	if len(o.ConsumerLag) != 1 || o.ConsumerLag[0]["group"] != "pricing" || o.ConsumerLag[0]["lag"] != 7.0 {
		t.Errorf("consumer lag = %v", o.ConsumerLag)
	}
	var orders, revenue int64
	for i, m := range o.PerMinute {
		if i > 0 && !m.Minute.Equal(o.PerMinute[i-1].Minute.Add(time.Minute)) {
			t.Fatalf("minutes not consecutive: %v", o.PerMinute)
		}
		orders, revenue = orders+m.Orders, revenue+m.Revenue
	}
	if len(o.PerMinute) != 60 || orders != 2 || revenue != 26800 {
		t.Errorf("per minute: %d minutes, %d orders, %d revenue", len(o.PerMinute), orders, revenue)
	}
	for _, tc := range []struct {
		headers []string
		status  int
		code    string
	}{
		{[]string{"X-Customer-ID", "c1"}, 403, "forbidden"},
		{nil, 401, "unauthorized"},
	} {
		if status, body := e.do(t, "GET", "/v1/overview", "", tc.headers...); status != tc.status || errCode(body) != tc.code {
			t.Errorf("%v: %d %v", tc.headers, status, body)
		}
	}
}

func (e *env) raw(t *testing.T, path string, headers ...string) (int, []byte) {
	t.Helper()
	status, _, body := e.send(t, "GET", path, "", headers)
	return status, body
}
