package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeShop is just enough of Mercato's API for the runner: one SKU whose
// price moves to 1200 after a few polls, stock that runs out, a
// purchase order received and an alert.
type fakeShop struct {
	mu        sync.Mutex
	stock     int64
	polls     int
	sold      int64 // won taken, less refunds
	paid      int64
	cancelled int64
	refused   int64
	totals    map[string]int64 // by order id
	at        time.Time        // when the purchase order arrived
}

func (f *fakeShop) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/products/{sku}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reorder Reorder `json:"reorder"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Reorder.UnitCost != 600 || body.Reorder.Supplier != "s" {
			t.Errorf("PUT product: reorder %+v (%v)", body.Reorder, err)
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /v1/inventory/{sku}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		fmt.Fprintf(w, `{"available":%d}`, f.stock)
	})
	mux.HandleFunc("GET /v1/prices/{sku}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.polls++
		fmt.Fprintf(w, `{"price":%d}`, f.price())
	})
	mux.HandleFunc("POST /v1/orders", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.stock == 0 {
			f.refused++
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"code":"insufficient_stock","message":"none left"}}`)
			return
		}
		f.stock--
		f.paid++
		f.sold += f.price()
		id := fmt.Sprintf("o%d", f.paid)
		f.totals[id] = f.price()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"status":"paid","total":%d}`, id, f.price())
	})
	mux.HandleFunc("POST /v1/orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cancelled++
		f.sold -= f.totals[r.PathValue("id")]
		f.stock++
		fmt.Fprint(w, `{}`)
	})
	mux.HandleFunc("POST /v1/reviews", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sentiment":{"label":"positive"}}`)
	})
	mux.HandleFunc("GET /v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") == "" {
			t.Error("alerts asked without since")
		}
		fmt.Fprintf(w, `{"items":[{"at":%q},{"at":"2000-01-01T00:00:00Z"}]}`, time.Now().UTC().Format(time.RFC3339Nano))
	})
	mux.HandleFunc("GET /v1/purchase-orders", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		at := f.at.UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(w, `{"items":[{"sku":"A","quantity":7,"status":"received","created_at":%q,"updated_at":%q}]}`, at, at)
	})
	return mux
}

// price is 1000 for the first two polls, then 1200.
func (f *fakeShop) price() int64 {
	if f.polls <= 2 {
		return 1000
	}
	return 1200
}

func TestRunnerRecordsMoneyPricePathAndPlatform(t *testing.T) {
	t.Parallel()
	f := &fakeShop{stock: 5, at: time.Now(), totals: map[string]int64{}}
	srv := httptest.NewServer(f.handler(t))
	defer srv.Close()
	p := Product{SKU: "A", ListPrice: 1000, Stock: 99, BaseRate: 600, Elasticity: 1,
		Reorder: Reorder{UnitCost: 600, LeadTimeDays: 1, ServiceLevel: 0.95, OrderCost: 20000, Supplier: "s"}}
	m := NewModel([]Product{p})
	m.Hourly = [24]float64{}
	for i := range m.Hourly {
		m.Hourly[i] = 1
	}
	r := &Runner{Base: srv.URL, AdminToken: "x", Model: m, Seed: 1, Shoppers: 2, Tick: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	var reports atomic.Int64
	s := r.Run(ctx, time.Second, func(Stats) { reports.Add(1) })

	f.mu.Lock()
	paid, cancelled, refused, sold := f.paid, f.cancelled, f.refused, f.sold
	f.mu.Unlock()
	k := s.PerSKU["A"]
	// A refusal in flight when the run ends is the shop's and not the runner's.
	if s.Paid != paid || s.Cancelled != cancelled || refused-s.OutOfStock > 2 || s.OutOfStock > refused || s.Revenue != sold ||
		s.Margin != sold-600*(paid-cancelled) || k.Revenue != s.Revenue || k.OutOfStock != s.OutOfStock {
		t.Fatalf("stats %+v, the shop saw paid %d cancelled %d refused %d, took %d", s, paid, cancelled, refused, sold)
	}
	if s.Paid < 5 || s.OutOfStock == 0 || reports.Load() == 0 {
		t.Fatalf("want stock to run out under 600 orders a minute: %+v", s)
	}
	// The path starts at list price when the run does and records the
	// move to 1200 once.
	if k.StartStock != 5 || len(k.Prices) != 2 || !k.Prices[0].At.Equal(s.Start) || k.Prices[0].Price != 1000 ||
		k.Prices[1].Price != 1200 || k.Prices[1].At.Before(s.Start) || k.Price != 1200 {
		t.Fatalf("start stock %d, price path %+v, last price %d", k.StartStock, k.Prices, k.Price)
	}

	pl, err := r.Platform(context.Background(), s.Start.Add(-time.Minute), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if pl.LowStockAlerts.String() != "1" || pl.PurchaseOrdersRaised.N != 1 || pl.PurchaseOrdersReceived.N != 1 ||
		len(pl.Deliveries["A"]) != 1 || pl.Deliveries["A"][0].Units != 7 {
		t.Fatalf("platform %+v", pl)
	}
}
