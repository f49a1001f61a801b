package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/replenishment"
)

// TestLowStockRaisesPurchaseOrderAndReceivingRestocks drives the
// replenishment role through the API: a stock drop below the reorder point
// raises one purchase order, and receiving it adds its quantity once.
func TestLowStockRaisesPurchaseOrderAndReceivingRestocks(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Replenishment.SimulatedSupplier = false
	cfg.Replenishment.PriorDailyDemand = 10
	a := startApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	if code := call(t, a, "PUT", "/v1/products/NOODLE", `{"name":"라면 5입","category":"grocery","base_price":4500,"price_floor":3900,"price_ceiling":5200,"stock":200,
	  "reorder":{"lead_time_days":3,"service_level":0.95,"order_cost":30000,"unit_cost":3000,"supplier":"nongshim","pack_size":20}}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	if code := call(t, a, "POST", "/v1/inventory/NOODLE/adjustments", `{"delta":-190,"reason":"count"}`); code != 200 {
		t.Fatalf("adjust = %d", code)
	}
	var pos []replenishment.PurchaseOrder
	deadline := time.Now().Add(30 * time.Second)
	for len(pos) == 0 && time.Now().Before(deadline) {
		resp, err := http.Get(base + "/v1/purchase-orders?sku=NOODLE")
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Items []replenishment.PurchaseOrder }
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		pos = page.Items
		time.Sleep(50 * time.Millisecond)
	}
	if len(pos) != 1 {
		t.Fatalf("purchase orders = %+v, want one", pos)
	}
	po := pos[0]
	if po.Status != "requested" || po.Quantity%20 != 0 || po.Supplier != "nongshim" || po.Reason.Position != 10 || po.Reason.ROP <= 10 {
		t.Fatalf("po = %+v", po)
	}
	if code := call(t, a, "POST", "/v1/purchase-orders/"+po.ID+"/transitions", `{"to":"received"}`); code != 409 {
		t.Fatalf("requested -> received = %d, want 409", code)
	}
	for _, to := range []string{"confirmed", "shipped", "received", "received"} {
		if code := call(t, a, "POST", "/v1/purchase-orders/"+po.ID+"/transitions", `{"to":"`+to+`"}`); code != 200 {
			t.Fatalf("-> %s = %d", to, code)
		}
	}
	resp, err := http.Get(base + "/v1/inventory/NOODLE")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		OnHand  int64 `json:"on_hand"`
		OnOrder int64 `json:"on_order"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if l.OnHand != 10+po.Quantity || l.OnOrder != 0 {
		t.Errorf("after receiving: %+v, want on_hand %d and nothing on order", l, 10+po.Quantity)
	}
	req, _ := http.NewRequest("POST", base+"/v1/purchase-orders/"+po.ID+"/transitions", strings.NewReader(`{"to":"cancelled"}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("transition without token: %v %v", resp.StatusCode, err)
	}
}
