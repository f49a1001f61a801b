package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Runner drives a running Mercato with simulated shoppers over its HTTP API.
type Runner struct {
	Base       string // e.g. http://127.0.0.1:8080
	AdminToken string
	Client     *http.Client
	Model      Model
	Seed       uint64
	// Shoppers bounds the requests in flight; default 16.
	Shoppers int
	// Tick is how often arrivals are drawn; default 100 ms.
	Tick time.Duration
	// Now is the clock the demand model reads; default time.Now.
	Now func() time.Time
}

// Stats is what a run did, beside what the ground truth expected.
type Stats struct {
	// Start is when shoppers began; the run covers [Start, Start+Elapsed).
	Start   time.Time
	Elapsed time.Duration
	// Expected is the orders the model expected over the run at the prices
	// the shoppers saw; Arrived the orders the Poisson draws produced.
	Expected float64
	Arrived  int64
	// Outcomes of the orders placed. OutOfStock is 409 insufficient_stock,
	// Declined 402 payment_declined.
	Paid, Declined, OutOfStock, Cancelled, Failed, Skipped int64
	// Revenue and Margin are what paid orders earned (their unit_price,
	// less the SKU's unit cost for the margin), net of cancellations, in won.
	Revenue, Margin int64
	// Reviews posted, and how many the classifier labelled as the
	// simulator wrote them (the ground truth).
	Reviews, ReviewsAgreed int64
	PerSKU                 map[string]SKUStats
}

// SKUStats is one SKU's share of a run.
type SKUStats struct {
	Expected   float64 `json:"expected"`
	Arrived    int64   `json:"arrived"`
	Paid       int64   `json:"paid"`
	Cancelled  int64   `json:"cancelled"`
	OutOfStock int64   `json:"out_of_stock"`
	Revenue    int64   `json:"revenue"`
	Margin     int64   `json:"margin"`
	Price      int64   `json:"last_price"`
	// StartStock is the stock available when the run began; Prices the
	// price path shoppers saw, from the run's start.
	StartStock int64        `json:"start_stock"`
	Prices     []PricePoint `json:"prices"`
}

type skuState struct {
	p     Product
	price atomic.Int64
}

// Setup creates the model's products (PUT /v1/products/{sku}, admin).
func (r *Runner) Setup(ctx context.Context) error {
	for _, p := range r.Model.Products {
		body, err := json.Marshal(map[string]any{
			"name": p.Name, "category": p.Category, "base_price": p.ListPrice, "price_floor": p.Floor,
			"price_ceiling": p.Ceiling, "stock": p.Stock, "low_stock_threshold": p.Threshold,
			"reorder": p.Reorder,
		})
		if err != nil {
			return err
		}
		status, out, err := r.do(ctx, "PUT", "/v1/products/"+p.SKU, body, "Authorization", "Bearer "+r.AdminToken)
		if err != nil {
			return fmt.Errorf("creating %s: %w", p.SKU, err)
		}
		if status != http.StatusOK && status != http.StatusCreated {
			return fmt.Errorf("creating %s: HTTP %d: %s", p.SKU, status, bytes.TrimSpace(out))
		}
	}
	return nil
}

// Run simulates shoppers until ctx ends, calling report with a snapshot
// every interval (if report is set), and returns the run's stats.
func (r *Runner) Run(ctx context.Context, interval time.Duration, report func(Stats)) Stats {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	tick := r.Tick
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	shoppers := r.Shoppers
	if shoppers <= 0 {
		shoppers = 16
	}
	states := make([]*skuState, len(r.Model.Products))
	st := &stats{per: map[string]*SKUStats{}, cost: map[string]int64{}}
	for i, p := range r.Model.Products {
		states[i] = &skuState{p: p}
		states[i].price.Store(p.ListPrice)
		st.per[p.SKU] = &SKUStats{Price: p.ListPrice, StartStock: r.available(ctx, p)}
		st.cost[p.SKU] = p.Reorder.UnitCost
	}
	start := now()
	st.s.Start = start
	for _, s := range states {
		st.per[s.p.SKU].Prices = []PricePoint{{At: start, Price: s.p.ListPrice}}
	}
	st.now = now
	jobs := make(chan string, 4096) // SKUs whose next shopper arrived
	var wg sync.WaitGroup
	for w := range shoppers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(r.Seed, uint64(w)+1))
			for sku := range jobs {
				r.shop(ctx, rng, st, sku)
			}
		})
	}
	wg.Go(func() { r.watchPrices(ctx, states, st) })
	rng := rand.New(rand.NewPCG(r.Seed, 0))
	t := time.NewTicker(tick)
	defer t.Stop()
	var next time.Time
	if interval > 0 {
		next = start.Add(interval)
	}
	last := start
arrivals:
	for {
		select {
		case <-ctx.Done():
			break arrivals
		case <-t.C:
		}
		at := now()
		minutes := at.Sub(last).Minutes()
		last = at
		for _, s := range states {
			lambda := r.Model.Rate(s.p, s.price.Load(), at) * minutes
			n := poisson(rng, lambda)
			st.arrive(s.p.SKU, lambda, n)
			for range n {
				select {
				case jobs <- s.p.SKU:
				default:
					st.add(&st.s.Skipped) // shoppers are all busy: the API cannot keep up
				}
			}
		}
		if report != nil && !next.IsZero() && !at.Before(next) {
			report(st.snapshot(at.Sub(start)))
			next = next.Add(interval)
		}
	}
	close(jobs)
	wg.Wait()
	return st.snapshot(now().Sub(start))
}

// available is p's available stock now (GET /v1/inventory/{sku}), or its
// initial stock when the API does not say.
func (r *Runner) available(ctx context.Context, p Product) int64 {
	var inv struct {
		Available *int64 `json:"available"`
	}
	if status, err := r.Get(ctx, "/v1/inventory/"+p.SKU, &inv); err != nil || status != http.StatusOK || inv.Available == nil {
		return p.Stock
	}
	return max(*inv.Available, 0)
}

// watchPrices keeps each SKU's price as shoppers see it (GET /v1/prices).
func (r *Runner) watchPrices(ctx context.Context, states []*skuState, st *stats) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, s := range states {
			if ctx.Err() != nil {
				return
			}
			var p struct {
				Price int64 `json:"price"`
			}
			if status, err := r.Get(ctx, "/v1/prices/"+s.p.SKU, &p); err == nil && status == http.StatusOK && p.Price > 0 {
				s.price.Store(p.Price)
				st.price(s.p.SKU, p.Price)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shop places one order and, as the model says, cancels or reviews it.
func (r *Runner) shop(ctx context.Context, rng *rand.Rand, st *stats, sku string) {
	if ctx.Err() != nil {
		return
	}
	customer := fmt.Sprintf("shopper-%d", rng.IntN(5000))
	token := "tok_ok"
	if rng.Float64() < r.Model.DeclineRate {
		token = "tok_decline"
	}
	body := fmt.Sprintf(`{"items":[{"sku":%q,"quantity":1}],"payment":{"method":"card","token":%q}}`, sku, token)
	key := fmt.Sprintf("sim-%016x", rng.Uint64())
	status, out, err := r.do(ctx, "POST", "/v1/orders", []byte(body), "X-Customer-ID", customer, "Idempotency-Key", key)
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		st.add(&st.s.Failed)
		return
	case status == http.StatusCreated:
	case status == http.StatusPaymentRequired:
		st.add(&st.s.Declined)
		return
	case status == http.StatusConflict && errorCode(out) == "insufficient_stock":
		st.outOfStock(sku)
		return
	default:
		st.add(&st.s.Failed)
		return
	}
	var order struct {
		ID    string `json:"id"`
		Total int64  `json:"total"`
	}
	_ = json.Unmarshal(out, &order)
	st.paid(sku, order.Total)
	if order.ID == "" {
		return
	}
	if rng.Float64() < r.Model.CancelRate {
		if status, _, err := r.do(ctx, "POST", "/v1/orders/"+order.ID+"/cancel", nil, "X-Customer-ID", customer); err == nil && status == http.StatusOK {
			st.cancelled(sku, order.Total)
		}
		return
	}
	if rng.Float64() < r.Model.ReviewRate {
		rv := WriteReview(rng, r.Model.PositiveRate)
		body, _ := json.Marshal(map[string]any{"sku": sku, "rating": rv.Rating, "text": rv.Text, "order_id": order.ID})
		status, out, err := r.do(ctx, "POST", "/v1/reviews", body, "X-Customer-ID", customer)
		if err != nil || status != http.StatusCreated {
			return
		}
		var created struct {
			Sentiment struct {
				Label string `json:"label"`
			} `json:"sentiment"`
		}
		_ = json.Unmarshal(out, &created)
		st.review((created.Sentiment.Label == "positive") == rv.Positive)
	}
}

// errorCode is the code of an API error body, or "".
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// Get reads path from the API into v (JSON) and returns the HTTP status.
func (r *Runner) Get(ctx context.Context, path string, v any) (int, error) {
	status, out, err := r.do(ctx, "GET", path, nil)
	if err != nil || status != http.StatusOK {
		return status, err
	}
	return status, json.Unmarshal(out, v)
}

func (r *Runner) do(ctx context.Context, method, path string, body []byte, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

// stats is Stats under a lock.
type stats struct {
	mu   sync.Mutex
	s    Stats
	per  map[string]*SKUStats
	cost map[string]int64 // unit cost by SKU
	now  func() time.Time
}

func (st *stats) add(field *int64) {
	st.mu.Lock()
	*field++
	st.mu.Unlock()
}

func (st *stats) arrive(sku string, expected float64, n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Expected += expected
	st.s.Arrived += int64(n)
	p := st.per[sku]
	p.Expected += expected
	p.Arrived += int64(n)
}

// paid counts a paid order of one unit of sku at total won.
func (st *stats) paid(sku string, total int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	margin := total - st.cost[sku]
	st.s.Paid++
	st.s.Revenue += total
	st.s.Margin += margin
	p := st.per[sku]
	p.Paid++
	p.Revenue += total
	p.Margin += margin
}

// cancelled takes a paid order back out of what the run earned.
func (st *stats) cancelled(sku string, total int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	margin := total - st.cost[sku]
	st.s.Cancelled++
	st.s.Revenue -= total
	st.s.Margin -= margin
	p := st.per[sku]
	p.Cancelled++
	p.Revenue -= total
	p.Margin -= margin
}

func (st *stats) outOfStock(sku string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.OutOfStock++
	st.per[sku].OutOfStock++
}

// price records the price shoppers see of sku from now on.
func (st *stats) price(sku string, price int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.per[sku]
	if p.Price != price {
		p.Prices = append(p.Prices, PricePoint{At: st.now(), Price: price})
	}
	p.Price = price
}

func (st *stats) review(agreed bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Reviews++
	if agreed {
		st.s.ReviewsAgreed++
	}
}

func (st *stats) snapshot(elapsed time.Duration) Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.s
	out.Elapsed = elapsed
	out.PerSKU = make(map[string]SKUStats, len(st.per))
	for k, v := range st.per {
		c := *v
		c.Prices = slices.Clone(v.Prices)
		out.PerSKU[k] = c
	}
	return out
}
