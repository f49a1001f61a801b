package httpapi_test

import (
	"context"
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
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
)

// ruleReader is a fixed set of rules.
type ruleReader map[string]pricing.Rule

func (r ruleReader) Rules() []pricing.Rule {
	var out []pricing.Rule
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for k := range r {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, r[c])
	}
	return out
}

func (r ruleReader) Rule(category string) (pricing.Rule, bool) {
	rule, ok := r[category]
	return rule, ok
}

// newPriceEnv is an API with a price book over the store and, when rules is
// not nil, a rule reader.
func newPriceEnv(t *testing.T, rules httpapi.RuleReader) (*env, *pricebook.Book) {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	book := pricebook.NewBook(s, nil, nil)
	api := httpapi.New(httpapi.Options{AdminToken: token, Catalog: catalog.NewService(s, nil, nil),
		Inventory: inventory.NewService(s, s, nil, nil), Prices: book, RuleReader: rules, Version: "test"})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{srv: srv, api: api, store: s}, book
}

func putProduct(t *testing.T, e *env, sku, name, category string, stock, threshold int64) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"category":%q,"base_price":12900,"price_floor":9900,"price_ceiling":15900,"stock":%d,"low_stock_threshold":%d}`,
		name, category, stock, threshold)
	if status, b := e.do(t, "PUT", "/v1/products/"+sku, body, admin...); status != 201 {
		t.Fatalf("put %s: %d %v", sku, status, b)
	}
}

var priceT0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// priceChanges are n step-limited rises of sku, a minute apart; the last
// one is a learn policy decision when learn is set.
func priceChanges(sku string, n int, learn bool) []pricebook.Change {
	var out []pricebook.Change
	cover := 9.2
	avail := int64(60)
	for i := range n {
		r := pricing.Reason{RuleID: "audio@1", DemandRatio: 3.21, UnitsInWindow: 16, StockCoverHours: &cover, Available: &avail,
			TargetPrice: 15000, PreviousPrice: int64(12900 + 10*i), ClippedBy: pricing.ClippedByStep}
		if learn && i == n-1 {
			r.Learn = &pricing.LearnReason{Elasticity: 1.8, ElasticitySD: 0.3, SampledElasticity: 1.8,
				ExpectedUnitsOld: 2.5, ExpectedUnitsNew: 2.25, ObjectiveOld: 100, ObjectiveNew: 120, Objective: "margin", ShockFactor: 1, Evidence: 40}
		}
		out = append(out, pricebook.Change{EventID: fmt.Sprintf("%s-%02d", sku, i), PriceRecord: pricing.PriceRecord{
			SKU: sku, Price: int64(12900 + 10*(i+1)), BasePrice: 12900, UpdatedAt: priceT0.Add(time.Duration(i) * time.Minute), Reason: r}})
	}
	return out
}

func TestListPrices(t *testing.T) {
	t.Parallel()
	e, book := newPriceEnv(t, nil)
	putProduct(t, e, "EAR-01", "Wireless Earbuds", "audio", 100, 10)
	putProduct(t, e, "EAR-02", "무선 이어폰 프로", "audio", 5, 8)
	putProduct(t, e, "CBL-10", "USB-C cable", "cables", 40, 4)
	putProduct(t, e, "CBL-20", "Lightning Cable", "cables", 0, 4)
	putProduct(t, e, "SPK-01", "Bluetooth speaker", "audio", 12, 3)
	if err := book.Apply(context.Background(), priceChanges("EAR-01", 30, true)); err != nil {
		t.Fatal(err)
	}
	if status, b := e.do(t, "POST", "/v1/inventory/EAR-02/adjustments", `{"delta":3,"reason":"count"}`, admin...); status != 200 {
		t.Fatalf("adjust: %d %v", status, b)
	}

	status, body := e.do(t, "GET", "/v1/prices", "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	items := body["items"].([]any)
	if len(items) != 5 || body["next_cursor"] != nil {
		t.Fatalf("list = %v, want all 5 SKUs on one page", body)
	}
	byS := map[string]map[string]any{}
	var order []string
	for _, it := range items {
		m := it.(map[string]any)
		byS[m["sku"].(string)] = m
		order = append(order, m["sku"].(string))
	}
	if fmt.Sprint(order) != "[CBL-10 CBL-20 EAR-01 EAR-02 SPK-01]" {
		t.Errorf("order = %v, want by SKU", order)
	}
	ear := byS["EAR-01"]
	if ear["price"] != 13200.0 || ear["base_price"] != 12900.0 || ear["name"] != "Wireless Earbuds" || ear["category"] != "audio" ||
		ear["available"] != 100.0 || ear["threshold"] != 10.0 || ear["demand_estimate"] != 2.25 {
		t.Errorf("EAR-01 = %v", ear)
	}
	if why := ear["why"]; why != "best expected margin (100 → 120 per hour); elasticity 1.8 ± 0.30 from 40 units; expects 2.2 units per hour; 9 h of stock left; step limit 0.1 %" {
		t.Errorf("EAR-01 why = %q", why)
	}
	if r, _ := ear["reason"].(map[string]any); r["rule_id"] != "audio@1" || r["learn"] == nil {
		t.Errorf("EAR-01 reason = %v", ear["reason"])
	}
	recent := ear["recent"].([]any)
	first, last := recent[0].(map[string]any), recent[len(recent)-1].(map[string]any)
	if len(recent) != 24 || first["price"] != 12970.0 || last["price"] != 13200.0 || last["at"] != priceT0.Add(29*time.Minute).Format(time.RFC3339) {
		t.Errorf("EAR-01 recent = %v, want the last 24 prices, oldest first", recent)
	}
	base := byS["CBL-20"]
	if base["price"] != 12900.0 || base["why"] != "list price: not repriced yet" || base["available"] != 0.0 ||
		len(base["recent"].([]any)) != 0 || base["demand_estimate"] != nil {
		t.Errorf("unpriced CBL-20 = %v", base)
	}
	if byS["EAR-02"]["available"] != 8.0 || byS["EAR-02"]["threshold"] != 8.0 {
		t.Errorf("EAR-02 = %v, want available 8 after the count", byS["EAR-02"])
	}

	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"q in the name ignoring case", "q=CABLE", "[CBL-10 CBL-20]"},
		{"q in the SKU ignoring case", "q=ear-0", "[EAR-01 EAR-02]"},
		{"q in hangul", "q=" + url.QueryEscape("이어폰"), "[EAR-02]"},
		{"q with a wildcard character", "q=" + url.QueryEscape("%"), "[]"},
		{"category", "category=audio", "[EAR-01 EAR-02 SPK-01]"},
		{"category and q", "category=audio&q=b", "[EAR-01 SPK-01]"},
		{"unknown category", "category=toys", "[]"},
	}
	for _, tt := range tests {
		status, body := e.do(t, "GET", "/v1/prices?"+tt.query, "")
		if status != 200 {
			t.Errorf("%s: %d %v", tt.name, status, body)
			continue
		}
		var got []string
		for _, it := range body["items"].([]any) {
			got = append(got, it.(map[string]any)["sku"].(string))
		}
		if got == nil {
			got = []string{}
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, got, tt.want)
		}
	}

	// Paging: every SKU once, in order, with the filters kept.
	paged, _ := e.pageField(t, "/v1/prices?limit=2&category=audio", "sku")
	if fmt.Sprint(paged) != "[EAR-01 EAR-02 SPK-01]" {
		t.Errorf("paged = %v", paged)
	}

	bad := []struct{ query, code string }{
		{"limit=0", "invalid_limit"},
		{"limit=201", "invalid_limit"},
		{"limit=x", "invalid_limit"},
		{"cursor=%21%21", "invalid_cursor"},
		{"q=" + strings.Repeat("a", catalog.MaxSearchRunes+1), "invalid_q"},
		{"q=%FF", "invalid_q"},
	}
	for _, b := range bad {
		if status, body := e.do(t, "GET", "/v1/prices?"+b.query, ""); status != 400 || errCode(body) != b.code {
			t.Errorf("GET /v1/prices?%s = %d %v, want 400 %s", b.query, status, body, b.code)
		}
	}
	if status, body := e.do(t, "GET", "/v1/prices?limit=200", ""); status != 200 || len(body["items"].([]any)) != 5 {
		t.Errorf("limit=200: %d %v", status, body)
	}
}

func TestPriceAndHistoryCarryWhy(t *testing.T) {
	t.Parallel()
	e, book := newPriceEnv(t, nil)
	putProduct(t, e, "EAR-01", "Wireless Earbuds", "audio", 100, 10)
	putProduct(t, e, "SPK-01", "Bluetooth speaker", "audio", 12, 3)
	if err := book.Apply(context.Background(), priceChanges("EAR-01", 3, false)); err != nil {
		t.Fatal(err)
	}
	status, body := e.do(t, "GET", "/v1/prices/EAR-01", "")
	if status != 200 || body["why"] != "demand 3.2× its usual rate; 9 h of stock left; step limit 0.1 %" || body["price"] != 12930.0 {
		t.Errorf("price: %d %v", status, body)
	}
	if _, ok := body["demand_estimate"]; ok {
		t.Errorf("rule policy price has a demand estimate: %v", body)
	}
	status, body = e.do(t, "GET", "/v1/prices/SPK-01", "")
	if status != 200 || body["why"] != "list price: not repriced yet" {
		t.Errorf("unpriced: %d %v", status, body)
	}
	status, body = e.do(t, "GET", "/v1/prices/EAR-01/history", "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 3 {
		t.Fatalf("history: %d %v", status, body)
	}
	for _, it := range items {
		if why, _ := it.(map[string]any)["why"].(string); !strings.HasPrefix(why, "demand 3.2× its usual rate") {
			t.Errorf("history item why = %q", why)
		}
	}
	if status, body := e.do(t, "GET", "/v1/prices/NOPE/history", ""); status != 404 || errCode(body) != "unknown_sku" {
		t.Errorf("unknown history: %d %v", status, body)
	}
}

func TestReadPricingRules(t *testing.T) {
	t.Parallel()
	audio, books := pricing.DefaultRule(), pricing.DefaultRule()
	audio.Category, audio.ID, audio.Frozen = "audio", "audio@1", true
	books.Category, books.ID, books.StepLimit = "books", "books@2", 0.1
	e, _ := newPriceEnv(t, ruleReader{"books": books, "audio": audio})

	status, body := e.do(t, "GET", "/v1/pricing/rules", "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 2 {
		t.Fatalf("rules: %d %v", status, body)
	}
	a, b := items[0].(map[string]any), items[1].(map[string]any)
	if a["category"] != "audio" || a["frozen"] != true || b["category"] != "books" || b["step_limit"] != 0.1 || b["id"] != "books@2" {
		t.Errorf("rules = %v, want audio (frozen) then books", items)
	}
	status, body = e.do(t, "GET", "/v1/pricing/rules/books", "")
	if status != 200 || body["id"] != "books@2" || body["policy"] != "learn" {
		t.Errorf("books: %d %v", status, body)
	}
	status, body = e.do(t, "GET", "/v1/pricing/rules/"+url.PathEscape("home & kitchen"), "")
	if status != 404 || errCode(body) != "rule_not_found" {
		t.Errorf("no rule: %d %v, want 404 rule_not_found", status, body)
	}
	if status, body := e.do(t, "GET", "/v1/pricing/rules/%FF", ""); status != 400 || errCode(body) != "invalid_category" {
		t.Errorf("bad category: %d %v", status, body)
	}

	none, _ := newPriceEnv(t, ruleReader{})
	if status, body := none.do(t, "GET", "/v1/pricing/rules", ""); status != 200 || len(body["items"].([]any)) != 0 {
		t.Errorf("no rules: %d %v, want an empty list", status, body)
	}
	unwired, _ := newPriceEnv(t, nil)
	if status, body := unwired.do(t, "GET", "/v1/pricing/rules/audio", ""); status != 503 || errCode(body) != "pricing_unavailable" {
		t.Errorf("without a reader: %d %v", status, body)
	}
}

// The new routes are in openapi.json with the schemas they name.
func TestOpenAPIDescribesPrices(t *testing.T) {
	t.Parallel()
	e, _ := newPriceEnv(t, nil)
	_, doc := e.do(t, "GET", "/openapi.json", "")
	paths := doc["paths"].(map[string]any)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, p := range []string{"/v1/prices", "/v1/pricing/rules", "/v1/pricing/rules/{category}"} {
		if item, _ := paths[p].(map[string]any); item["get"] == nil {
			t.Errorf("GET %s is not in openapi.json", p)
		}
	}
	for _, rt := range e.api.Routes() {
		if rt.Result != "" && schemas[rt.Result] == nil {
			t.Errorf("%s %s names schema %s, which is not defined", rt.Method, rt.Path, rt.Result)
		}
	}
	price := schemas["Price"].(map[string]any)["properties"].(map[string]any)
	page := schemas["PricePage"].(map[string]any)["properties"].(map[string]any)["items"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"why", "demand_estimate", "reason"} {
		if price[f] == nil || page[f] == nil {
			t.Errorf("Price or PricePage item lacks %s", f)
		}
	}
	for _, f := range []string{"name", "category", "available", "threshold", "recent"} {
		if page[f] == nil {
			t.Errorf("PricePage item lacks %s", f)
		}
	}
}
