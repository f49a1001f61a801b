package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

func do(t *testing.T, method, url, token, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// TestOrdersFlowIntoTheLakeAndTheDailyReport drives checkout over HTTP and
// follows the events through the lake-sink into Parquet and a report run
// on DuckDB, read back as JSON, CSV and HTML.
func TestOrdersFlowIntoTheLakeAndTheDailyReport(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Lake.FlushInterval = 200 * time.Millisecond
	a := startApp(t, cfg)
	base, token := "http://"+a.HTTPAddr(), a.AdminToken()

	if resp, raw := do(t, "PUT", base+"/v1/products/BOOK-1", token, `{"name":"Go 프로그래밍","category":"books","base_price":12000,"price_floor":12000,"price_ceiling":12000,"stock":100}`); resp.StatusCode != 201 {
		t.Fatalf("PUT product = %d %s", resp.StatusCode, raw)
	}
	order := func(key, tok string, qty int) (int, map[string]any) {
		resp, raw := do(t, "POST", base+"/v1/orders", "", fmt.Sprintf(`{"items":[{"sku":"BOOK-1","quantity":%d}],"payment":{"method":"card","token":%q}}`, qty, tok),
			"X-Customer-ID", "cus_1", "Idempotency-Key", key)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	var paidIDs []string
	for i := range 4 {
		code, o := order(fmt.Sprintf("k%d", i), "tok_ok", i+1) // 1+2+3+4 = 10 units
		if code != 201 {
			t.Fatalf("order %d = %d %v", i, code, o)
		}
		paidIDs = append(paidIDs, o["id"].(string))
	}
	if code, _ := order("declined", "tok_decline", 1); code != 402 {
		t.Fatalf("declined order = %d", code)
	}
	if resp, raw := do(t, "POST", base+"/v1/orders/"+paidIDs[0]+"/cancel", "", "", "X-Customer-ID", "cus_1"); resp.StatusCode != 200 {
		t.Fatalf("cancel = %d %s", resp.StatusCode, raw)
	}

	today := time.Now().In(cfg.Lake.Location()).Format(time.DateOnly)
	root := cfg.LakeRoot()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := map[string]int64{}
		for _, tbl := range lake.Tables {
			files, _ := lake.Files(root, tbl, today)
			for _, f := range files {
				n, _ := lake.RowCount(f.Path)
				rows[tbl] += n
			}
		}
		// 4 lines; created+paid x4, created+failed, cancelled; 4 authorized, 1 declined, 1 refund.
		if rows[lake.TableSales] == 4 && rows[lake.TableOrders] == 11 && rows[lake.TablePayments] == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lake rows %v", rows)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if resp, _ := do(t, "POST", base+"/v1/reports/sales/runs", "", `{"date":"`+today+`"}`); resp.StatusCode != 401 {
		t.Fatalf("run without the admin token = %d", resp.StatusCode)
	}
	resp, raw := do(t, "POST", base+"/v1/reports/sales/runs", token, `{"date":"`+today+`"}`)
	var run reports.Run
	if err := json.Unmarshal(raw, &run); err != nil || resp.StatusCode != 201 || run.Status != reports.RunSucceeded || run.Engine != "duckdb" || len(run.Inputs) != 3 {
		t.Fatalf("run = %d %s", resp.StatusCode, raw)
	}

	resp, raw = do(t, "GET", base+"/v1/reports/sales/"+today, "", "")
	var rep struct {
		reports.SalesReport
		RunID string `json:"run_id"`
		Stale bool   `json:"stale"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET report = %d %s", resp.StatusCode, raw)
	}
	s := rep.Summary
	if s.Orders != 4 || s.Units != 10 || s.GrossRevenue != 120_000 || s.PaymentsDeclined != 1 || s.Cancellations != 1 ||
		s.RefundedAmount != 12_000 || s.NetRevenue != 108_000 || s.AverageOrderValue != 30_000 || s.PaymentFailureRate != 0.2 {
		t.Fatalf("summary %+v", s)
	}
	if len(rep.TopSKUs) != 1 || rep.TopSKUs[0].SKU != "BOOK-1" || rep.TopSKUs[0].PriceIndex != 1 || rep.ByCategory[0].Category != "books" || rep.RunID != run.ID || rep.Stale {
		t.Fatalf("report %+v", rep)
	}

	resp, raw = do(t, "GET", base+"/v1/reports/sales/"+today+".csv", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(string(raw), "BOOK-1") {
		t.Fatalf("csv = %d %s", resp.StatusCode, raw)
	}
	resp, raw = do(t, "GET", base+"/v1/reports/sales/"+today+".html", "", "")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || strings.Count(string(raw), "<svg") != 3 {
		t.Fatalf("html = %d %q", resp.StatusCode, resp.Header)
	}
	for _, ext := range []string{".json", ".csv", ".html"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "reports", "sales", today+ext)); err != nil {
			t.Errorf("report file: %v", err)
		}
	}
	for path, want := range map[string]int{"/v1/reports/sales/2026-13-40": 400, "/v1/reports/sales/2020-01-01": 404, "/v1/reports/sales/runs": 200} {
		if resp, raw := do(t, "GET", base+path, "", ""); resp.StatusCode != want {
			t.Errorf("GET %s = %d %s, want %d", path, resp.StatusCode, raw, want)
		}
	}
}
