package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/replenishment"
)

// PurchaseOrders is the replenishment port with the catalogue that creates
// SKUs, their stock levels (on_order follows the open orders) and the
// outbox the orders' events go to.
type PurchaseOrders interface {
	replenishment.Store
	catalog.Repository
	outbox.Store
	Levels(ctx context.Context, sku string) (inventory.Levels, error)
}

// RunPurchaseOrders runs the purchase order and demand cases
// (replenishment.Store). newStore returns a fresh, empty store.
func RunPurchaseOrders(t *testing.T, newStore func(t *testing.T) PurchaseOrders) {
	t.Run("PurchaseOrderOncePerTrigger", func(t *testing.T) { t.Parallel(); testPOOncePerTrigger(t, newStore(t)) })
	t.Run("OneOpenPurchaseOrderPerSKUAndUrgency", func(t *testing.T) { t.Parallel(); testPOOnePerSKU(t, newStore(t)) })
	t.Run("PurchaseOrderListings", func(t *testing.T) { t.Parallel(); testPOListings(t, newStore(t)) })
	t.Run("PurchaseOrderUpdates", func(t *testing.T) { t.Parallel(); testPOUpdates(t, newStore(t)) })
	t.Run("DemandOncePerEventPerUTCDay", func(t *testing.T) { t.Parallel(); testDemand(t, newStore(t)) })
}

var poTime = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// purchaseOrder returns a requested order created at poTime + after.
func purchaseOrder(id, sku string, qty int64, urgent bool, after time.Duration) replenishment.PurchaseOrder {
	at := poTime.Add(after)
	return replenishment.PurchaseOrder{
		ID: id, SKU: sku, Quantity: qty, Status: replenishment.StatusRequested, Supplier: "acme", Urgent: urgent,
		CreatedAt: at, ExpectedAt: at.Add(72 * time.Hour), UpdatedAt: at, TriggerEvent: "trigger-" + id,
		Reason: replenishment.Justification{DailyDemand: 20.5, StdDev: 3.25, LeadTime: 3, Z: 1.6448536269514722, ROP: 61.5, EOQ: 130, Position: 50, Quantity: qty},
	}
}

// createPO stores po under its own trigger key with one event.
func createPO(t *testing.T, s PurchaseOrders, po replenishment.PurchaseOrder) (bool, error) {
	t.Helper()
	return s.CreatePurchaseOrder(ctx(t), po, po.TriggerEvent, []event.Message{msg(t, event.TopicPurchaseOrders, "test.po", po.ID)})
}

func mustCreatePO(t *testing.T, s PurchaseOrders, po replenishment.PurchaseOrder) {
	t.Helper()
	if created, err := createPO(t, s, po); err != nil || !created {
		t.Fatalf("creating %s: created=%v %v", po.ID, created, err)
	}
}

func onOrder(t *testing.T, s PurchaseOrders, sku string) int64 {
	t.Helper()
	l, err := s.Levels(ctx(t), sku)
	if err != nil {
		t.Fatalf("Levels(%s): %v", sku, err)
	}
	return l.OnOrder
}

func poIDs(pos []replenishment.PurchaseOrder) string {
	ids := make([]string, len(pos))
	for i, po := range pos {
		ids[i] = po.ID
	}
	return fmt.Sprint(ids)
}

func testPOOncePerTrigger(t *testing.T, s PurchaseOrders) {
	put(t, s, Product("P-1", "grocery"), 10)
	put(t, s, Product("P-2", "grocery"), 10)
	before := len(pending(t, s))
	po := purchaseOrder("po_1", "P-1", 24, false, 0)
	m := msg(t, event.TopicPurchaseOrders, "test.po", po.ID)
	if created, err := s.CreatePurchaseOrder(ctx(t), po, po.TriggerEvent, []event.Message{m}); err != nil || !created {
		t.Fatalf("create: created=%v %v", created, err)
	}
	got, err := s.GetPurchaseOrder(ctx(t), "po_1")
	if err != nil || !reflect.DeepEqual(got, po) {
		t.Fatalf("GetPurchaseOrder =\n%+v (%v)\nwant\n%+v", got, err, po)
	}
	if n := onOrder(t, s, "P-1"); n != 24 {
		t.Errorf("on_order = %d, want 24", n)
	}
	rows := pending(t, s)[before:]
	if len(rows) != 1 || rows[0].EventID != m.Envelope.ID {
		t.Fatalf("outbox = %+v, want the order's one event", rows)
	}
	// The same trigger again (a redelivered event): nothing is written.
	again := purchaseOrder("po_1b", "P-1", 30, false, time.Hour)
	again.TriggerEvent = po.TriggerEvent
	if created, err := createPO(t, s, again); err != nil || created {
		t.Fatalf("same trigger: created=%v %v, want false and no error", created, err)
	}
	if _, err := s.GetPurchaseOrder(ctx(t), "po_1b"); !errors.Is(err, replenishment.ErrNotFound) {
		t.Fatalf("the order of a repeated trigger exists: %v", err)
	}
	if n := onOrder(t, s, "P-1"); n != 24 {
		t.Errorf("on_order after a repeated trigger = %d, want 24", n)
	}
	if rows := pending(t, s)[before:]; len(rows) != 1 {
		t.Errorf("a repeated trigger wrote %d events", len(rows)-1)
	}
	if _, err := s.GetPurchaseOrder(ctx(t), "po_nope"); !errors.Is(err, replenishment.ErrNotFound) {
		t.Fatalf("unknown order: %v, want ErrNotFound", err)
	}
	// An event that cannot be written fails the order whole, and leaves its
	// trigger unused.
	bad := purchaseOrder("po_2", "P-2", 12, false, 0)
	if _, err := s.CreatePurchaseOrder(ctx(t), bad, bad.TriggerEvent, []event.Message{malformed}); err == nil {
		t.Fatal("a malformed event was accepted")
	}
	if _, err := s.GetPurchaseOrder(ctx(t), "po_2"); !errors.Is(err, replenishment.ErrNotFound) {
		t.Fatalf("the order of a failed write exists: %v", err)
	}
	if n := onOrder(t, s, "P-2"); n != 0 {
		t.Errorf("on_order after a failed write = %d, want 0", n)
	}
	mustCreatePO(t, s, bad)
	if n := onOrder(t, s, "P-2"); n != 12 {
		t.Errorf("on_order = %d, want 12", n)
	}
}

// testPOOnePerSKU: a SKU has at most one open regular and one open urgent
// order; a closed order makes room for the next.
func testPOOnePerSKU(t *testing.T, s PurchaseOrders) {
	put(t, s, Product("P-1", "grocery"), 10)
	mustCreatePO(t, s, purchaseOrder("po_1", "P-1", 24, false, 0))
	if _, err := createPO(t, s, purchaseOrder("po_2", "P-1", 36, false, time.Hour)); !errors.Is(err, replenishment.ErrOpenOrderExists) {
		t.Fatalf("a second regular order: %v, want ErrOpenOrderExists", err)
	}
	if _, err := s.GetPurchaseOrder(ctx(t), "po_2"); !errors.Is(err, replenishment.ErrNotFound) {
		t.Fatalf("the refused order exists: %v", err)
	}
	mustCreatePO(t, s, purchaseOrder("po_3", "P-1", 8, true, time.Hour))
	if _, err := createPO(t, s, purchaseOrder("po_4", "P-1", 8, true, 2*time.Hour)); !errors.Is(err, replenishment.ErrOpenOrderExists) {
		t.Fatalf("a second urgent order: %v, want ErrOpenOrderExists", err)
	}
	if n := onOrder(t, s, "P-1"); n != 32 {
		t.Fatalf("on_order = %d, want 24 + 8", n)
	}
	cancel := func(po *replenishment.PurchaseOrder) ([]event.Message, error) {
		po.Status, po.UpdatedAt = replenishment.StatusCancelled, poTime.Add(3*time.Hour)
		return nil, nil
	}
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_1", cancel); err != nil {
		t.Fatal(err)
	}
	mustCreatePO(t, s, purchaseOrder("po_5", "P-1", 12, false, 4*time.Hour))
	if n := onOrder(t, s, "P-1"); n != 20 {
		t.Fatalf("on_order = %d, want 8 + 12", n)
	}
}

func testPOListings(t *testing.T, s PurchaseOrders) {
	for _, sku := range []string{"P-1", "P-2", "P-3"} {
		put(t, s, Product(sku, "grocery"), 10)
	}
	mustCreatePO(t, s, purchaseOrder("po_a", "P-1", 10, false, 0))
	mustCreatePO(t, s, purchaseOrder("po_b", "P-2", 10, false, time.Hour))
	mustCreatePO(t, s, purchaseOrder("po_e", "P-3", 10, false, time.Hour)) // as new as po_b: the id decides
	mustCreatePO(t, s, purchaseOrder("po_c", "P-1", 10, true, 2*time.Hour))
	open, err := s.OpenPurchaseOrders(ctx(t), "P-1")
	if err != nil || poIDs(open) != "[po_a po_c]" {
		t.Fatalf("open orders of P-1 = %s %v, want oldest first [po_a po_c]", poIDs(open), err)
	}
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_a", func(po *replenishment.PurchaseOrder) ([]event.Message, error) {
		po.Status, po.UpdatedAt = replenishment.StatusCancelled, poTime.Add(3*time.Hour)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if open, err := s.OpenPurchaseOrders(ctx(t), "P-1"); err != nil || poIDs(open) != "[po_c]" {
		t.Fatalf("open orders of P-1 after a cancel = %s %v", poIDs(open), err)
	}
	if open, err := s.OpenPurchaseOrders(ctx(t), "NOPE"); err != nil || len(open) != 0 {
		t.Fatalf("open orders of an unknown SKU = %s %v", poIDs(open), err)
	}
	for _, c := range []struct {
		status replenishment.Status
		sku    string
		limit  int
		want   string
	}{
		{"", "", 10, "[po_c po_e po_b po_a]"},
		{"", "", 2, "[po_c po_e]"},
		{replenishment.StatusRequested, "", 10, "[po_c po_e po_b]"},
		{replenishment.StatusCancelled, "", 10, "[po_a]"},
		{"", "P-1", 10, "[po_c po_a]"},
		{replenishment.StatusRequested, "P-1", 10, "[po_c]"},
		{replenishment.StatusCancelled, "P-2", 10, "[]"},
	} {
		got, err := s.ListPurchaseOrders(ctx(t), c.status, c.sku, c.limit)
		if err != nil || poIDs(got) != c.want {
			t.Errorf("ListPurchaseOrders(%q, %q, %d) = %s %v, want newest first %s", c.status, c.sku, c.limit, poIDs(got), err, c.want)
		}
		if got == nil && err == nil {
			t.Errorf("ListPurchaseOrders(%q, %q, %d) = nil, want an empty list (it encodes as [])", c.status, c.sku, c.limit)
		}
	}
}

// testPOUpdates: an update that moves the order stores its state and its
// events together; one that fails or changes nothing writes nothing;
// leaving the open states lowers on_order.
func testPOUpdates(t *testing.T, s PurchaseOrders) {
	put(t, s, Product("P-1", "grocery"), 10)
	po := purchaseOrder("po_1", "P-1", 24, false, 0)
	mustCreatePO(t, s, po)
	before := len(pending(t, s))
	move := func(to replenishment.Status, after time.Duration, events ...event.Message) func(*replenishment.PurchaseOrder) ([]event.Message, error) {
		return func(po *replenishment.PurchaseOrder) ([]event.Message, error) {
			po.Status, po.UpdatedAt = to, poTime.Add(after)
			return events, nil
		}
	}
	confirmed, err := s.UpdatePurchaseOrder(ctx(t), "po_1", move(replenishment.StatusConfirmed, time.Hour, msg(t, event.TopicPurchaseOrders, "test.po", "po_1")))
	if err != nil || confirmed.Status != replenishment.StatusConfirmed || !confirmed.UpdatedAt.Equal(poTime.Add(time.Hour)) {
		t.Fatalf("confirm: %+v %v", confirmed, err)
	}
	want := po
	want.Status, want.UpdatedAt = replenishment.StatusConfirmed, poTime.Add(time.Hour)
	if got, err := s.GetPurchaseOrder(ctx(t), "po_1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after confirm =\n%+v (%v)\nwant\n%+v", got, err, want)
	}
	if n := onOrder(t, s, "P-1"); n != 24 {
		t.Errorf("on_order of a confirmed order = %d, want 24", n)
	}
	if rows := pending(t, s); len(rows) != before+1 {
		t.Fatalf("confirm wrote %d events, want 1", len(rows)-before)
	}
	boom := errors.New("boom")
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_1", func(po *replenishment.PurchaseOrder) ([]event.Message, error) {
		po.Status = replenishment.StatusCancelled
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing update: %v, want its error", err)
	}
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_1", move(replenishment.StatusCancelled, 2*time.Hour, malformed)); err == nil {
		t.Fatal("a malformed event was accepted")
	}
	unchanged, err := s.UpdatePurchaseOrder(ctx(t), "po_1", move(replenishment.StatusConfirmed, 2*time.Hour, msg(t, event.TopicPurchaseOrders, "test.po", "po_1")))
	if err != nil || unchanged.Status != replenishment.StatusConfirmed {
		t.Fatalf("unchanged update: %+v %v", unchanged, err)
	}
	if got, _ := s.GetPurchaseOrder(ctx(t), "po_1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("updates that failed or changed nothing stored\n%+v\nwant\n%+v", got, want)
	}
	if n := onOrder(t, s, "P-1"); n != 24 {
		t.Errorf("on_order after updates that wrote nothing = %d, want 24", n)
	}
	if rows := pending(t, s); len(rows) != before+1 {
		t.Fatalf("updates that failed or changed nothing wrote %d events", len(rows)-before-1)
	}
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_1", move(replenishment.StatusCancelled, 3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := onOrder(t, s, "P-1"); n != 0 {
		t.Errorf("on_order of a cancelled order = %d, want 0", n)
	}
	if _, err := s.UpdatePurchaseOrder(ctx(t), "po_nope", move(replenishment.StatusCancelled, 0)); !errors.Is(err, replenishment.ErrNotFound) {
		t.Fatalf("update of an unknown order: %v, want ErrNotFound", err)
	}
}

// testDemand: units count once per event id (across SKUs), on the event's
// UTC day; a range reads every day in it, zero days included.
func testDemand(t *testing.T, s PurchaseOrders) {
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	seoul := time.FixedZone("KST", 9*3600)
	record := func(id, sku string, at time.Time, units int64, want bool) {
		t.Helper()
		if n, err := s.RecordDemands(ctx(t), []replenishment.Demand{{EventID: id, SKU: sku, At: at, Units: units}}); err != nil || (n == 1) != want {
			t.Fatalf("RecordDemands(%s, %s) = %d %v, want new: %v", id, sku, n, err, want)
		}
	}
	record("e1", "D-1", day.Add(10*time.Hour), 3, true)
	record("e1", "D-1", day.Add(10*time.Hour), 3, false)
	record("e1", "D-2", day.Add(10*time.Hour), 3, false)
	record("e2", "D-1", day.Add(23*time.Hour), 5, true)
	record("e3", "D-1", time.Date(2026, 11, 27, 8, 0, 0, 0, seoul), 4, true) // the 26th in UTC
	record("e4", "D-2", day, 7, true)
	for _, c := range []struct {
		from, to time.Time
		want     string
	}{
		{day, day.Add(72 * time.Hour), "[8 0 4]"},
		{day.Add(12 * time.Hour), day.Add(72 * time.Hour), "[8 0 4]"},
		{day.Add(-24 * time.Hour), day.Add(48 * time.Hour), "[0 8 0]"},
		{day.Add(24 * time.Hour), day.Add(24 * time.Hour), "[]"},
		{day.Add(48 * time.Hour), day, "[]"},
	} {
		got, err := s.DailyDemand(ctx(t), "D-1", c.from, c.to)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("DailyDemand(%s, %s) = %v %v, want %s", c.from, c.to, got, err, c.want)
		}
	}
	if got, err := s.DailyDemand(ctx(t), "D-3", day, day.Add(48*time.Hour)); err != nil || fmt.Sprint(got) != "[0 0]" {
		t.Errorf("demand of a SKU without sales = %v %v, want [0 0]", got, err)
	}

	// A batch counts each event id once too: one seen before (e2), one
	// repeated within the batch (b1), two of one SKU's day summed.
	batch := []replenishment.Demand{
		{EventID: "b1", SKU: "D-3", At: day.Add(time.Hour), Units: 2},
		{EventID: "e2", SKU: "D-3", At: day, Units: 100},
		{EventID: "b1", SKU: "D-3", At: day, Units: 100},
		{EventID: "b2", SKU: "D-3", At: day.Add(2 * time.Hour), Units: 3},
		{EventID: "b3", SKU: "D-1", At: day.Add(25 * time.Hour), Units: 1},
		{EventID: "b4", SKU: "D-3", At: day.Add(30 * time.Hour), Units: 6},
	}
	if n, err := s.RecordDemands(ctx(t), batch); err != nil || n != 4 {
		t.Fatalf("RecordDemands = %d %v, want 4 new", n, err)
	}
	if n, err := s.RecordDemands(ctx(t), batch); err != nil || n != 0 {
		t.Fatalf("RecordDemands of the same batch again = %d %v, want 0 new", n, err)
	}
	if n, err := s.RecordDemands(ctx(t), nil); err != nil || n != 0 {
		t.Fatalf("RecordDemands of nothing = %d %v", n, err)
	}
	for sku, want := range map[string]string{"D-3": "[5 6]", "D-1": "[8 1]"} {
		if got, err := s.DailyDemand(ctx(t), sku, day, day.Add(48*time.Hour)); err != nil || fmt.Sprint(got) != want {
			t.Errorf("demand of %s after a batch = %v %v, want %s", sku, got, err, want)
		}
	}
}
