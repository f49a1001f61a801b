package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
)

func postOrder(client *http.Client, base, customer, key, sku string) (int, error) {
	body := fmt.Sprintf(`{"items":[{"sku":%q,"quantity":1}],"payment":{"method":"card","token":"tok_ok"}}`, sku)
	req, _ := http.NewRequest("POST", base+"/v1/orders", strings.NewReader(body))
	req.Header.Set("X-Customer-ID", customer)
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// countPurchases reads commerce.purchases and counts distinct event ids for a SKU.
func countPurchases(t *testing.T, seed, sku string, want int) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumeTopics(event.TopicPurchases), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ids := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	idle := 0
	for time.Now().Before(deadline) && idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		recs := cl.PollFetches(ctx).Records()
		cancel()
		if len(recs) == 0 && len(ids) >= want {
			idle++
		}
		for _, r := range recs {
			env, err := event.Decode(r.Value)
			if err != nil {
				t.Fatalf("purchase record does not decode: %v", err)
			}
			var p event.Purchase
			if err := env.DecodeData(&p); err != nil {
				t.Fatal(err)
			}
			if p.SKU == sku {
				ids[env.ID] = true
			}
		}
	}
	return len(ids)
}

// TestNoOversellEndToEnd: 500 concurrent orders of one unit against stock
// 100 over HTTP: exactly 100 succeed, the rest get 409, stock ends at 0, and
// exactly 100 purchase events reach commerce.purchases.
func TestNoOversellEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a := startApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	if code := call(t, a, "PUT", "/v1/products/FLASH-1", `{"name":"한정판 운동화","category":"shoes","base_price":159000,"price_floor":129000,"price_ceiling":199000,"stock":100,"low_stock_threshold":10}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	status := placeConcurrently(t, []string{base}, 500, 64, "FLASH-1")
	if status[201] != 100 || status[409] != 400 {
		t.Fatalf("statuses = %v, want exactly 100 x 201 and 400 x 409", status)
	}
	resp, err := http.Get(base + "/v1/inventory/FLASH-1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `"on_hand":0`) || !strings.Contains(string(raw), `"reserved":0`) {
		t.Errorf("inventory after the sale: %s", raw)
	}
	if n := countPurchases(t, a.KafkaAddr(), "FLASH-1", 100); n != 100 {
		t.Errorf("distinct purchase events = %d, want 100", n)
	}
}

// placeConcurrently posts n one-unit orders of sku, conc at a time, spread
// round-robin over the instances' base URLs, and counts the statuses.
func placeConcurrently(t *testing.T, bases []string, n, conc int, sku string) map[int]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 60 * time.Second}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		status = map[int]int{}
	)
	sem := make(chan struct{}, conc)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			code, err := postOrder(client, bases[i%len(bases)], fmt.Sprintf("cust-%d", i%37), fmt.Sprintf("%s-%d", sku, i), sku)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			status[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return status
}
