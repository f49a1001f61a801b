package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-platform/mercato/internal/orders"
)

// harness drives one seed's workload and keeps the clients' own record of
// what the platform told them: every attempt of every order, adjustment,
// cancel and bound change, with its times. The checks compare the books
// with this record.
type harness struct {
	cfg    exploreConfig
	base   string
	token  string
	client *http.Client
	seq    atomic.Int64
	// down is set from a kill until the restarted process is ready.
	down atomic.Bool

	mu          sync.Mutex
	skus        []*exploreSKU
	bySKU       map[string]*exploreSKU
	byKey       map[string]*exploreOrder // idempotency scope+"/"+key
	adjustments map[string]*exploreAdjustment
	cancels     map[string]*exploreCancel // by order id
	kills       []time.Time
	statuses    map[string]int // "op status" -> count
	samples     int
	problems    []string
}

type exploreSKU struct {
	sku, category string
	initial       int64
	// mu serializes this SKU's bound changes, so its versions are in order.
	mu       sync.Mutex
	versions []*boundVersion
}

// boundVersion is one PUT of a product's prices. It may be in force from
// the moment it was sent; it is in force for sure from its
// acknowledgement until a later version is sent.
type boundVersion struct {
	base, floor, ceiling int64
	sent, acked          time.Time
	// outcome: "acked" (2xx), "refused" (4xx: never applied) or "unknown"
	// (no answer, or 5xx: applied or not).
	outcome string
}

type exploreOrder struct {
	scope, key string
	body       []byte
	attempts   []*orderAttempt
}

type orderAttempt struct {
	start, end time.Time
	status     int // 0: no answer
	body       []byte
	orderID    string // from a 201, or named by an error message
	order      *orders.Order
}

type exploreAdjustment struct {
	sku, ref string
	delta    int64
	// acked: a 200 answer (it must be in the ledger once); refused: a 4xx
	// (it must not be); otherwise unknown.
	acked, refused bool
}

type exploreCancel struct {
	customer string
	acked    bool
	attempts int
}

func newHarness(cfg exploreConfig, base, token string) *harness {
	return &harness{
		cfg: cfg, base: base, token: token,
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second,
		}},
		bySKU:       map[string]*exploreSKU{},
		byKey:       map[string]*exploreOrder{},
		adjustments: map[string]*exploreAdjustment{},
		cancels:     map[string]*exploreCancel{},
		statuses:    map[string]int{},
	}
}

// violate records a broken invariant.
func (h *harness) violate(format string, a ...any) {
	h.mu.Lock()
	h.problems = append(h.problems, fmt.Sprintf(format, a...))
	h.mu.Unlock()
}

func (h *harness) violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.problems...)
}

func (h *harness) count(op string, status int, body []byte) {
	key := fmt.Sprintf("%s %d", op, status)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if status >= 400 && json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		key += " " + e.Error.Code
	}
	h.mu.Lock()
	h.statuses[key]++
	h.mu.Unlock()
	if status == http.StatusInternalServerError {
		h.violate("%s answered 500", op)
	}
}

func (h *harness) killed(kill func()) {
	h.mu.Lock()
	h.kills = append(h.kills, time.Now())
	h.mu.Unlock()
	h.down.Store(true)
	kill()
}

func (h *harness) restarted() { h.down.Store(false) }

// notSent is the status of a request that never reached the process (its
// connection was refused): it had no effect.
const notSent = -1

// do sends one request and reads its answer; status 0 means no answer (the
// request may have had its effect), notSent that it never left.
func (h *harness) do(ctx context.Context, method, path string, body []byte, header map[string]string) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return 0, nil
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return notSent, nil
	}
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, raw
}

func (h *harness) admin() map[string]string {
	return map[string]string{"Authorization": "Bearer " + h.token}
}

// aggressiveRule makes the pricing role move a category's prices within
// seconds: no cooldown, large steps, a strong demand response.
const aggressiveRule = `{"cooldown_seconds":0,"step_limit":0.5,"demand_weight":1,"max_demand_adjust":0.9,"overstock_weight":0,"price_unit":10,"frozen":%t}`

// setup creates the seed's catalogue and the categories' pricing rules.
func (h *harness) setup() error {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 0x7365747570))
	categories := []string{"explore-a", "explore-b"}
	for _, c := range categories {
		if st, raw := h.do(context.Background(), "PUT", "/v1/pricing/rules/"+c, fmt.Appendf(nil, aggressiveRule, false), h.admin()); st != 200 {
			return fmt.Errorf("PUT rule %s: %d %s", c, st, raw)
		}
	}
	for i := range h.cfg.skus {
		base := int64(100+rng.IntN(2000)) * 10
		s := &exploreSKU{sku: fmt.Sprintf("EXP-%d", i), category: categories[i%len(categories)], initial: int64(100 + rng.IntN(900))}
		v := &boundVersion{base: base, floor: base * 9 / 10 / 10 * 10, ceiling: base * 3 / 2 / 10 * 10, outcome: "acked"}
		body := fmt.Appendf(nil, `{"name":"explore %s","category":%q,"base_price":%d,"price_floor":%d,"price_ceiling":%d,"stock":%d}`,
			s.sku, s.category, v.base, v.floor, v.ceiling, s.initial)
		if st, raw := h.do(context.Background(), "PUT", "/v1/products/"+s.sku, body, h.admin()); st != 201 {
			return fmt.Errorf("PUT product %s: %d %s", s.sku, st, raw)
		}
		s.versions = []*boundVersion{v}
		h.skus = append(h.skus, s)
		h.bySKU[s.sku] = s
	}
	return nil
}

// drive runs the clients, the admin and the stock observer until ctx ends.
func (h *harness) drive(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range h.cfg.clients {
		wg.Go(func() { h.client1(ctx, i) })
	}
	wg.Go(func() { h.adminLoop(ctx) })
	wg.Go(func() { h.observe(ctx) })
	wg.Wait()
}

// pause sleeps, shorter when the process is down (no answer), so clients
// neither spin nor sit idle through a restart.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

var orderIDInMessage = regexp.MustCompile(`\bord_[0-9A-Za-z]+\b`)

// client1 is one customer: new orders, retries of the same key and body,
// cancels of its paid orders and stock adjustments (as the admin).
func (h *harness) client1(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, uint64(i)+1))
	customer := fmt.Sprintf("cust-%d", i)
	var (
		paid    []string        // orders this customer got a 201 for and has not cancelled
		pending []*exploreOrder // no final answer yet
	)
	for ctx.Err() == nil {
		switch r := rng.IntN(100); {
		case r < 7 && len(paid) > 0:
			j := rng.IntN(len(paid))
			id := paid[j]
			paid = append(paid[:j], paid[j+1:]...)
			h.cancel(ctx, customer, id, rng.IntN(5) == 0)
		case r < 13:
			h.adjust(ctx, rng)
		case r < 20 && len(pending) > 0:
			j := rng.IntN(len(pending))
			o := pending[j]
			if a := h.place(ctx, o); a.final() {
				pending = append(pending[:j], pending[j+1:]...)
				if a.status == 201 && !h.cancelAttempted(a.orderID) {
					paid = append(paid, a.orderID)
				}
			}
		default:
			o := h.newOrder(rng, customer)
			var a *orderAttempt
			if rng.IntN(20) == 0 {
				// The same request twice at once: at most one order.
				var wg sync.WaitGroup
				var b *orderAttempt
				wg.Go(func() { b = h.place(ctx, o) })
				a = h.place(ctx, o)
				wg.Wait()
				if !a.final() && b.final() {
					a = b
				}
			} else {
				a = h.place(ctx, o)
			}
			if rng.IntN(7) == 0 && ctx.Err() == nil {
				// A retry after the answer: a replay of it.
				if b := h.place(ctx, o); !a.final() {
					a = b
				}
			}
			switch {
			case a.status == 201:
				paid = append(paid, a.orderID)
			case !a.final():
				pending = append(pending, o)
			}
		}
		if len(pending) > 20 {
			pending = pending[1:]
		}
		if h.down.Load() {
			pause(ctx, time.Duration(20+rng.IntN(80))*time.Millisecond)
		} else {
			pause(ctx, time.Duration(rng.IntN(5))*time.Millisecond)
		}
	}
}

// final reports whether an answer ends the key's story: anything but no
// answer, a request still in progress, and 5xx (a retry may run again).
func (a *orderAttempt) final() bool {
	switch {
	case a.status <= 0 || a.status >= 500:
		return false
	case a.status == http.StatusConflict:
		return !bytes.Contains(a.body, []byte(`"request_in_progress"`))
	}
	return true
}

func (h *harness) newOrder(rng *rand.Rand, customer string) *exploreOrder {
	n := 1 + rng.IntN(min(3, len(h.skus)))
	perm := rng.Perm(len(h.skus))[:n]
	items := make([]string, n)
	for i, j := range perm {
		q := 1 + rng.IntN(3)
		if rng.IntN(25) == 0 {
			q = 5 + rng.IntN(20) // drains stock: insufficient_stock answers
		}
		items[i] = fmt.Sprintf(`{"sku":%q,"quantity":%d}`, h.skus[j].sku, q)
	}
	token := "tok_ok"
	switch w := rng.IntN(h.cfg.tokens[0] + h.cfg.tokens[1] + h.cfg.tokens[2]); {
	case w >= h.cfg.tokens[0]+h.cfg.tokens[1]:
		token = "tok_slow"
	case w >= h.cfg.tokens[0]:
		token = "tok_decline"
	}
	o := &exploreOrder{
		scope: customer,
		key:   fmt.Sprintf("x%d-%d", h.cfg.seed, h.seq.Add(1)),
		body:  fmt.Appendf(nil, `{"items":[%s],"payment":{"method":"card","token":%q}}`, strings.Join(items, ","), token),
	}
	h.mu.Lock()
	h.byKey[o.scope+"/"+o.key] = o
	h.mu.Unlock()
	return o
}

// place sends one attempt of an order and records it.
func (h *harness) place(ctx context.Context, o *exploreOrder) *orderAttempt {
	a := &orderAttempt{start: time.Now()}
	a.status, a.body = h.do(ctx, "POST", "/v1/orders", o.body, map[string]string{"X-Customer-ID": o.scope, "Idempotency-Key": o.key})
	a.end = time.Now()
	if a.status > 0 {
		h.count("POST /v1/orders", a.status, a.body)
	}
	switch {
	case a.status == 201:
		var got orders.Order
		if err := json.Unmarshal(a.body, &got); err != nil || got.ID == "" {
			h.violate("order %s: a 201 whose body is not an order: %v %q", o.key, err, a.body)
		} else {
			a.orderID, a.order = got.ID, &got
		}
	case a.status == 400 || a.status == 404 || a.status == 422:
		h.violate("order %s: %d to a valid request: %s", o.key, a.status, a.body)
	case a.status > 0:
		a.orderID = orderIDInMessage.FindString(string(a.body))
	}
	h.mu.Lock()
	o.attempts = append(o.attempts, a)
	h.mu.Unlock()
	return a
}

func (h *harness) cancelAttempted(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cancels[id] != nil
}

// cancel cancels a paid order, sometimes twice at once.
func (h *harness) cancel(ctx context.Context, customer, id string, twice bool) {
	h.mu.Lock()
	c := h.cancels[id]
	if c == nil {
		c = &exploreCancel{customer: customer}
		h.cancels[id] = c
	}
	h.mu.Unlock()
	one := func() {
		st, raw := h.do(ctx, "POST", "/v1/orders/"+id+"/cancel", nil, map[string]string{"X-Customer-ID": customer})
		if st > 0 {
			h.count("POST /v1/orders/{id}/cancel", st, raw)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		c.attempts++
		if st == 200 {
			var o orders.Order
			if err := json.Unmarshal(raw, &o); err != nil || o.Status != orders.StatusCancelled {
				h.problems = append(h.problems, fmt.Sprintf("cancel of %s: 200 with %q", id, raw))
				return
			}
			c.acked = true
		}
	}
	if twice {
		var wg sync.WaitGroup
		wg.Go(one)
		one()
		wg.Wait()
		return
	}
	one()
}

// finishCancels retries every cancel whose answer was lost, as a client
// would: a cancel is idempotent and finishes on retry.
func (h *harness) finishCancels() {
	h.mu.Lock()
	var todo []string
	for id, c := range h.cancels {
		if !c.acked {
			todo = append(todo, id)
		}
	}
	h.mu.Unlock()
	for _, id := range todo {
		h.mu.Lock()
		c := h.cancels[id]
		h.mu.Unlock()
		for range 5 {
			h.cancel(context.Background(), c.customer, id, false)
			h.mu.Lock()
			acked := c.acked
			h.mu.Unlock()
			if acked {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// adjust makes a stock adjustment with a unique ref, sometimes sent twice:
// a ref makes it idempotent.
func (h *harness) adjust(ctx context.Context, rng *rand.Rand) {
	s := h.skus[rng.IntN(len(h.skus))]
	delta := int64(1 + rng.IntN(30))
	if rng.IntN(10) < 3 {
		delta = -int64(1 + rng.IntN(10))
	}
	a := &exploreAdjustment{sku: s.sku, ref: fmt.Sprintf("xadj-%d-%d", h.cfg.seed, h.seq.Add(1)), delta: delta}
	h.mu.Lock()
	h.adjustments[a.ref] = a
	h.mu.Unlock()
	body := fmt.Appendf(nil, `{"delta":%d,"reason":"explore","ref":%q}`, a.delta, a.ref)
	refusals, n := 0, 1+rng.IntN(2)
	for range n {
		st, raw := h.do(ctx, "POST", "/v1/inventory/"+s.sku+"/adjustments", body, h.admin())
		if st > 0 {
			h.count("POST /v1/inventory/{sku}/adjustments", st, raw)
		}
		h.mu.Lock()
		switch {
		case st == 200:
			a.acked = true
		case st == http.StatusConflict || st == notSent:
			refusals++ // it would take on_hand below reserved, or never left
		case st >= 400 && st < 500:
			h.problems = append(h.problems, fmt.Sprintf("adjustment %s: %d %s", a.ref, st, raw))
		}
		h.mu.Unlock()
	}
	// Only a ref every attempt of which was refused is known not to be in
	// the ledger: a lost answer may have been a success.
	h.mu.Lock()
	a.refused = refusals == n
	h.mu.Unlock()
}

// adminLoop changes products' price bounds and, when the seed says so,
// freezes the categories' prices part way through.
func (h *harness) adminLoop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 0x61646d696e))
	started := time.Now()
	frozen := false
	for ctx.Err() == nil {
		pause(ctx, time.Duration(rng.Int64N(int64(2*h.cfg.adminEvery))))
		if ctx.Err() != nil {
			return
		}
		if h.down.Load() {
			continue
		}
		if h.cfg.freeze && !frozen && time.Since(started) > h.cfg.load/3 {
			frozen = true
			for _, c := range []string{"explore-a", "explore-b"} {
				st, raw := h.do(ctx, "PUT", "/v1/pricing/rules/"+c, fmt.Appendf(nil, aggressiveRule, true), h.admin())
				if st > 0 {
					h.count("PUT /v1/pricing/rules/{category}", st, raw)
				}
			}
			continue
		}
		h.moveBounds(ctx, rng, h.skus[rng.IntN(len(h.skus))])
	}
}

// moveBounds PUTs new prices for a SKU: a jump up with the floor at the new
// base (the old dynamic price is then below the floor), a drop with the
// ceiling near the new base, a narrow band, or a wide one.
func (h *harness) moveBounds(ctx context.Context, rng *rand.Rand, s *exploreSKU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.mu.Lock()
	cur := s.versions[len(s.versions)-1]
	h.mu.Unlock()
	round := func(x int64) int64 { return max(10, x/10*10) }
	v := &boundVersion{}
	kind := rng.IntN(4)
	if cur.base > 1_000_000 {
		kind = 1
	} else if cur.base < 200 {
		kind = 0
	}
	switch kind {
	case 0:
		v.base = round(cur.base * int64(2+rng.IntN(4)))
		v.floor, v.ceiling = v.base, round(v.base+v.base/5)
	case 1:
		v.base = round(cur.base / int64(2+rng.IntN(4)))
		v.floor, v.ceiling = round(v.base-v.base/5), round(v.base+v.base/10)
	case 2:
		v.base = round(cur.base + cur.base*int64(rng.IntN(41)-20)/100)
		v.floor, v.ceiling = round(v.base-v.base/20), round(v.base+v.base/20)
	default:
		v.base = cur.base
		v.floor, v.ceiling = round(v.base/2), round(v.base*2)
	}
	v.floor, v.ceiling = min(v.floor, v.base), max(v.ceiling, v.base)
	body := fmt.Appendf(nil, `{"name":"explore %s","category":%q,"base_price":%d,"price_floor":%d,"price_ceiling":%d}`,
		s.sku, s.category, v.base, v.floor, v.ceiling)
	v.sent = time.Now()
	h.mu.Lock()
	s.versions = append(s.versions, v)
	h.mu.Unlock()
	st, raw := h.do(ctx, "PUT", "/v1/products/"+s.sku, body, h.admin())
	at := time.Now()
	if st > 0 {
		h.count("PUT /v1/products/{sku}", st, raw)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case st == 200 || st == 201:
		v.outcome, v.acked = "acked", at
	case st == notSent:
		v.outcome = "refused"
	case st >= 400 && st < 500:
		v.outcome = "refused"
		h.problems = append(h.problems, fmt.Sprintf("PUT /v1/products/%s %s: %d %s", s.sku, body, st, raw))
	default:
		v.outcome = "unknown"
	}
}

// observe samples the stock levels: none is ever negative.
func (h *harness) observe(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.seed, 0x6f6273))
	for ctx.Err() == nil {
		pause(ctx, time.Duration(50+rng.IntN(50))*time.Millisecond)
		s := h.skus[rng.IntN(len(h.skus))]
		st, raw := h.do(ctx, "GET", "/v1/inventory/"+s.sku, nil, nil)
		if st != 200 {
			continue
		}
		var l struct {
			OnHand    int64 `json:"on_hand"`
			Reserved  int64 `json:"reserved"`
			Available int64 `json:"available"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			h.violate("GET /v1/inventory/%s: %v %q", s.sku, err, raw)
			continue
		}
		h.mu.Lock()
		h.samples++
		h.mu.Unlock()
		if l.Reserved < 0 || l.OnHand < l.Reserved || l.Available < 0 {
			h.violate("stock of %s went negative: %s", s.sku, raw)
		}
	}
}
