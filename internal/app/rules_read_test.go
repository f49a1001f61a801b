package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// A rule PUT through the API is read back by GET /v1/pricing/rules once it
// reached the rules topic, and GET /v1/prices lists the catalogue with each
// SKU's reason for a person.
func TestPricingRuleIsReadBackAndPricesListed(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t))
	if code := call(t, a, "PUT", "/v1/pricing/rules/tea", `{"policy":"rule","step_limit":0.07,"frozen":true}`); code != 200 {
		t.Fatalf("PUT rule = %d", code)
	}
	if code := call(t, a, "PUT", "/v1/products/GREEN-TEA", `{"name":"Green tea","category":"tea","base_price":10000,"price_floor":8000,"price_ceiling":15000,"stock":50,"low_stock_threshold":5}`); code != 201 {
		t.Fatalf("PUT product = %d", code)
	}
	get := func(path string, out any) int {
		t.Helper()
		resp, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp.StatusCode
	}
	type rule struct {
		Category  string  `json:"category"`
		StepLimit float64 `json:"step_limit"`
		Frozen    bool    `json:"frozen"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var r rule
		if code := get("/v1/pricing/rules/tea", &r); code == 200 && r.Frozen && r.StepLimit == 0.07 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule never read back: last %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var list struct {
		Items []rule `json:"items"`
	}
	if code := get("/v1/pricing/rules", &list); code != 200 || len(list.Items) != 1 || list.Items[0].Category != "tea" {
		t.Errorf("rules = %d %+v", code, list)
	}
	var page struct {
		Items []struct {
			SKU       string `json:"sku"`
			Price     int64  `json:"price"`
			Why       string `json:"why"`
			Available int64  `json:"available"`
			Threshold int64  `json:"threshold"`
		} `json:"items"`
	}
	if code := get("/v1/prices?q=green", &page); code != 200 || len(page.Items) != 1 {
		t.Fatalf("prices = %d %+v", code, page)
	}
	if it := page.Items[0]; it.SKU != "GREEN-TEA" || it.Price != 10000 || it.Why == "" || it.Available != 50 || it.Threshold != 5 {
		t.Errorf("item = %+v", it)
	}
}
