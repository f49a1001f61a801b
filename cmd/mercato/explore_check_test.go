package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the books are read with the plain driver, read-only
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/orders"
)

// books is the system of record as a stopped process left it.
type books struct {
	orders       map[string]*bookOrder
	inventory    map[string][2]int64 // sku -> on_hand, reserved
	ledger       []ledgerRow
	held         []string            // reservations still held
	keys         map[string][]string // order id -> "scope/key" of the idempotency rows naming it
	receivedPOs  map[string]bool     // purchase orders received
	outbox       int64
	finalBounds  map[string][3]int64 // sku -> base, floor, ceiling
	statusCounts map[string]int
}

type bookOrder struct {
	orders.Order
	FailureReason string
}

type ledgerRow struct {
	id               int64
	sku, kind        string
	onHand, reserved int64
	reason, ref      string
	at               time.Time
}

func openBooks(path string) (*sql.DB, error) {
	return sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
}

// waitQuiet waits until no checkout is undecided (pending, reserved or
// failing), no stock is held and the outbox is relayed: for within, and
// then on while the outbox keeps shrinking (a small relay batch drains a
// long backlog slowly), up to five minutes in all. It reports whether the
// outbox was drained (the log can be checked) and what was left.
func waitQuiet(path string, within time.Duration) (drained bool, err error) {
	db, err := openBooks(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	start := time.Now()
	deadline, last := start.Add(within), int64(-1)
	for {
		var open, held, outbox int64
		err := db.QueryRow(`SELECT
  (SELECT COUNT(*) FROM orders WHERE status NOT IN ('paid', 'cancelled', 'payment_failed')),
  (SELECT COUNT(*) FROM reservations WHERE state = 'held'),
  (SELECT COUNT(*) FROM outbox)`).Scan(&open, &held, &outbox)
		if err == nil && open == 0 && held == 0 && outbox == 0 {
			return true, nil
		}
		if err == nil && last >= 0 && outbox < last && time.Since(start) < 5*time.Minute {
			if next := time.Now().Add(5 * time.Second); next.After(deadline) {
				deadline = next
			}
		}
		if err == nil {
			last = outbox
		}
		if time.Now().After(deadline) {
			if err != nil {
				return false, err
			}
			return outbox == 0, fmt.Errorf("%d orders undecided, %d reservations held, %d outbox rows unsent", open, held, outbox)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readBooks reads everything the checks need from a stopped process's
// SQLite file, read-only.
func readBooks(path string) (*books, error) {
	db, err := openBooks(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b := &books{orders: map[string]*bookOrder{}, inventory: map[string][2]int64{}, keys: map[string][]string{},
		receivedPOs: map[string]bool{}, finalBounds: map[string][3]int64{}, statusCounts: map[string]int{}}
	rows, err := db.Query(`SELECT id, customer_id, status, items, total, payment_id, failure_reason, created_at, updated_at FROM orders`)
	if err != nil {
		return nil, fmt.Errorf("reading orders: %w", err)
	}
	for rows.Next() {
		var (
			o                bookOrder
			items            string
			created, updated int64
		)
		if err := rows.Scan(&o.ID, &o.CustomerID, &o.Status, &items, &o.Total, &o.PaymentID, &o.FailureReason, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
			rows.Close()
			return nil, fmt.Errorf("items of %s: %w", o.ID, err)
		}
		o.CreatedAt, o.UpdatedAt = time.UnixMicro(created), time.UnixMicro(updated)
		b.orders[o.ID] = &o
		b.statusCounts[string(o.Status)]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.Query(`SELECT sku, on_hand, reserved FROM inventory`)
	if err != nil {
		return nil, fmt.Errorf("reading inventory: %w", err)
	}
	for rows.Next() {
		var (
			sku    string
			oh, rs int64
		)
		if err := rows.Scan(&sku, &oh, &rs); err != nil {
			rows.Close()
			return nil, err
		}
		b.inventory[sku] = [2]int64{oh, rs}
	}
	rows.Close()
	rows, err = db.Query(`SELECT id, sku, kind, on_hand_delta, reserved_delta, reason, ref, at FROM inventory_ledger ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	for rows.Next() {
		var (
			r  ledgerRow
			at int64
		)
		if err := rows.Scan(&r.id, &r.sku, &r.kind, &r.onHand, &r.reserved, &r.reason, &r.ref, &at); err != nil {
			rows.Close()
			return nil, err
		}
		r.at = time.UnixMicro(at)
		b.ledger = append(b.ledger, r)
	}
	rows.Close()
	rows, err = db.Query(`SELECT id FROM reservations WHERE state = 'held'`)
	if err != nil {
		return nil, fmt.Errorf("reading reservations: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		b.held = append(b.held, id)
	}
	rows.Close()
	rows, err = db.Query(`SELECT scope, key, resource_id FROM idempotency_keys WHERE resource_id IS NOT NULL AND resource_id <> ''`)
	if err != nil {
		return nil, fmt.Errorf("reading idempotency keys: %w", err)
	}
	for rows.Next() {
		var scope, key, id string
		if err := rows.Scan(&scope, &key, &id); err != nil {
			rows.Close()
			return nil, err
		}
		b.keys[id] = append(b.keys[id], scope+"/"+key)
	}
	rows.Close()
	rows, err = db.Query(`SELECT id FROM purchase_orders WHERE status = 'received'`)
	if err != nil {
		return nil, fmt.Errorf("reading purchase orders: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		b.receivedPOs[id] = true
	}
	rows.Close()
	rows, err = db.Query(`SELECT sku, base_price, price_floor, price_ceiling FROM products`)
	if err != nil {
		return nil, fmt.Errorf("reading products: %w", err)
	}
	for rows.Next() {
		var (
			sku    string
			bounds [3]int64
		)
		if err := rows.Scan(&sku, &bounds[0], &bounds[1], &bounds[2]); err != nil {
			rows.Close()
			return nil, err
		}
		b.finalBounds[sku] = bounds
	}
	rows.Close()
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&b.outbox); err != nil {
		return nil, fmt.Errorf("counting the outbox: %w", err)
	}
	return b, nil
}

// sold reports whether an order's stock was sold: it was paid (and may
// have been cancelled since).
func sold(o *bookOrder) bool {
	return o.Status == orders.StatusPaid || o.Status == orders.StatusCancelled
}

// soldLines are the order lines that must be on commerce.purchases and in
// the lake: "order id/sku" -> quantity.
func (b *books) soldLines() map[string]int64 {
	out := map[string]int64{}
	for _, o := range b.orders {
		if sold(o) {
			for _, l := range o.Items {
				out[o.ID+"/"+l.SKU] = l.Quantity
			}
		}
	}
	return out
}

// readEvents reads every topic Mercato writes (dead-letter topics aside) to
// its end, and checks each record against its type's JSON Schema
// (docs/events): the contracts hold for what a running platform writes.
func readEvents(seed string) (map[string][]event.Envelope, error) {
	schemas, err := loadSchemas()
	if err != nil {
		return nil, err
	}
	var topics []string
	for _, t := range event.Topics() {
		if !strings.HasSuffix(t.Name, event.DLQSuffix) {
			topics = append(topics, t.Name)
		}
	}
	out := map[string][]event.Envelope{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = readLog(ctx, seed, topics, true, func(r *kgo.Record) error {
		if r.Value == nil {
			return nil // a tombstone on a compacted topic
		}
		env, err := event.Decode(r.Value)
		if err != nil {
			return err
		}
		if err := schemas.check(env.Type, r.Value); err != nil {
			return err
		}
		out[r.Topic] = append(out[r.Topic], env)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, nil
}

// waitLake waits until the sales lake holds every sold line, and returns
// its rows.
func waitLake(root string, want map[string]int64, within time.Duration) ([]lake.Sale, error) {
	deadline := time.Now().Add(within)
	for {
		rows, err := readLakeSales(root)
		if err != nil {
			return nil, err
		}
		have := map[string]bool{}
		for _, s := range rows {
			have[s.OrderID+"/"+s.SKU] = true
		}
		missing := 0
		for k := range want {
			if !have[k] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return rows, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readLakeSales(root string) ([]lake.Sale, error) {
	days, err := lake.Dates(root, lake.TableSales)
	if err != nil {
		return nil, err
	}
	var out []lake.Sale
	for _, d := range days {
		files, err := lake.Files(root, lake.TableSales, d)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			sales, err := lake.ReadFile[lake.Sale](f.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, sales...)
		}
	}
	return out, nil
}

// check compares the books, the event log and the lake with what the
// clients were told. Without a log (the outbox was never drained) only the
// books are checked: every event would be reported missing.
func (h *harness) check(b *books, events map[string][]event.Envelope, lakeRows []lake.Sale, haveLog bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bad := func(format string, a ...any) { h.problems = append(h.problems, fmt.Sprintf(format, a...)) }

	// What the log says per order.
	type orderEvents struct {
		paid, failed, cancelled, authorized, declined, refunded map[string]bool
		authAmount                                              int64
		authID                                                  string
		purchases                                               map[string]map[string]event.Purchase // sku -> event id -> data
	}
	byOrder := map[string]*orderEvents{}
	of := func(id string) *orderEvents {
		e := byOrder[id]
		if e == nil {
			e = &orderEvents{paid: map[string]bool{}, failed: map[string]bool{}, cancelled: map[string]bool{}, authorized: map[string]bool{},
				declined: map[string]bool{}, refunded: map[string]bool{}, purchases: map[string]map[string]event.Purchase{}}
			byOrder[id] = e
		}
		return e
	}
	redelivered := 0
	seen := map[string]bool{}
	for _, topic := range []string{event.TopicPurchases, event.TopicPayments, event.TopicOrders} {
		for _, env := range events[topic] {
			if seen[env.ID] {
				redelivered++
				continue
			}
			seen[env.ID] = true
			switch env.Type {
			case "purchase":
				var p event.Purchase
				if err := json.Unmarshal(env.Data, &p); err != nil {
					bad("purchase event %s: %v", env.ID, err)
					continue
				}
				e := of(p.OrderID)
				if e.purchases[p.SKU] == nil {
					e.purchases[p.SKU] = map[string]event.Purchase{}
				}
				e.purchases[p.SKU][env.ID] = p
			case "payment.authorized", "payment.declined", "payment.refunded":
				var p event.Payment
				if err := json.Unmarshal(env.Data, &p); err != nil {
					bad("payment event %s: %v", env.ID, err)
					continue
				}
				e := of(p.OrderID)
				switch env.Type {
				case "payment.authorized":
					e.authorized[env.ID], e.authAmount, e.authID = true, p.Amount, p.AuthorizationID
				case "payment.declined":
					e.declined[env.ID] = true
				default:
					e.refunded[env.ID] = true
				}
			case "order.paid":
				of(env.Subject).paid[env.ID] = true
			case "order.payment_failed":
				of(env.Subject).failed[env.ID] = true
			case "order.cancelled":
				of(env.Subject).cancelled[env.ID] = true
			}
		}
	}
	for id := range byOrder {
		if b.orders[id] == nil {
			bad("the log has events of order %s, which the books do not hold", id)
		}
	}

	// The ledger, per order and per SKU.
	commits := map[string]map[string]int64{} // order -> sku -> units sold
	returns := map[string]map[string]int64{} // "cancel"|"abandon" + order -> sku -> units
	harnessRefs := map[string]int{}
	running := map[string][2]int64{}
	for _, r := range b.ledger {
		cur := running[r.sku]
		cur[0] += r.onHand
		cur[1] += r.reserved
		running[r.sku] = cur
		if cur[1] < 0 || cur[0] < cur[1] {
			bad("ledger of %s: after entry %d (%s %s %s) on_hand %d, reserved %d: available went negative", r.sku, r.id, r.kind, r.reason, r.ref, cur[0], cur[1])
		}
		switch {
		case r.kind == "initial":
			if s := h.bySKU[r.sku]; s == nil || r.onHand != s.initial {
				bad("ledger of %s: initial entry %+v does not match the catalogue the clients created", r.sku, r)
			}
		case r.kind == "reserve" || r.kind == "release":
			if b.orders[r.ref] == nil {
				bad("ledger of %s: %s of %s, which is no order", r.sku, r.kind, r.ref)
			}
		case r.kind == "commit":
			if commits[r.ref] == nil {
				commits[r.ref] = map[string]int64{}
			}
			commits[r.ref][r.sku] += -r.onHand
		case r.kind == "adjust" && strings.HasPrefix(r.ref, "cancel:"), r.kind == "adjust" && strings.HasPrefix(r.ref, "abandon:"):
			kind, id, _ := strings.Cut(r.ref, ":")
			if returns[kind+":"+id] == nil {
				returns[kind+":"+id] = map[string]int64{}
			}
			returns[kind+":"+id][r.sku] += r.onHand
		case r.kind == "adjust" && strings.HasPrefix(r.ref, "po:"):
			if !b.receivedPOs[strings.TrimPrefix(r.ref, "po:")] {
				bad("ledger of %s: receipt %s of a purchase order that is not received", r.sku, r.ref)
			}
		case r.kind == "adjust" && h.adjustments[r.ref] != nil:
			a := h.adjustments[r.ref]
			harnessRefs[r.ref]++
			if a.sku != r.sku || a.delta != r.onHand || r.reserved != 0 {
				bad("adjustment %s: the ledger holds %s %+d, the client sent %s %+d", r.ref, r.sku, r.onHand, a.sku, a.delta)
			}
			if a.refused {
				bad("adjustment %s was refused (409) but is in the ledger", r.ref)
			}
		default:
			bad("ledger of %s: unexplained entry %d: %s %s %q %+d/%+d", r.sku, r.id, r.kind, r.reason, r.ref, r.onHand, r.reserved)
		}
	}
	for ref, a := range h.adjustments {
		switch n := harnessRefs[ref]; {
		case n > 1:
			bad("adjustment %s is in the ledger %d times", ref, n)
		case n == 0 && a.acked:
			bad("adjustment %s of %s %+d was acknowledged but is not in the ledger", ref, a.sku, a.delta)
		}
	}
	for _, id := range b.held {
		bad("reservation %s is still held after recovery", id)
	}

	// Per order: its status, payment, ledger, events and prices.
	soldUnits, returned := map[string]int64{}, map[string]int64{}
	for id, o := range b.orders {
		e := of(id)
		lines := map[string]int64{}
		var total int64
		for _, l := range o.Items {
			lines[l.SKU] = l.Quantity
			total += l.UnitPrice * l.Quantity
			if l.UnitPrice <= 0 {
				bad("order %s: %s at unit price %d", id, l.SKU, l.UnitPrice)
			}
		}
		if total != o.Total {
			bad("order %s: total %d, its lines sum to %d", id, o.Total, total)
		}
		cancelReturn, abandonReturn := returns["cancel:"+id], returns["abandon:"+id]
		switch o.Status {
		case orders.StatusPaid, orders.StatusCancelled:
			if o.PaymentID == "" {
				bad("order %s is %s with no payment id (an authorization it does not hold)", id, o.Status)
			}
			if !maps2Equal(commits[id], lines) {
				bad("order %s is %s: its sale in the ledger is %v, its lines %v", id, o.Status, commits[id], lines)
			}
			if abandonReturn != nil {
				bad("order %s is %s but its stock was given back by the recovery loop (abandon: %v): phantom stock", id, o.Status, abandonReturn)
			}
			if !haveLog {
				// no log to compare with
			} else if len(e.authorized) != 1 {
				bad("order %s is %s with %d payment.authorized events", id, o.Status, len(e.authorized))
			} else if e.authAmount != o.Total || e.authID != o.PaymentID {
				bad("order %s: authorized %d as %q, the order holds %d as %q", id, e.authAmount, e.authID, o.Total, o.PaymentID)
			}
			if len(e.declined) > 0 || len(e.failed) > 0 {
				bad("order %s is %s but the log also says it failed (%d payment.declined, %d order.payment_failed): its authorization was voided", id, o.Status, len(e.declined), len(e.failed))
			}
			if haveLog && len(e.paid) != 1 {
				bad("order %s is %s with %d order.paid events", id, o.Status, len(e.paid))
			}
			for sku, q := range lines {
				ps := e.purchases[sku]
				if haveLog && len(ps) != 1 {
					bad("order %s line %s: %d distinct purchase events, want 1", id, sku, len(ps))
				}
				for eid, p := range ps {
					if p.Quantity != q || p.UnitPrice != unitPrice(o, sku) {
						bad("purchase event %s of order %s: %d × %d, the order holds %d × %d", eid, id, p.Quantity, p.UnitPrice, q, unitPrice(o, sku))
					}
				}
			}
			for sku := range e.purchases {
				if _, ok := lines[sku]; !ok {
					bad("order %s: a purchase event for %s, which it does not hold", id, sku)
				}
			}
			for sku, q := range lines {
				soldUnits[sku] += q
			}
			if o.Status == orders.StatusCancelled {
				if !maps2Equal(cancelReturn, lines) {
					bad("order %s is cancelled; its stock returned in the ledger is %v, its lines %v", id, cancelReturn, lines)
				}
				if haveLog && (len(e.refunded) != 1 || len(e.cancelled) != 1) {
					bad("order %s is cancelled with %d payment.refunded and %d order.cancelled events", id, len(e.refunded), len(e.cancelled))
				}
				for sku, q := range lines {
					returned[sku] += q
				}
			} else if cancelReturn != nil {
				bad("order %s is paid but its stock was returned by a cancel (%v)", id, cancelReturn)
			}
			keys := b.keys[id]
			if len(keys) != 1 {
				bad("order %s is %s and named by %d idempotency keys %v, want 1", id, o.Status, len(keys), keys)
			} else if h.byKey[keys[0]] == nil {
				bad("order %s is %s under key %s, which no client sent", id, o.Status, keys[0])
			}
			h.checkPrices(bad, o, keys)
		case orders.StatusPaymentFailed:
			if len(e.authorized) > 0 || len(e.paid) > 0 || len(e.purchases) > 0 {
				bad("order %s is payment_failed but the log says it was paid (%d payment.authorized, %d order.paid, purchases of %d skus)", id, len(e.authorized), len(e.paid), len(e.purchases))
			}
			if haveLog && len(e.failed) != 1 {
				bad("order %s is payment_failed with %d order.payment_failed events", id, len(e.failed))
			}
			if cancelReturn != nil {
				bad("order %s is payment_failed but a cancel returned its stock", id)
			}
			if commits[id] != nil || abandonReturn != nil {
				// Sold and given back: the two must match.
				if !maps2Equal(commits[id], abandonReturn) {
					bad("order %s is payment_failed: its stock sold %v, given back %v", id, commits[id], abandonReturn)
				}
			}
		default:
			bad("order %s was left %s", id, o.Status)
		}
	}

	// What the clients were told.
	for _, lo := range h.byKey {
		h.checkAnswers(bad, b, lo)
	}

	// Per SKU: the ledger equals the stock, nothing is held, and the stock
	// is conserved.
	for _, s := range h.skus {
		inv, ok := b.inventory[s.sku]
		if !ok {
			bad("no stock row for %s", s.sku)
			continue
		}
		if led := running[s.sku]; led != inv {
			bad("%s: the ledger sums to on_hand %d / reserved %d, the stock row holds %d / %d", s.sku, led[0], led[1], inv[0], inv[1])
		}
		if inv[1] != 0 {
			bad("%s: %d units still reserved after recovery", s.sku, inv[1])
		}
		adjusted := int64(0)
		for ref, a := range h.adjustments {
			if a.sku == s.sku && harnessRefs[ref] > 0 {
				adjusted += a.delta
			}
		}
		received := int64(0)
		for _, r := range b.ledger {
			if r.sku == s.sku && r.kind == "adjust" && strings.HasPrefix(r.ref, "po:") {
				received += r.onHand
			}
		}
		want := s.initial + adjusted + received - soldUnits[s.sku] + returned[s.sku]
		if inv[0] != want {
			bad("%s: on_hand %d != initial %d + adjustments %d + receipts %d - sold %d + returned %d = %d",
				s.sku, inv[0], s.initial, adjusted, received, soldUnits[s.sku], returned[s.sku], want)
		}
	}

	h.statuses[fmt.Sprintf("log redeliveries %d", redelivered)]++
	if !haveLog {
		return
	}
	// The lake holds each sold line once.
	lines := b.soldLines()
	rowsByEvent := map[string]int{}
	lakeLines := map[string]int{}
	for _, r := range lakeRows {
		rowsByEvent[r.EventID]++
		lakeLines[r.OrderID+"/"+r.SKU]++
		if want, ok := lines[r.OrderID+"/"+r.SKU]; !ok {
			bad("the lake holds a sale of %s by order %s, which was not sold", r.SKU, r.OrderID)
		} else if r.Quantity != want {
			bad("the lake holds %d × %s for order %s, the order %d", r.Quantity, r.SKU, r.OrderID, want)
		}
	}
	for k := range lines {
		if n := lakeLines[k]; n != 1 {
			bad("the lake holds line %s %d times, want once", k, n)
		}
	}
	for id, n := range rowsByEvent {
		if n > 1 {
			bad("the lake holds purchase event %s %d times", id, n)
		}
	}
}

func unitPrice(o *bookOrder, sku string) int64 {
	for _, l := range o.Items {
		if l.SKU == sku {
			return l.UnitPrice
		}
	}
	return 0
}

func maps2Equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkAnswers checks one key's answers against the books: one key, one
// order; a 201 order is paid (or cancelled, when its client cancelled it)
// as the 201 said; an order a client was told failed was not charged; an
// answer after a final one replays it byte for byte.
func (h *harness) checkAnswers(bad func(string, ...any), b *books, lo *exploreOrder) {
	var first *orderAttempt // the first final answer
	ids := map[string]bool{}
	for _, a := range lo.attempts {
		if a.status == 201 && a.orderID != "" {
			ids[a.orderID] = true
		}
		if a.final() && (first == nil || a.end.Before(first.end)) {
			first = a
		}
	}
	if len(ids) > 1 {
		bad("key %s: 201 answers name %d different orders %v", lo.key, len(ids), ids)
	}
	if first != nil {
		for _, a := range lo.attempts {
			if a.status > 0 && a.start.After(first.end) && (a.status != first.status || !bytes.Equal(a.body, first.body)) {
				bad("key %s: answered %d %s, then a retry %d %s", lo.key, first.status, first.body, a.status, a.body)
			}
		}
	}
	for _, a := range lo.attempts {
		if a.orderID == "" {
			continue
		}
		o := b.orders[a.orderID]
		if o == nil {
			bad("key %s: answered %d naming order %s, which the books do not hold", lo.key, a.status, a.orderID)
			continue
		}
		if o.CustomerID != lo.scope {
			bad("order %s belongs to %s, its key to %s", o.ID, o.CustomerID, lo.scope)
		}
		if a.status != 201 {
			if sold(o) && (a.status == 402 || a.status == 409 || a.status == 503) {
				bad("key %s: answered %d (%s) but order %s is %s: a customer told it failed was charged", lo.key, a.status, bytes.TrimSpace(a.body), o.ID, o.Status)
			}
			continue
		}
		c := h.cancels[o.ID]
		switch {
		case o.Status == orders.StatusCancelled && c == nil:
			bad("order %s got a 201 and is cancelled, but its client never cancelled it", o.ID)
		case o.Status == orders.StatusPaid && c != nil && c.acked:
			bad("order %s: its cancel was acknowledged, but it is paid", o.ID)
		case o.Status != orders.StatusPaid && o.Status != orders.StatusCancelled:
			bad("order %s got a 201 but is %s (%s)", o.ID, o.Status, o.FailureReason)
		}
		if a.order != nil && (a.order.Total != o.Total || !slices.Equal(a.order.Items, o.Items) || a.order.Status != orders.StatusPaid) {
			bad("order %s: the 201 said %s %d %v, the books hold %d %v", o.ID, a.order.Status, a.order.Total, a.order.Items, o.Total, o.Items)
		}
	}
}

// checkPrices checks each line was charged inside the product's bounds as
// they were while its checkout ran: any version in force at some moment
// between the first attempt's start and the last attempt's end of the key
// that made the order. A version may be in force from the moment its PUT
// was sent until a later version's PUT is acknowledged.
func (h *harness) checkPrices(bad func(string, ...any), o *bookOrder, keys []string) {
	from, to := o.CreatedAt.Add(-time.Second), o.UpdatedAt
	if len(keys) == 1 && h.byKey[keys[0]] != nil {
		lo := h.byKey[keys[0]]
		for i, a := range lo.attempts {
			if i == 0 || a.start.Before(from) {
				from = a.start
			}
			if i == 0 || a.end.After(to) {
				to = a.end
			}
		}
	}
	for _, l := range o.Items {
		s := h.bySKU[l.SKU]
		if s == nil {
			continue
		}
		var allowed []string
		ok := false
		for i, v := range s.versions {
			if v.outcome == "refused" || (i > 0 && v.sent.After(to)) {
				continue
			}
			superseded := false
			for _, w := range s.versions[i+1:] {
				if w.outcome == "acked" && !w.acked.After(from) {
					superseded = true
					break
				}
			}
			if superseded {
				continue
			}
			allowed = append(allowed, fmt.Sprintf("[%d, %d]", v.floor, v.ceiling))
			if l.UnitPrice >= v.floor && l.UnitPrice <= v.ceiling {
				ok = true
			}
		}
		if !ok {
			bad("order %s (checkout %s to %s) charged %s at %d, outside the bounds in force then %s",
				o.ID, from.Format("15:04:05.000"), to.Format("15:04:05.000"), l.SKU, l.UnitPrice, strings.Join(allowed, " or "))
		}
	}
}

// summary says what a seed did, for the log.
func (h *harness) summary(b *books) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var st []string
	for k, n := range h.statuses {
		st = append(st, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(st)
	acked, cancels := 0, 0
	for _, a := range h.adjustments {
		if a.acked {
			acked++
		}
	}
	for _, c := range h.cancels {
		if c.acked {
			cancels++
		}
	}
	changes := 0
	for _, s := range h.skus {
		changes += len(s.versions) - 1
	}
	return fmt.Sprintf("orders in the books %v; %d keys; %d adjustments acknowledged of %d; %d cancels; %d bound changes; %d kills; %d stock samples; answers {%s}",
		b.statusCounts, len(h.byKey), acked, len(h.adjustments), cancels, changes, len(h.kills), h.samples, strings.Join(st, ", "))
}
