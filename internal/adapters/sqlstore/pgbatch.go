package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
)

// Checkout batches on PostgreSQL. Concurrent CreateReservedOrder calls, and
// concurrent CommitAndUpdateOrder calls, are merged (batch.Combiner) into
// one transaction per batch whose statements cover every order in it: one
// multi-row statement per table instead of one or more per order, and one
// commit. Each order gets the outcome it would get alone; the stock is
// decided in call order against what the earlier orders of the batch
// left. A batch that fails before its COMMIT is sent, or that PostgreSQL
// refuses (a deadlock, a replayed id, any error the server reports), is
// rolled back and its calls run one by one the way a lone call runs, so
// the batch path never decides differently and one call's error stays
// its own.
//
// Every statement of a batch reads or writes a few rows by primary key,
// and a batch transaction runs with sequential scans off (SET LOCAL
// enable_seqscan): left to its cost model, PostgreSQL reads a table of a
// few hundred pages whole rather than look a dozen keys up in its index
// (random_page_cost 4 prices an index page as four read in sequence), so
// on a table of a few thousand orders each batch compared its keys with
// every order ever placed, and a growing table's statistics, not analysed
// yet, keep it there. The UPDATE statements of orders and stock join the
// batch's rows (unnest) and also name the keys with = ANY, so the index
// has a condition to look them up by; the idempotency keys' two-column
// key is looked up row by row (a nested loop), as = ANY on each column
// would try every scope with every key.
//
// Lock order is the one-by-one path's: a batch locks its orders, then
// their reservations, then the stock rows, each in one statement in byte
// order of the key (COLLATE "C", the order Go sorts a lone order's SKUs
// in, whatever the database's collation), so two batches, or a batch and
// a lone transaction, never wait on each other crosswise.

// createReq is one CreateReservedOrder call.
type createReq struct {
	o      orders.Order
	idem   orders.IdemRef
	stock  []inventory.Item // normalised
	ttl    time.Duration
	events []event.Message
	// reserved and items are stock and o.Items as JSON.
	reserved, items string
}

// payReq is one CommitAndUpdateOrder call; out is its result.
type payReq struct {
	id   string
	idem orders.IdemRef
	fn   func(*orders.Order) ([]event.Message, error)
	out  orders.Order
}

// checkoutBatchMax bounds a checkout batch. One batch of each kind runs
// at a time, and the calls that arrive meanwhile wait for the next: with a
// second batch allowed beside it, that batch mostly took the one call that
// had just arrived, in a transaction of its own, and PostgreSQL spent about
// a quarter more CPU per order for 8 % fewer orders/s (BENCHMARKS.md, *One
// checkout batch at a time*). A lone caller still runs at once.
const checkoutBatchMax = 64

// runAlone reports whether a failed batch may run again one call at a
// time: it failed before its COMMIT was sent, or PostgreSQL refused it,
// so nothing of it was committed. An error of one call's own (an event
// that does not encode, a row that does not decode) then stays that
// call's.
func runAlone(err error) bool {
	var (
		pgErr  *pgconn.PgError
		before *uncommitted
	)
	return errors.Is(err, errBulkFallback) || errors.As(err, &before) || errors.As(err, &pgErr)
}

// createBatch is the Run of s.creates.
func (s *Store) createBatch(ctx context.Context, reqs []*createReq) []error {
	return s.runBatch(ctx, len(reqs), func(tx *txn, errs []error) error {
		return s.createBulkTx(ctx, tx, reqs, errs)
	}, func(i int) error {
		return s.createOne(ctx, reqs[i])
	})
}

// payBatch is the Run of s.pays.
func (s *Store) payBatch(ctx context.Context, reqs []*payReq) []error {
	return s.runBatch(ctx, len(reqs), func(tx *txn, errs []error) error {
		return s.payBulkTx(ctx, tx, reqs, errs)
	}, func(i int) error {
		r := reqs[i]
		var err error
		r.out, err = s.commitOne(ctx, r.id, r.idem, r.fn)
		return err
	})
}

// runBatch runs n calls in one transaction with bulk, which fills in each
// call's refusal; when n is 1, or PostgreSQL refuses the batch as a whole
// in a way one call alone might not meet (runAlone), each call runs in a
// transaction of its own with one. Any other failure is every call's.
func (s *Store) runBatch(ctx context.Context, n int, bulk func(tx *txn, errs []error) error, one func(i int) error) []error {
	errs := make([]error, n)
	if n > 1 {
		err := s.runPGTx(ctx, func(tx *txn) error {
			clear(errs)
			if err := tx.byIndex(ctx); err != nil {
				return err
			}
			return bulk(tx, errs)
		})
		if err == nil {
			return errs
		}
		if !runAlone(err) {
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
	}
	alone(n, func(i int) { errs[i] = one(i) })
	return errs
}

// alone runs fn(0..n-1), concurrently when n > 1.
func alone(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// createBulkTx reserves and stores a batch of orders; errs gets each
// call's refusal (taken key, unknown SKU, not enough stock).
func (s *Store) createBulkTx(ctx context.Context, tx *txn, reqs []*createReq, errs []error) error {
	// Claims first: a key another request holds must not take stock.
	type claimKey struct{ scope, key string }
	var (
		claimed              = map[claimKey]bool{}
		cScope, cKey, cHash  []string
		cRes                 []string
		cAt, cExp            []int64
		skus                 []string
		claimIdx, claimTaken = map[claimKey]int{}, map[int]bool{}
		reads                []pgRead
		stock                = map[string]*stockRow{}
	)
	for i, r := range reqs {
		if r.idem.Claim != nil {
			k := claimKey{r.idem.Scope, r.idem.Key}
			if _, dup := claimIdx[k]; dup {
				claimTaken[i] = true // a second call with the key: taken, as one by one
				continue
			}
			claimIdx[k] = i
		}
		for _, it := range r.stock {
			skus = append(skus, it.SKU)
		}
	}
	// Keys are inserted in one order whatever the calls' order, so two
	// batches waiting on each other's keys cannot wait in a circle.
	for _, k := range slices.SortedFunc(maps.Keys(claimIdx), func(a, b claimKey) int {
		return cmp.Or(strings.Compare(a.scope, b.scope), strings.Compare(a.key, b.key))
	}) {
		r := reqs[claimIdx[k]]
		c := r.idem.Claim
		cScope, cKey, cHash, cRes = append(cScope, k.scope), append(cKey, k.key), append(cHash, c.Hash), append(cRes, r.o.ID)
		cAt, cExp = append(cAt, micros(c.At)), append(cExp, micros(c.Expires))
	}
	slices.Sort(skus)
	skus = slices.Compact(skus)
	if len(cKey) > 0 {
		reads = append(reads, pgRead{what: "claiming idempotency keys",
			query: `INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, created_at, expires_at, locked_at)
  SELECT d.s, d.k, d.h, ?, d.r, d.a, d.e, d.a FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS d(s, k, h, r, a, e)
  ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`,
			args: []any{idemInFlight, cScope, cKey, cHash, cRes, cAt, cExp},
			row: func(r pgx.Rows) error {
				var k claimKey
				if err := r.Scan(&k.scope, &k.key); err != nil {
					return err
				}
				claimed[k] = true
				return nil
			}})
	}
	reads = append(reads, lockStock(skus, stock))
	if err := tx.readAll(ctx, reads...); err != nil {
		return err
	}
	// The clock is read with the stock locked: a SKU's events then follow
	// each other in time as they follow each other on its partition, which
	// pricing's event time relies on. (Read before the locks, a batch that
	// waited on another would stamp its events earlier than that one's.)
	now := s.now()
	at := micros(now)
	// Decide in call order against the running availability.
	avail := make(map[string]int64, len(stock))
	for sku, r := range stock {
		avail[sku] = r.Available
	}
	var (
		refusedScope, refusedKey []string
		admitted                 []int
		bySKU                    = map[string][]skuDelta{}
	)
	for i, r := range reqs {
		if c := r.idem.Claim; c != nil {
			k := claimKey{r.idem.Scope, r.idem.Key}
			if claimTaken[i] || !claimed[k] {
				errs[i] = idempotency.ErrTaken
				continue
			}
		}
		if errs[i] = take(avail, r.stock); errs[i] != nil {
			if r.idem.Claim != nil { // its claim goes with it, as a rollback would take it
				refusedScope, refusedKey = append(refusedScope, r.idem.Scope), append(refusedKey, r.idem.Key)
			}
			continue
		}
		for _, it := range r.stock {
			bySKU[it.SKU] = append(bySKU[it.SKU], skuDelta{id: r.o.ID, qty: it.Qty})
		}
		admitted = append(admitted, i)
	}
	if len(refusedKey) > 0 {
		if err := tx.later(ctx, "dropping refused idempotency claims", nil, `DELETE FROM idempotency_keys k USING unnest(?::text[], ?::text[]) AS d(s, k)
  WHERE k.scope = d.s AND k.key = d.k`, refusedScope, refusedKey); err != nil {
			return err
		}
	}
	if len(admitted) == 0 {
		return nil
	}
	// The reservations, then the stock they hold, then the orders.
	var (
		rID, rItems []string
		rExp        []int64
		ob          orderRows
	)
	for _, i := range admitted {
		r := reqs[i]
		rID, rItems, rExp = append(rID, r.o.ID), append(rItems, r.reserved), append(rExp, micros(now.Add(r.ttl)))
		ob.add(r.o, r.items)
	}
	// A reservation id that exists already fails the batch (unique
	// violation): one by one, it is answered as a replay.
	if err := tx.later(ctx, "storing reservations", nil, `INSERT INTO reservations (id, state, items, expires_at, created_at, updated_at)
  SELECT d.i, ?, d.it, d.e, ?, ? FROM unnest(?::text[], ?::text[], ?::bigint[]) AS d(i, it, e)`,
		inventory.StateHeld, at, at, rID, rItems, rExp); err != nil {
		return err
	}
	var sw stockWrites
	hold := func(d skuDelta) move { return move{kindReserve, inventory.TypeReserved, 0, d.qty, "reserve", d.id} }
	for _, sku := range skus {
		if deltas := bySKU[sku]; len(deltas) > 0 {
			if err := s.moveStock(ctx, tx, &sw, stock[sku], deltas, hold, now); err != nil {
				return err
			}
		}
	}
	if err := sw.write(ctx, tx, at); err != nil {
		return err
	}
	if err := ob.insert(ctx, tx); err != nil {
		return err
	}
	for _, i := range admitted {
		r := reqs[i]
		if r.idem.Key != "" && r.idem.Claim == nil {
			if err := tx.later(ctx, "linking order "+r.o.ID+" to its idempotency key", nil, `UPDATE idempotency_keys SET resource_id = ? WHERE scope = ? AND key = ?`,
				r.o.ID, r.idem.Scope, r.idem.Key); err != nil {
				return err
			}
		}
		if err := s.enqueue(ctx, tx, r.events); err != nil {
			return err
		}
	}
	return nil
}

// payBulkTx runs each call's fn on its locked order and, for the orders fn
// changed, sells their reservations and stores the keys' responses;
// errs gets each call's error (its order is then left as it was).
func (s *Store) payBulkTx(ctx context.Context, tx *txn, reqs []*payReq, errs []error) error {
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.id
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		return errBulkFallback // the same order twice: fn must see the first's result
	}
	var (
		found = map[string]orders.Order{}
		resv  = map[string]*reservation{}
		stock = map[string]*stockRow{}
	)
	err := tx.readAll(ctx,
		pgRead{what: "reading orders", query: `SELECT ` + orderColumns + ` FROM orders WHERE id = ANY(?) ORDER BY id COLLATE "C" FOR UPDATE`, args: []any{ids},
			row: func(r pgx.Rows) error {
				o, err := scanOrder(r)
				if err != nil {
					return err
				}
				found[o.ID] = o
				return nil
			}},
		pgRead{what: "reading reservations", query: `SELECT id, state, items FROM reservations WHERE id = ANY(?) ORDER BY id COLLATE "C" FOR UPDATE`, args: []any{ids},
			row: func(r pgx.Rows) error {
				var (
					id, items string
					res       reservation
				)
				if err := r.Scan(&id, &res.state, &items); err != nil {
					return err
				}
				if err := json.Unmarshal([]byte(items), &res.items); err != nil {
					return fmt.Errorf("decoding reservation %s: %w", id, err)
				}
				resv[id] = &res
				return nil
			}},
		// The stock of those reservations, locked after them in SKU order.
		pgRead{what: "reading stock", query: `SELECT sku, ` + stockColumns + ` FROM inventory
  WHERE sku = ANY(ARRAY(SELECT DISTINCT j->>'sku' FROM reservations r, json_array_elements(r.items::json) j WHERE r.id = ANY(?))) ORDER BY sku COLLATE "C" FOR UPDATE`, args: []any{ids},
			row: func(r pgx.Rows) error { return scanStockRow(r, stock) }})
	if err != nil {
		return err
	}
	now := s.now() // with the stock locked, as in createBulkTx
	at := micros(now)
	var (
		ob        orderUpdates
		closed    []string
		respScope []string
		respKey   []string
		respCode  []int32
		respBody  [][]byte
		bySKU     = map[string][]skuDelta{}
		skus      []string
	)
	for i, r := range reqs {
		o, ok := found[r.id]
		if !ok {
			errs[i] = fmt.Errorf("%w: %s", orders.ErrNotFound, r.id)
			continue
		}
		before := o.Version
		msgs, err := r.fn(&o)
		if err != nil {
			errs[i] = err
			continue
		}
		r.out = o
		if o.Version == before {
			continue // nothing changed
		}
		res := resv[r.id]
		var from string
		if res != nil {
			from = res.state
		}
		replay, err := inventory.Closing(r.id, res != nil, from, inventory.StateCommitted)
		if err != nil {
			errs[i] = err
			continue
		}
		if !replay {
			for _, it := range res.items {
				if _, ok := stock[it.SKU]; !ok {
					err = fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, it.SKU)
					break
				}
			}
			if err != nil {
				errs[i] = err
				continue
			}
			for _, it := range res.items {
				if len(bySKU[it.SKU]) == 0 {
					skus = append(skus, it.SKU)
				}
				bySKU[it.SKU] = append(bySKU[it.SKU], skuDelta{id: r.id, qty: it.Qty})
			}
			closed = append(closed, r.id)
		}
		ob.add(o)
		if err := s.enqueue(ctx, tx, msgs); err != nil {
			return err
		}
		if r.idem.Key != "" && r.idem.Respond != nil && o.Status == orders.StatusPaid {
			code, body := r.idem.Respond(o)
			respScope, respKey = append(respScope, r.idem.Scope), append(respKey, r.idem.Key)
			respCode, respBody = append(respCode, int32(code)), append(respBody, body)
		}
	}
	if err := ob.update(ctx, tx); err != nil {
		return err
	}
	if len(closed) > 0 {
		if err := tx.later(ctx, "closing reservations", nil, `UPDATE reservations SET state = ?, updated_at = ? WHERE id = ANY(?)`,
			inventory.StateCommitted, at, closed); err != nil {
			return err
		}
	}
	slices.Sort(skus)
	var sw stockWrites
	sell := func(d skuDelta) move { return move{kindCommit, inventory.TypeCommitted, -d.qty, -d.qty, "sale", d.id} }
	for _, sku := range skus {
		if err := s.moveStock(ctx, tx, &sw, stock[sku], bySKU[sku], sell, now); err != nil {
			return err
		}
	}
	if err := sw.write(ctx, tx, at); err != nil {
		return err
	}
	if len(respKey) > 0 {
		return tx.later(ctx, "storing idempotent responses", nil, `UPDATE idempotency_keys k SET state = ?, response_status = d.c, response_body = d.b
  FROM unnest(?::text[], ?::text[], ?::int[], ?::bytea[]) AS d(s, k, c, b)
  WHERE k.scope = d.s AND k.key = d.k`,
			idemDone, respScope, respKey, respCode, respBody)
	}
	return nil
}

// lockStock reads and locks the stock rows of skus, in SKU order, into
// stock.
func lockStock(skus []string, stock map[string]*stockRow) pgRead {
	return pgRead{what: "reading stock", query: `SELECT sku, ` + stockColumns + ` FROM inventory WHERE sku = ANY(?) ORDER BY sku COLLATE "C" FOR UPDATE`, args: []any{skus},
		row: func(r pgx.Rows) error { return scanStockRow(r, stock) }}
}

// scanStockRow scans a row of sku, then stockColumns, into stock.
func scanStockRow(r pgx.Rows, stock map[string]*stockRow) error {
	var sku string
	row, err := scanStock(skuFirst{r, &sku}, "")
	if err != nil {
		return fmt.Errorf("reading stock: %w", err)
	}
	row.SKU = sku
	stock[sku] = &row
	return nil
}

// skuFirst scans a row's leading sku column, then what scanStock asks for.
type skuFirst struct {
	rows pgx.Rows
	sku  *string
}

func (k skuFirst) Scan(dest ...any) error { return k.rows.Scan(append([]any{k.sku}, dest...)...) }

// move is one order's change to a SKU's levels: its ledger kind, event
// type, deltas, reason and reference.
type move struct {
	kind, typ        string
	onHand, reserved int64
	reason, ref      string
}

// moveStock applies one SKU's changes of a batch in order, each the move
// mv makes of it: its ledger entry, its event with the levels it left and
// the alerts those cross; then the SKU's net change and alert state go to
// sw, for one statement.
func (s *Store) moveStock(ctx context.Context, tx *txn, sw *stockWrites, r *stockRow, deltas []skuDelta, mv func(skuDelta) move, at time.Time) error {
	l, flags := r.Levels, r.flags
	var onHand, reserved int64
	msgs := make([]event.Message, 0, len(deltas))
	for _, d := range deltas {
		m := mv(d)
		onHand, reserved = onHand+m.onHand, reserved+m.reserved
		l.OnHand += m.onHand
		l.Reserved += m.reserved
		l.Available = l.OnHand - l.Reserved
		sw.ledger(l.SKU, m.kind, m.onHand, m.reserved, m.reason, m.ref)
		ev, err := inventory.LevelsMessage(m.typ, l, m.onHand, m.reserved, m.reason, m.ref, at)
		if err != nil {
			return err
		}
		if flags, msgs, err = s.fireAlerts(ctx, tx, flags, l, at, append(msgs, ev)); err != nil {
			return err
		}
	}
	sw.row(r.SKU, onHand, reserved, int64(len(deltas)), flags)
	return s.enqueue(ctx, tx, msgs)
}

// stockWrites gathers a batch's stock changes: one net change per SKU and
// one ledger entry per change, written with one statement each.
type stockWrites struct {
	sku                     []string
	onHand, reserved, count []int64
	low, out                []int32

	lSKU, lKind, lReason, lRef []string
	lOnHand, lReserved         []int64
}

func (w *stockWrites) row(sku string, onHand, reserved, changes int64, flags inventory.AlertFlags) {
	w.sku, w.onHand, w.reserved, w.count = append(w.sku, sku), append(w.onHand, onHand), append(w.reserved, reserved), append(w.count, changes)
	w.low, w.out = append(w.low, int32(b2i(flags.Low))), append(w.out, int32(b2i(flags.Out)))
}

func (w *stockWrites) ledger(sku, kind string, onHand, reserved int64, reason, ref string) {
	w.lSKU, w.lKind, w.lReason, w.lRef = append(w.lSKU, sku), append(w.lKind, kind), append(w.lReason, reason), append(w.lRef, ref)
	w.lOnHand, w.lReserved = append(w.lOnHand, onHand), append(w.lReserved, reserved)
}

// write queues the stock update and the ledger entries. Each SKU's version
// moves by its number of changes, as one change at a time moves it.
func (w *stockWrites) write(ctx context.Context, tx *txn, at int64) error {
	if len(w.sku) == 0 {
		return nil
	}
	if err := tx.later(ctx, "updating stock", nil, `UPDATE inventory i SET on_hand = i.on_hand + d.oh, reserved = i.reserved + d.rs, version = i.version + d.n,
  updated_at = ?, low_alerted = d.lo, out_alerted = d.ou
  FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::int[], ?::int[]) AS d(sku, oh, rs, n, lo, ou)
  WHERE i.sku = d.sku AND i.sku = ANY(?)`,
		at, w.sku, w.onHand, w.reserved, w.count, w.low, w.out, w.sku); err != nil {
		return err
	}
	return tx.later(ctx, "appending ledger entries", nil, `INSERT INTO inventory_ledger (sku, kind, on_hand_delta, reserved_delta, reason, ref, at)
  SELECT d.s, d.k, d.oh, d.rs, d.r, d.f, ? FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[]) WITH ORDINALITY AS d(s, k, oh, rs, r, f, n) ORDER BY d.n`,
		at, w.lSKU, w.lKind, w.lOnHand, w.lReserved, w.lReason, w.lRef)
}

// orderRows are new orders, inserted with one statement.
type orderRows struct {
	id, customer, status, items, token, payment, failure []string
	total, version, created, updated                     []int64
}

func (b *orderRows) add(o orders.Order, items string) {
	b.id, b.customer, b.status, b.items = append(b.id, o.ID), append(b.customer, o.CustomerID), append(b.status, string(o.Status)), append(b.items, items)
	b.token, b.payment, b.failure = append(b.token, o.PaymentToken), append(b.payment, o.PaymentID), append(b.failure, o.FailureReason)
	b.total, b.version = append(b.total, o.Total), append(b.version, o.Version)
	b.created, b.updated = append(b.created, micros(o.CreatedAt)), append(b.updated, micros(o.UpdatedAt))
}

func (b *orderRows) insert(ctx context.Context, tx *txn) error {
	return tx.later(ctx, "inserting orders", nil, `INSERT INTO orders (`+orderColumns+`)
  SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[])`,
		b.id, b.customer, b.status, b.items, b.total, b.token, b.payment, b.failure, b.version, b.created, b.updated)
}

// orderUpdates are changed orders, updated with one statement.
type orderUpdates struct {
	id, status, payment, failure []string
	version, updated             []int64
}

func (b *orderUpdates) add(o orders.Order) {
	b.id, b.status, b.payment, b.failure = append(b.id, o.ID), append(b.status, string(o.Status)), append(b.payment, o.PaymentID), append(b.failure, o.FailureReason)
	b.version, b.updated = append(b.version, o.Version), append(b.updated, micros(o.UpdatedAt))
}

func (b *orderUpdates) update(ctx context.Context, tx *txn) error {
	if len(b.id) == 0 {
		return nil
	}
	return tx.later(ctx, "updating orders", nil, `UPDATE orders o SET status = d.st, payment_id = d.p, failure_reason = d.f, version = d.v, updated_at = d.u
  FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS d(id, st, p, f, v, u)
  WHERE o.id = d.id AND o.id = ANY(?)`,
		b.id, b.status, b.payment, b.failure, b.version, b.updated, b.id)
}
