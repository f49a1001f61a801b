package orders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

// txStore is the SQLite store, watched: it counts the calls under way that
// run a transaction, so an encoder can tell whether it is called inside
// one, and the responses stored by Finish; touch changes a reserved
// order's version in the transaction that pays it.
type txStore struct {
	*sqlstore.Store
	open     atomic.Int32
	finishes atomic.Int32
	refusals atomic.Int32
	touch    atomic.Bool
}

func (s *txStore) tx() func() {
	s.open.Add(1)
	return func() { s.open.Add(-1) }
}

func (s *txStore) CreateOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, events []event.Message) error {
	defer s.tx()()
	return s.Store.CreateOrder(ctx, o, idem, events)
}

func (s *txStore) CreateReservedOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error {
	defer s.tx()()
	return s.Store.CreateReservedOrder(ctx, o, idem, stock, ttl, events)
}

func (s *txStore) UpdateOrder(ctx context.Context, id string, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	defer s.tx()()
	return s.Store.UpdateOrder(ctx, id, fn)
}

func (s *txStore) CommitAndUpdateOrder(ctx context.Context, id string, idem orders.IdemRef, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	defer s.tx()()
	if s.touch.Load() {
		pay := fn
		fn = func(o *orders.Order) ([]event.Message, error) {
			o.Version++
			return pay(o)
		}
	}
	return s.Store.CommitAndUpdateOrder(ctx, id, idem, fn)
}

func (s *txStore) ReleaseAndUpdateOrder(ctx context.Context, id string, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	defer s.tx()()
	return s.Store.ReleaseAndUpdateOrder(ctx, id, fn)
}

func (s *txStore) Begin(ctx context.Context, scope, key, hash string, now time.Time, ttl, lease time.Duration) (idempotency.Record, error) {
	defer s.tx()()
	return s.Store.Begin(ctx, scope, key, hash, now, ttl, lease)
}

func (s *txStore) Finish(ctx context.Context, scope, key string, status int, body []byte) error {
	defer s.tx()()
	s.finishes.Add(1)
	return s.Store.Finish(ctx, scope, key, status, body)
}

func (s *txStore) Forget(ctx context.Context, scope, key, resourceID string) error {
	defer s.tx()()
	return s.Store.Forget(ctx, scope, key, resourceID)
}

func (s *txStore) RecordRefusal(ctx context.Context, r orders.Refusal) error {
	s.refusals.Add(1)
	return s.Store.RecordRefusal(ctx, r)
}

func (s *txStore) Settle(ctx context.Context, scope, key string, c idempotency.Claim, status int, body []byte) (bool, error) {
	defer s.tx()()
	return s.Store.Settle(ctx, scope, key, c, status, body)
}

// flaky is the simulated gateway, unreachable while down.
type flaky struct {
	*payments.Simulated
	down atomic.Bool
}

func (g *flaky) Authorize(ctx context.Context, orderID string, amount int64, token string) (payments.Authorization, error) {
	if g.down.Load() {
		return payments.Authorization{}, payments.ErrUnavailable
	}
	return g.Simulated.Authorize(ctx, orderID, amount, token)
}

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// onceEnv is a checkout service over a watched store, with its encoder.
type onceEnv struct {
	st    *txStore
	gw    *flaky
	clock *clock
	svc   *orders.Service
	calls atomic.Int32 // encoder calls
	inTx  atomic.Int32 // encoder calls made inside a transaction
}

const (
	joint = "joint" // the store keeps the stock and the keys: deferred claims
	split = "split" // the stock is kept apart: keys claimed by Begin
)

func newOnceEnv(t *testing.T, layout string) *onceEnv {
	t.Helper()
	s, gw := setup(t)
	e := &onceEnv{st: &txStore{Store: s}, gw: &flaky{Simulated: gw}, clock: &clock{t: time.Now()}}
	var stock orders.Stock = e.st
	if layout == split {
		stock = stockOnly{e.st}
	}
	e.svc = orders.NewService(e.st, prices{}, stock, e.gw, orders.Options{
		Now: e.clock.Now, PaymentTimeout: time.Second, KeyTTL: time.Hour, KeyLease: time.Minute,
	})
	if got := e.svc.DefersClaims(); got != (layout == joint) {
		t.Fatalf("%s layout: DefersClaims = %v", layout, got)
	}
	return e
}

// encode renders outcomes as an API would.
func (e *onceEnv) encode(o orders.Order, err error) (int, []byte) {
	e.calls.Add(1)
	if e.st.open.Load() > 0 {
		e.inTx.Add(1)
	}
	var (
		fe     *orders.FailureError
		status int
		v      any = o
	)
	var short *inventory.InsufficientStockError
	switch {
	case err == nil:
		status = 201
	case errors.As(err, &fe) && errors.Is(err, payments.ErrUnavailable):
		status, v = 503, map[string]string{"error": "gateway_unavailable", "order": fe.Order.ID}
	case errors.As(err, &fe):
		status, v = 402, map[string]string{"error": "payment_failed", "order": fe.Order.ID}
	case errors.As(err, &short):
		status, v = 409, map[string]string{"error": "insufficient_stock"}
	case errors.Is(err, orders.ErrUnknownSKU):
		status, v = 404, map[string]string{"error": "unknown_sku"}
	default:
		status, v = 500, map[string]string{"error": "internal"}
	}
	b, jerr := json.Marshal(v)
	if jerr != nil {
		return 500, []byte(jerr.Error())
	}
	return status, b
}

func (e *onceEnv) place(key, hash, token string, qty int64, skus ...string) (orders.Placed, error) {
	if len(skus) == 0 {
		skus = []string{"A"}
	}
	req := orders.Request{}
	for _, sku := range skus {
		req.Items = append(req.Items, orders.RequestItem{SKU: sku, Quantity: qty})
	}
	req.Payment.Method, req.Payment.Token = "card", token
	return e.svc.PlaceOnce(context.Background(), orders.IdemPlace{Customer: "c", Key: key, Hash: hash, Request: req, Encode: e.encode})
}

// show prints a PlaceOnce answer for a failure message.
func show(p orders.Placed) string {
	return fmt.Sprintf("{%d replayed=%v order=%s %s err=%v body=%s}", p.Status, p.Replayed, p.Order.ID, p.Order.Status, p.Err, p.Body)
}

// committed renders the order as the store holds it now.
func (e *onceEnv) committed(t *testing.T, id string) []byte {
	t.Helper()
	o, err := e.st.GetOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *onceEnv) levels(t *testing.T) inventory.Levels {
	t.Helper()
	l, err := e.st.Levels(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *onceEnv) checkNoRenderInTx(t *testing.T) {
	t.Helper()
	if n := e.inTx.Load(); n != 0 {
		t.Errorf("the response was rendered inside a transaction %d times", n)
	}
}

// A paid checkout's response describes the order as committed, and a
// retry gets it byte for byte without a second order. Where the store
// keeps the stock and the keys, the transaction that pays the order
// stores it (no Finish), from bytes rendered before that transaction.
func TestPlaceOnceReplaysThePaidResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		layout       string
		wantFinishes int32
	}{
		{joint, 0},
		{split, 1},
	}
	for _, tt := range tests {
		t.Run(tt.layout, func(t *testing.T) {
			t.Parallel()
			e := newOnceEnv(t, tt.layout)
			first, err := e.place("k1", "h1", "tok_ok", 2)
			if err != nil || first.Replayed || first.Status != 201 || first.Err != nil || first.Order.Status != orders.StatusPaid {
				t.Fatalf("first = %s, %v", show(first), err)
			}
			if want := e.committed(t, first.Order.ID); !bytes.Equal(first.Body, want) {
				t.Fatalf("response %s\ncommitted order %s", first.Body, want)
			}
			if n := e.calls.Load(); n != 1 {
				t.Errorf("encoder called %d times, want once", n)
			}
			again, err := e.place("k1", "h1", "tok_ok", 2)
			if err != nil || !again.Replayed || again.Status != 201 || !bytes.Equal(again.Body, first.Body) {
				t.Fatalf("replay = %s, %v; want %s", show(again), err, first.Body)
			}
			if l := e.levels(t); l.OnHand != 8 || l.Reserved != 0 {
				t.Errorf("stock %+v, want one sale of 2", l)
			}
			if n := e.st.finishes.Load(); n != tt.wantFinishes {
				t.Errorf("Finish called %d times, want %d", n, tt.wantFinishes)
			}
			e.checkNoRenderInTx(t)
		})
	}
}

// A key used with another request is refused, whatever its first request
// ended with, and nothing runs.
func TestPlaceOnceRefusesAReusedKey(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{joint, split} {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			e := newOnceEnv(t, layout)
			if p, err := e.place("paid", "h1", "tok_ok", 1); err != nil || p.Status != 201 {
				t.Fatalf("first = %s, %v", show(p), err)
			}
			if p, err := e.place("short", "h2", "tok_ok", 11); err != nil || p.Status != 409 {
				t.Fatalf("insufficient = %s, %v", show(p), err)
			}
			for _, key := range []string{"paid", "short"} {
				if p, err := e.place(key, "other", "tok_ok", 1); !errors.Is(err, orders.ErrKeyReused) {
					t.Errorf("%s with another hash = %s, %v; want ErrKeyReused", key, show(p), err)
				}
			}
			if l := e.levels(t); l.OnHand != 9 || l.Reserved != 0 {
				t.Errorf("stock %+v, want the first sale only", l)
			}
		})
	}
}

// A retry while the first request runs is told so; once the first
// request's lease ran out (on the service's clock), a retry takes over.
func TestPlaceOnceInProgressThenTakesOver(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{joint, split} {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			e := newOnceEnv(t, layout)
			// The first request claimed the key and died before storing an order.
			if rec, err := e.st.Begin(context.Background(), "c", "k", "h", e.clock.Now(), time.Hour, time.Minute); err != nil || rec.Outcome != idempotency.Run {
				t.Fatalf("Begin = %+v, %v", rec, err)
			}
			if p, err := e.place("k", "h", "tok_ok", 1); !errors.Is(err, orders.ErrKeyInProgress) {
				t.Fatalf("retry while running = %s, %v; want ErrKeyInProgress", show(p), err)
			}
			if l := e.levels(t); l.Reserved != 0 || l.OnHand != 10 {
				t.Fatalf("a request in progress was run again: %+v", l)
			}
			e.clock.Add(2 * time.Minute)
			first, err := e.place("k", "h", "tok_ok", 1)
			if err != nil || first.Replayed || first.Status != 201 {
				t.Fatalf("takeover = %s, %v", show(first), err)
			}
			if want := e.committed(t, first.Order.ID); !bytes.Equal(first.Body, want) {
				t.Fatalf("response %s\ncommitted order %s", first.Body, want)
			}
			if again, err := e.place("k", "h", "tok_ok", 1); err != nil || !again.Replayed || !bytes.Equal(again.Body, first.Body) {
				t.Fatalf("replay = %s, %v", show(again), err)
			}
			e.checkNoRenderInTx(t)
		})
	}
}

// A 5xx is not kept: after a checkout whose gateway did not answer (order
// payment_failed, nothing charged), a retry of the key runs again.
func TestPlaceOnceForgetsA5xxSoARetryRuns(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{joint, split} {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			e := newOnceEnv(t, layout)
			e.gw.down.Store(true)
			failed, err := e.place("k", "h", "tok_ok", 1)
			if err != nil || failed.Replayed || failed.Status != 503 || !errors.Is(failed.Err, payments.ErrUnavailable) || failed.Order.Status != orders.StatusPaymentFailed {
				t.Fatalf("gateway down = %s, %v", show(failed), err)
			}
			e.gw.down.Store(false)
			retry, err := e.place("k", "h", "tok_ok", 1)
			if err != nil || retry.Replayed || retry.Status != 201 || retry.Order.ID == failed.Order.ID {
				t.Fatalf("retry = %s, %v; want a new, paid order", show(retry), err)
			}
			if again, err := e.place("k", "h", "tok_ok", 1); err != nil || !again.Replayed || !bytes.Equal(again.Body, retry.Body) {
				t.Fatalf("replay = %s, %v", show(again), err)
			}
			if l := e.levels(t); l.OnHand != 9 || l.Reserved != 0 {
				t.Errorf("stock %+v, want one sale", l)
			}
			if e.gw.Charged(failed.Order.ID) != 0 {
				t.Error("the failed order is charged")
			}
			e.checkNoRenderInTx(t)
		})
	}
}

// A 5xx that leaves an order which may hold a charge keeps the key: a
// retry after the lease resumes that order instead of placing another.
// Here the order changed before its payment was recorded, so the response
// rendered for it is not stored either.
func TestPlaceOnceResumesAnOrderItCouldNotRecord(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, joint)
	e.st.touch.Store(true)
	first, err := e.place("k", "h", "tok_ok", 1)
	if err != nil || first.Status != 500 || first.Err == nil {
		t.Fatalf("first = %s, %v; want a 500", show(first), err)
	}
	e.st.touch.Store(false)
	if p, err := e.place("k", "h", "tok_ok", 1); !errors.Is(err, orders.ErrKeyInProgress) {
		t.Fatalf("retry within the lease = %s, %v; want ErrKeyInProgress", show(p), err)
	}
	e.clock.Add(2 * time.Minute)
	resumed, err := e.place("k", "h", "tok_ok", 1)
	if err != nil || resumed.Replayed || resumed.Status != 201 {
		t.Fatalf("resumed = %s, %v", show(resumed), err)
	}
	if want := e.committed(t, resumed.Order.ID); !bytes.Equal(resumed.Body, want) {
		t.Fatalf("response %s\ncommitted order %s", resumed.Body, want)
	}
	if again, err := e.place("k", "h", "tok_ok", 1); err != nil || !again.Replayed || !bytes.Equal(again.Body, resumed.Body) {
		t.Fatalf("replay = %s, %v", show(again), err)
	}
	counts, err := e.st.CountOrders(context.Background())
	if err != nil || counts[orders.StatusPaid] != 1 || len(counts) != 1 {
		t.Errorf("orders = %v, %v; want the one order, paid", counts, err)
	}
	e.checkNoRenderInTx(t)
}

// With a deferred claim, a checkout that ends before its transaction
// wrote the claim (no stock, unknown SKU) settles its answer under the
// key; one whose claim another request took first goes through Begin.
func TestPlaceOnceDeferredClaims(t *testing.T) {
	t.Parallel()
	t.Run("settled before the claim", func(t *testing.T) {
		t.Parallel()
		e := newOnceEnv(t, joint)
		for _, c := range []struct {
			key    string
			qty    int64
			sku    string
			status int
		}{
			{"short", 11, "A", 409},
			{"unknown", 1, "NOPE", 404},
		} {
			first, err := e.place(c.key, "h", "tok_ok", c.qty, c.sku)
			if err != nil || first.Replayed || first.Status != c.status || first.Order.ID != "" {
				t.Fatalf("%s = %s, %v; want %d", c.key, show(first), err, c.status)
			}
			again, err := e.place(c.key, "h", "tok_ok", c.qty, c.sku)
			if err != nil || !again.Replayed || again.Status != c.status || !bytes.Equal(again.Body, first.Body) {
				t.Fatalf("%s replay = %s, %v; want %s", c.key, show(again), err, first.Body)
			}
		}
		if n := e.st.finishes.Load(); n != 0 {
			t.Errorf("Finish called %d times; a settled key needs none", n)
		}
		e.checkNoRenderInTx(t)
	})
	t.Run("claim taken first", func(t *testing.T) {
		t.Parallel()
		e := newOnceEnv(t, joint)
		// Another request holds the key: this one, which does not look
		// first, learns it when its claim finds the key taken.
		if _, err := e.st.Begin(context.Background(), "c", "k", "h", e.clock.Now(), time.Hour, time.Minute); err != nil {
			t.Fatal(err)
		}
		if p, err := e.place("k", "h", "tok_ok", 1); !errors.Is(err, orders.ErrKeyInProgress) {
			t.Fatalf("place = %s, %v; want ErrKeyInProgress", show(p), err)
		}
		if l := e.levels(t); l.Reserved != 0 || l.OnHand != 10 {
			t.Errorf("the refused claim touched stock: %+v", l)
		}
		counts, _ := e.st.CountOrders(context.Background())
		if len(counts) != 0 {
			t.Errorf("orders = %v, want none", counts)
		}
	})
}

// A key kept past its TTL (on the service's clock) is free again: the
// request runs, even with another body, and its own response is kept.
func TestPlaceOnceRunsAgainAfterTheKeyExpired(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, joint)
	first, err := e.place("k", "h1", "tok_ok", 1)
	if err != nil || first.Status != 201 {
		t.Fatalf("first = %s, %v", show(first), err)
	}
	e.clock.Add(2 * time.Hour)
	second, err := e.place("k", "h2", "tok_ok", 2)
	if err != nil || second.Replayed || second.Status != 201 || second.Order.ID == first.Order.ID {
		t.Fatalf("after expiry = %s, %v", show(second), err)
	}
	if want := e.committed(t, second.Order.ID); !bytes.Equal(second.Body, want) {
		t.Fatalf("response %s\ncommitted order %s", second.Body, want)
	}
	if again, err := e.place("k", "h2", "tok_ok", 2); err != nil || !again.Replayed || !bytes.Equal(again.Body, second.Body) {
		t.Fatalf("replay = %s, %v", show(again), err)
	}
	if n := e.st.finishes.Load(); n != 0 {
		t.Errorf("Finish called %d times; the paying transaction stores the response", n)
	}
	e.checkNoRenderInTx(t)
}

// PlaceOnce needs a key and an encoder; without them nothing runs.
func TestPlaceOnceRefusesIncompleteRequests(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, joint)
	req := orders.Request{Items: []orders.RequestItem{{SKU: "A", Quantity: 1}}}
	req.Payment.Method, req.Payment.Token = "card", "tok_ok"
	if _, err := e.svc.PlaceOnce(context.Background(), orders.IdemPlace{Customer: "c", Hash: "h", Request: req, Encode: e.encode}); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("no key: %v", err)
	}
	if _, err := e.svc.PlaceOnce(context.Background(), orders.IdemPlace{Customer: "c", Key: "k", Hash: "h", Request: req}); err == nil {
		t.Error("no encoder: nil error")
	}
	if l := e.levels(t); l.Reserved != 0 || l.OnHand != 10 {
		t.Errorf("a refused request touched stock: %+v", l)
	}
}

// A retry of a paid checkout whose stock has since run out replays the
// paid answer (the key is not looked up first, so the retry's own attempt
// met the empty shelf), and that attempt's refusal is not counted. A new
// key meeting the empty shelf is refused and counted once, its retry
// replaying the refusal.
func TestPlaceOnceReplaysAPaidCheckoutAfterTheStockRanOut(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, joint)
	// Stock is admitted in front of the ledger, as Redis admits it: an
	// empty shelf refuses before the transaction that would write the
	// claim (and find the key taken).
	e.svc = orders.NewService(e.st, prices{}, admitting{e.st}, e.gw, orders.Options{
		Now: e.clock.Now, PaymentTimeout: time.Second, KeyTTL: time.Hour, KeyLease: time.Minute,
	})
	if !e.svc.DefersClaims() {
		t.Fatal("admission in front of the ledger: claims are not deferred")
	}
	first, err := e.place("k", "h", "tok_ok", 10) // every unit of A
	if err != nil || first.Status != 201 {
		t.Fatalf("first = %s, %v", show(first), err)
	}
	again, err := e.place("k", "h", "tok_ok", 10)
	if err != nil || !again.Replayed || again.Status != 201 || string(again.Body) != string(first.Body) {
		t.Fatalf("retry = %s, %v; want the first answer replayed", show(again), err)
	}
	if n := e.st.refusals.Load(); n != 0 {
		t.Fatalf("%d refusals counted for a retry that was answered 201", n)
	}
	other, err := e.place("k2", "h2", "tok_ok", 1)
	var insufficient *inventory.InsufficientStockError
	if err != nil || other.Replayed || !errors.As(other.Err, &insufficient) {
		t.Fatalf("a new key on an empty shelf = %s, %v; want refused for stock", show(other), err)
	}
	retry, err := e.place("k2", "h2", "tok_ok", 1)
	if err != nil || !retry.Replayed || retry.Status != other.Status || string(retry.Body) != string(other.Body) {
		t.Fatalf("its retry = %s, %v; want the refusal replayed", show(retry), err)
	}
	if n := e.st.refusals.Load(); n != 1 {
		t.Fatalf("%d refusals counted, want 1", n)
	}
}

// admitting refuses a checkout for stock before the ledger's transaction,
// as Redis admission in front of the SQL ledger does.
type admitting struct{ *txStore }

func (a admitting) Orders() orders.Store { return a.txStore }

func (a admitting) CreateReservedOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error {
	for _, it := range stock {
		l, err := a.Levels(ctx, it.SKU)
		if err != nil {
			return err
		}
		if avail := l.OnHand - l.Reserved; avail < it.Qty {
			return &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: avail}
		}
	}
	return a.txStore.CreateReservedOrder(ctx, o, idem, stock, ttl, events)
}
