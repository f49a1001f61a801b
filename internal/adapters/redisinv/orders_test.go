package redisinv_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/adapters/redisinv"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/testenv"
)

type flatPrices struct{}

func (flatPrices) Quote(context.Context, string) (orders.Quote, error) {
	return orders.Quote{Price: 1000, BasePrice: 1000, Category: "test"}, nil
}

// checkoutFixture is checkout over the Redis adapter whose ledger keeps the
// orders too (Options.Orders), on SQLite or PostgreSQL.
type checkoutFixture struct {
	fixture
	svc *orders.Service
}

func newCheckoutFixture(t *testing.T, kind string) checkoutFixture {
	t.Helper()
	dsn := t.TempDir() + "/ledger.db"
	if kind == "postgres" {
		dsn = testenv.PostgresDB(t)
	}
	ledger, err := sqlstore.Open(context.Background(), kind, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ledger.Close)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	f := fixture{sql: ledger, rdb: rdb, store: redisinv.New(rdb, ledger, redisinv.Options{
		Prefix: fmt.Sprintf("t%d:", time.Now().UnixNano()), Shards: 4, Orders: ledger})}
	svc := orders.NewService(ledger, flatPrices{}, f.store, payments.NewSimulated(payments.SimulatedOptions{}), orders.Options{})
	return checkoutFixture{fixture: f, svc: svc}
}

func (f checkoutFixture) place(ctx context.Context, key, token string, items ...orders.RequestItem) (orders.Placed, error) {
	req := orders.Request{Items: items}
	req.Payment.Method, req.Payment.Token = "card", token
	return f.svc.PlaceOnce(ctx, orders.IdemPlace{Customer: "c1", Key: key, Hash: "h-" + key, Request: req,
		Encode: func(o orders.Order, err error) (int, []byte) {
			if err != nil {
				return 409, []byte(err.Error())
			}
			return 201, []byte(o.ID)
		}})
}

// requireConsistent checks that Redis and the ledger agree, and the
// ledger's levels of sku.
func (f checkoutFixture) requireConsistent(t *testing.T, sku string, onHand, reserved int64) {
	t.Helper()
	ctx := context.Background()
	if ms, err := f.store.Reconcile(ctx, false); err != nil || len(ms) != 0 {
		t.Fatalf("Redis and the ledger disagree: %+v, %v", ms, err)
	}
	l, err := f.sql.Levels(ctx, sku)
	if err != nil || l.OnHand != onHand || l.Reserved != reserved {
		t.Fatalf("levels of %s = %+v, %v; want on_hand %d reserved %d", sku, l, err, onHand, reserved)
	}
}

// With the orders in the ledger's database, checkout writes each order
// together with its reservation and with its sale (deferred key claims
// included), and Redis follows every outcome: paid, declined, refused.
func TestCheckoutThroughTheLedgersTransactions(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newCheckoutFixture(t, kind)
			if !f.svc.DefersClaims() {
				t.Fatal("checkout over the Redis adapter with Options.Orders does not write orders with their stock")
			}
			f.env().CreateSKU(t, "A", 10, 0)
			f.env().CreateSKU(t, "B", 5, 0)

			p, err := f.place(ctx, "k1", "tok_ok", orders.RequestItem{SKU: "A", Quantity: 2}, orders.RequestItem{SKU: "B", Quantity: 1})
			if err != nil || p.Err != nil || p.Order.Status != orders.StatusPaid {
				t.Fatalf("paid checkout = %+v, %v", p, err)
			}
			f.requireConsistent(t, "A", 8, 0)
			f.requireConsistent(t, "B", 4, 0)

			// The paid response was stored with the payment: a retry replays it.
			again, err := f.place(ctx, "k1", "tok_ok", orders.RequestItem{SKU: "A", Quantity: 2}, orders.RequestItem{SKU: "B", Quantity: 1})
			if err != nil || !again.Replayed || string(again.Body) != p.Order.ID {
				t.Fatalf("retry = %+v, %v; want the replay of %s", again, err, p.Order.ID)
			}

			p, err = f.place(ctx, "k2", "tok_decline", orders.RequestItem{SKU: "A", Quantity: 3})
			if err != nil || !errors.Is(p.Err, payments.ErrDeclined) || p.Order.Status != orders.StatusPaymentFailed {
				t.Fatalf("declined checkout = %+v, %v", p, err)
			}
			f.requireConsistent(t, "A", 8, 0)

			p, err = f.place(ctx, "k3", "tok_ok", orders.RequestItem{SKU: "B", Quantity: 1}, orders.RequestItem{SKU: "A", Quantity: 9})
			var short *inventory.InsufficientStockError
			if err != nil || !errors.As(p.Err, &short) || p.Order.ID != "" {
				t.Fatalf("checkout beyond stock = %+v, %v; want insufficient stock and no order", p, err)
			}
			f.requireConsistent(t, "A", 8, 0)
			f.requireConsistent(t, "B", 4, 0)
			counts, err := f.sql.CountOrders(ctx)
			if err != nil || counts[orders.StatusPaid] != 1 || counts[orders.StatusPaymentFailed] != 1 || len(counts) != 2 {
				t.Fatalf("orders by status = %v, %v", counts, err)
			}
		})
	}
}

// Requests racing with one key place one order: the others find the key
// taken in the transaction that would store theirs, and their Redis holds
// are returned. Concurrent checkouts never sell more than the stock.
func TestCheckoutRacesThroughTheLedger(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newCheckoutFixture(t, kind)
			f.env().CreateSKU(t, "A", 20, 0)

			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if _, err := f.place(ctx, "same", "tok_ok", orders.RequestItem{SKU: "A", Quantity: 1}); err != nil && !errors.Is(err, orders.ErrKeyInProgress) {
						t.Errorf("same key: %v", err)
					}
				})
			}
			wg.Wait()
			f.requireConsistent(t, "A", 19, 0)

			var (
				mu   sync.Mutex
				paid int
			)
			for i := range 30 {
				wg.Go(func() {
					p, err := f.place(ctx, "k"+strconv.Itoa(i), "tok_ok", orders.RequestItem{SKU: "A", Quantity: 1})
					var short *inventory.InsufficientStockError
					switch {
					case err != nil:
						t.Errorf("order %d: %v", i, err)
					case p.Err == nil:
						mu.Lock()
						paid++
						mu.Unlock()
					case !errors.As(p.Err, &short):
						t.Errorf("order %d: %v", i, p.Err)
					}
				})
			}
			wg.Wait()
			if paid != 19 {
				t.Fatalf("%d orders paid from a stock of 19", paid)
			}
			f.requireConsistent(t, "A", 0, 0)
		})
	}
}
