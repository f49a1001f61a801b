package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// Concurrent checkouts straight on the ledger (no Redis in front), so
// PostgreSQL's batched transactions decide every refusal themselves: 60
// orders of one or two lines race for 25 units of "a" and 10 of "B",
// pairs of them sharing an idempotency key. Every admitted order is stored
// with its reservation, every refused one leaves nothing (not even its
// key's claim), the stock is never oversold, and paying them while some
// are given up sells exactly what the paid ones hold. The SKUs sort
// differently in C ("B" < "a", the order single-order transactions lock
// them in) and in a shop's usual collation ("a" < "B"): on such a database
// a batch that locked in the collation's order could deadlock with those
// single-order transactions.
func TestConcurrentCheckoutsOnTheLedger(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres", "postgres-icu"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			driver, dsn := kind, filepath.Join(t.TempDir(), "c.db")
			switch kind {
			case "postgres":
				dsn = testenv.PostgresDB(t)
			case "postgres-icu":
				driver, dsn = "postgres", testenv.PostgresDBWith(t, "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
			}
			s := openWith(t, driver, dsn, sqlstore.Options{CheckoutBatches: true})
			e := inventoryEnv(s)
			e.CreateSKU(t, "a", 25, 5)
			e.CreateSKU(t, "B", 10, 0)
			testConcurrentCheckouts(t, s)
		})
	}
}

// checkout is one racing order and what the store answered.
type checkout struct {
	id, key string
	withB   bool
	err     error
}

func testConcurrentCheckouts(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const n = 60
	calls := make([]checkout, n)
	var wg sync.WaitGroup
	for i := range calls {
		c := &calls[i]
		c.id, c.key, c.withB = "ord_"+strconv.Itoa(i), "k"+strconv.Itoa(i/2), i%3 == 0
		wg.Go(func() {
			items := []orders.Line{{SKU: "a", Quantity: 1, UnitPrice: 100}}
			stock := []inventory.Item{{SKU: "a", Qty: 1}}
			total := int64(100)
			if c.withB {
				items = append(items, orders.Line{SKU: "B", Quantity: 1, UnitPrice: 50})
				stock = append(stock, inventory.Item{SKU: "B", Qty: 1})
				total += 50
			}
			o := orders.Order{ID: c.id, CustomerID: "c1", Status: orders.StatusReserved, Items: items, Total: total,
				PaymentToken: "tok_ok", Version: 1, CreatedAt: now, UpdatedAt: now}
			idem := orders.IdemRef{Scope: "c1", Key: c.key, Claim: &idempotency.Claim{Hash: c.key, At: now, Expires: now.Add(time.Hour)}}
			env, err := event.New(event.TypeOrderCreated, "test", c.id, now, o.Event())
			if err != nil {
				c.err = err
				return
			}
			created := event.Message{Topic: event.TopicOrders, Envelope: env}
			c.err = s.CreateReservedOrder(ctx, o, idem, stock, time.Hour, []event.Message{created})
		})
	}
	wg.Wait()

	var admitted []checkout
	heldA, heldB := int64(0), int64(0)
	perKey := map[string]int{}
	for _, c := range calls {
		switch {
		case c.err == nil:
			admitted = append(admitted, c)
			perKey[c.key]++
			heldA++
			if c.withB {
				heldB++
			}
			items, state, err := s.ReservationItems(ctx, c.id)
			if err != nil || state != inventory.StateHeld || len(items) != map[bool]int{false: 1, true: 2}[c.withB] {
				t.Errorf("%s admitted but its reservation is %v %q (%v)", c.id, items, state, err)
			}
			if _, err := s.GetOrder(ctx, c.id); err != nil {
				t.Errorf("%s admitted but not stored: %v", c.id, err)
			}
		case errors.Is(c.err, idempotency.ErrTaken), errors.Is(c.err, inventory.ErrInsufficientStock):
			if _, err := s.GetOrder(ctx, c.id); !errors.Is(err, orders.ErrNotFound) {
				t.Errorf("%s refused (%v) but stored: %v", c.id, c.err, err)
			}
			if _, _, err := s.ReservationItems(ctx, c.id); !errors.Is(err, inventory.ErrUnknownReservation) {
				t.Errorf("%s refused (%v) but holds stock: %v", c.id, c.err, err)
			}
		default:
			t.Errorf("%s: unexpected error %v", c.id, c.err)
		}
	}
	for key, k := range perKey {
		if k > 1 {
			t.Errorf("key %s admitted %d orders", key, k)
		}
	}
	// A key whose calls were all refused for stock is free again.
	for i := 0; i < n; i += 2 {
		key := calls[i].key
		held, err := s.Exists(ctx, "c1", key)
		if err != nil {
			t.Fatal(err)
		}
		if held != (perKey[key] == 1) {
			t.Errorf("key %s: claim stored = %v, orders admitted = %d", key, held, perKey[key])
		}
	}
	if heldA > 25 || heldB > 10 {
		t.Fatalf("oversold: %d of a (25), %d of B (10)", heldA, heldB)
	}
	if heldA < 20 {
		t.Errorf("only %d of 25 a admitted: refusals beyond the stock", heldA)
	}
	expectLedger(t, s, "a", 25, heldA)
	expectLedger(t, s, "B", 10, heldB)

	// Pay the admitted orders at once while every fourth payment is given
	// up (one transaction each, locking the order, its reservation, then
	// its SKUs in byte order): the paid ones sell exactly what they held,
	// the others give it back.
	var (
		move          sync.WaitGroup
		soldA, soldB  int64
		paid, givenUp int
	)
	for i, c := range admitted {
		giveUp := i%4 == 3
		if giveUp {
			givenUp++
		} else {
			paid++
			soldA++
			if c.withB {
				soldB++
			}
		}
		move.Go(func() {
			update := s.CommitAndUpdateOrder
			to := orders.StatusPaid
			if giveUp {
				update = func(ctx context.Context, id string, _ orders.IdemRef, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
					return s.ReleaseAndUpdateOrder(ctx, id, fn)
				}
				to = orders.StatusFailing // a payment given up: its stock goes back
			}
			o, err := update(ctx, c.id, orders.IdemRef{}, func(cur *orders.Order) ([]event.Message, error) {
				return nil, cur.Move(to, now)
			})
			if err != nil || o.Status != to {
				t.Errorf("moving %s to %s: %v (status %q)", c.id, to, err, o.Status)
			}
		})
	}
	move.Wait()
	expectLedger(t, s, "a", 25-soldA, 0)
	expectLedger(t, s, "B", 10-soldB, 0)
	counts, err := s.CountOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[orders.StatusPaid] != int64(paid) || counts[orders.StatusFailing] != int64(givenUp) {
		t.Errorf("orders %v, want %d paid and %d failing", counts, paid, givenUp)
	}
}

func expectLedger(t *testing.T, s *sqlstore.Store, sku string, onHand, reserved int64) {
	t.Helper()
	h, r, err := s.LedgerTotals(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	if h != onHand || r != reserved {
		t.Errorf("ledger %s: on hand %d reserved %d, want %d and %d", sku, h, r, onHand, reserved)
	}
}

// An order whose own event cannot be written fails alone: the others that
// shared its transaction are stored, as they would be one by one.
func TestOneBadCheckoutFailsAlone(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := filepath.Join(t.TempDir(), "c.db")
			if kind == "postgres" {
				dsn = testenv.PostgresDB(t)
			}
			s := openWith(t, kind, dsn, sqlstore.Options{CheckoutBatches: true})
			inventoryEnv(s).CreateSKU(t, "a", 100, 0)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			const n, bad = 30, 7
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					id := "ord_" + strconv.Itoa(i)
					o := orders.Order{ID: id, CustomerID: "c1", Status: orders.StatusReserved, Items: []orders.Line{{SKU: "a", Quantity: 1, UnitPrice: 100}},
						Total: 100, PaymentToken: "tok_ok", Version: 1, CreatedAt: now, UpdatedAt: now}
					env, err := event.New(event.TypeOrderCreated, "test", id, now, o.Event())
					if err != nil {
						errs[i] = err
						return
					}
					if i == bad {
						env.SchemaVersion = 0 // refused by the outbox
					}
					errs[i] = s.CreateReservedOrder(ctx, o, orders.IdemRef{}, []inventory.Item{{SKU: "a", Qty: 1}}, time.Hour,
						[]event.Message{{Topic: event.TopicOrders, Envelope: env}})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if (err != nil) != (i == bad) {
					t.Errorf("order %d: %v", i, err)
				}
			}
			expectLedger(t, s, "a", 100, n-1)
		})
	}
}
