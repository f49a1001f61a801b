package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/mercato-platform/mercato/internal/event"
)

func TestColumnsMatchParquetSchemas(t *testing.T) {
	t.Parallel()
	for table, row := range map[string]any{TableSales: Sale{}, TableOrders: Order{}, TablePayments: Payment{}} {
		var names []string
		for _, f := range parquet.SchemaOf(row).Fields() {
			names = append(names, f.Name())
		}
		var want []string
		for _, c := range Columns[table] {
			want = append(want, c.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: parquet columns %v, SQL columns %v", table, names, want)
		}
	}
}

func TestFileNamesRoundTrip(t *testing.T) {
	t.Parallel()
	name := FileName(7, 120, 99_000)
	r, ok := ParseFileName(name)
	if !ok || r != (Range{Partition: 7, From: 120, To: 99_000}) {
		t.Fatalf("%s -> %+v %v", name, r, ok)
	}
	for _, bad := range []string{"part-gen-00001.parquet", ".part-p0001-1-2.parquet.123.tmp", "part-p0001-9-2.parquet", "x.parquet"} {
		if _, ok := ParseFileName(bad); ok {
			t.Errorf("%s parsed as a sink file", bad)
		}
	}
	if !r.Contains(7, 120) || !r.Contains(7, 99_000) || r.Contains(7, 119) || r.Contains(6, 200) {
		t.Error("Contains is wrong at the edges")
	}
}

var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err)
	}
	return loc
}()

func purchase(t *testing.T, id string, at time.Time, sku string, qty, price int64) event.Envelope {
	t.Helper()
	env, err := event.New("purchase", "test", sku, at, map[string]any{"sku": sku, "quantity": qty, "unit_price": price,
		"order_id": "ord_" + id, "category": "grocery", "base_price": price})
	if err != nil {
		t.Fatal(err)
	}
	env.ID = id
	return env
}

func salesRows(t *testing.T, root, date string) []Sale {
	t.Helper()
	files, err := Files(root, TableSales, date)
	if err != nil {
		t.Fatal(err)
	}
	var out []Sale
	for _, f := range files {
		rows, err := ReadFile[Sale](f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

func TestSinkWritesDaysInTheLakeZone(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := NewSink(SinkOptions{Root: root, Location: seoul, Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, seoul) }})
	// 2026-11-24 15:30 UTC is 2026-11-25 00:30 in Seoul.
	must(t, s.Add(event.TopicPurchases, 3, 10, purchase(t, "e1", time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC), "A", 2, 1000)))
	must(t, s.Add(event.TopicPurchases, 3, 11, purchase(t, "e2", time.Date(2026, 11, 24, 14, 59, 0, 0, time.UTC), "B", 1, 500)))
	must(t, s.Flush(context.Background()))
	today, late := salesRows(t, root, "2026-11-25"), salesRows(t, root, "2026-11-24")
	if len(today) != 1 || today[0].SKU != "A" || today[0].EventHour != 0 || today[0].Quantity != 2 || len(late) != 1 || late[0].EventHour != 23 {
		t.Fatalf("today %+v, yesterday %+v", today, late)
	}
	if st := s.Stats(); st.Rows != 2 || st.Files != 2 || st.Late != 1 {
		t.Fatalf("stats %+v", st)
	}
	files, _ := Files(root, TableSales, "2026-11-25")
	if filepath.Base(files[0].Path) != FileName(3, 10, 11) {
		t.Fatalf("file %s, want the batch's offset range", files[0].Path)
	}
}

// A crash after the files were written but before offsets were committed
// replays the records: none may land twice, none may be lost, also when the
// crash hit between two files of one batch.
func TestSinkIsExactlyOnceAcrossReplays(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	day1 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	var recs []event.Envelope
	for i := range 40 {
		at := day1
		if i%3 == 0 {
			at = day2
		}
		recs = append(recs, purchase(t, "e"+string(rune('A'+i)), at.Add(time.Duration(i)*time.Minute), "S", 1, 100))
	}
	first := NewSink(SinkOptions{Root: root})
	for i, env := range recs[:30] {
		must(t, first.Add(event.TopicPurchases, 0, int64(i), env))
	}
	must(t, first.Flush(context.Background()))
	// Simulate the crash between two files of the batch: drop day 2's file.
	d2files, _ := Files(root, TableSales, "2026-11-24")
	if len(d2files) != 1 {
		t.Fatalf("day 2 files %v", d2files)
	}
	must(t, os.Remove(d2files[0].Path))

	// Restart: the group replays from offset 0 (nothing was committed).
	second := NewSink(SinkOptions{Root: root})
	for i, env := range recs {
		must(t, second.Add(event.TopicPurchases, 0, int64(i), env))
	}
	must(t, second.Flush(context.Background()))
	// And once more, as if that commit had been lost too.
	third := NewSink(SinkOptions{Root: root})
	for i, env := range recs {
		must(t, third.Add(event.TopicPurchases, 0, int64(i), env))
	}
	must(t, third.Flush(context.Background()))

	seen := map[string]int{}
	for _, d := range []string{"2026-11-23", "2026-11-24"} {
		for _, r := range salesRows(t, root, d) {
			seen[r.EventID]++
		}
	}
	if len(seen) != len(recs) {
		t.Fatalf("%d distinct events in the lake, want %d", len(seen), len(recs))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if st := third.Stats(); st.Rows != 0 || st.Covered != int64(len(recs)) {
		t.Errorf("third pass stats %+v: everything was already covered", st)
	}
}

func TestSinkDropsRepublishedEventsAndRejectsBadOnes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := NewSink(SinkOptions{Root: root})
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	must(t, s.Add(event.TopicPurchases, 1, 5, purchase(t, "same", at, "S", 1, 100)))
	must(t, s.Add(event.TopicPurchases, 1, 6, purchase(t, "same", at, "S", 1, 100))) // outbox republish
	bad := purchase(t, "bad", at, "S", 0, 100)
	if err := s.Add(event.TopicPurchases, 1, 7, bad); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("quantity 0: err = %v, want ErrBadEvent", err)
	}
	broken := bad
	broken.Data = []byte(`{"sku": 12}`)
	if err := s.Add(event.TopicPurchases, 1, 8, broken); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("wrong types: err = %v", err)
	}
	if err := s.Add("commerce.reviews", 1, 9, bad); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("topic without a table: err = %v", err)
	}
	must(t, s.Flush(context.Background()))
	if rows := salesRows(t, root, "2026-11-23"); len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	if st := s.Stats(); st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSinkOrderAndPaymentRows(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := NewSink(SinkOptions{Root: root})
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	o, _ := event.New("order.paid", "test", "ord_1", at, map[string]any{"id": "ord_1", "customer_id": "c1", "status": "paid",
		"total": 3000, "items": []map[string]any{{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}}})
	p, _ := event.New("payment.refunded", "test", "ord_1", at, map[string]any{"order_id": "ord_1", "amount": 3000})
	must(t, s.Add(event.TopicOrders, 0, 0, o))
	must(t, s.Add(event.TopicPayments, 0, 0, p))
	must(t, s.Flush(context.Background()))
	of, _ := Files(root, TableOrders, "2026-11-23")
	pf, _ := Files(root, TablePayments, "2026-11-23")
	orders, err := ReadFile[Order](of[0].Path)
	must(t, err)
	pays, err := ReadFile[Payment](pf[0].Path)
	must(t, err)
	if orders[0].Lines != 2 || orders[0].Units != 3 || orders[0].Total != 3000 || orders[0].EventType != "order.paid" || orders[0].CustomerID != "c1" {
		t.Fatalf("order row %+v", orders[0])
	}
	if pays[0].EventType != "payment.refunded" || pays[0].Amount != 3000 || !pays[0].EventTime.Equal(at) {
		t.Fatalf("payment row %+v", pays[0])
	}
}

func TestGenerateIsDeterministicAndShaped(t *testing.T) {
	t.Parallel()
	gen := func() (string, GenerateStats) {
		root := t.TempDir()
		st, err := Generate(context.Background(), GenerateOptions{Root: root, Lines: 5000, Days: 2, End: "2026-11-24", SKUs: 500, Seed: 3, Location: seoul})
		must(t, err)
		return root, st
	}
	a, sa := gen()
	b, sb := gen()
	if sa != sb || sa.Sales != 5000 {
		t.Fatalf("stats %+v vs %+v", sa, sb)
	}
	ra, rb := salesRows(t, a, "2026-11-24"), salesRows(t, b, "2026-11-24")
	if len(ra) != 2500 || !slices.Equal(ra, rb) {
		t.Fatalf("same seed gave different lakes (%d vs %d rows)", len(ra), len(rb))
	}
	var night, evening int64
	for _, r := range ra {
		if r.EventTime.In(seoul).Format(time.DateOnly) != "2026-11-24" || int(r.EventHour) != r.EventTime.In(seoul).Hour() {
			t.Fatalf("row outside its day/hour: %+v", r)
		}
		switch {
		case r.EventHour >= 3 && r.EventHour <= 5:
			night++
		case r.EventHour >= 20 && r.EventHour <= 22:
			evening++
		}
	}
	if evening < 5*night {
		t.Errorf("traffic curve: %d evening lines vs %d at night", evening, night)
	}
	if _, err := Generate(context.Background(), GenerateOptions{Root: a, Lines: 0, Days: 1}); err == nil {
		t.Error("rows 0 accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSinkRemembersIDsAcrossRestartsAndDropsLostPartitions(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	first := NewSink(SinkOptions{Root: root})
	must(t, first.Init())
	must(t, first.Add(event.TopicPurchases, 2, 0, purchase(t, "e1", at, "S", 1, 100)))
	must(t, first.Add(event.TopicPurchases, 2, 1, purchase(t, "e2", at, "S", 1, 100)))
	must(t, first.Flush(context.Background()))
	// Restart; the relay had not marked e1 and e2 sent, so they come again
	// at new offsets after the replay of the old ones.
	second := NewSink(SinkOptions{Root: root})
	must(t, second.Add(event.TopicPurchases, 2, 2, purchase(t, "e1", at, "S", 1, 100)))
	must(t, second.Add(event.TopicPurchases, 2, 3, purchase(t, "e2", at, "S", 1, 100)))
	must(t, second.Add(event.TopicPurchases, 2, 4, purchase(t, "e3", at, "S", 1, 100)))
	must(t, second.Flush(context.Background()))
	if rows := salesRows(t, root, "2026-11-23"); len(rows) != 3 {
		t.Fatalf("%d rows, want e1, e2, e3 once each", len(rows))
	}
	if st := second.Stats(); st.Duplicates != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A lost partition's pending rows are dropped, not written.
	must(t, second.Add(event.TopicPurchases, 5, 0, purchase(t, "e9", at, "S", 1, 100)))
	second.Drop(map[string][]int32{event.TopicPurchases: {5}})
	must(t, second.Flush(context.Background()))
	if rows := salesRows(t, root, "2026-11-23"); len(rows) != 3 {
		t.Fatalf("a dropped partition was written: %d rows", len(rows))
	}
	// The schema anchors exist and hold no rows.
	for _, table := range Tables {
		files, err := Files(root, table, SchemaDate)
		if err != nil || len(files) != 1 {
			t.Fatalf("%s anchor: %v %v", table, files, err)
		}
		if n, err := RowCount(files[0].Path); err != nil || n != 0 {
			t.Fatalf("%s anchor has %d rows, %v", table, n, err)
		}
	}
	if err := second.Add(event.TopicPurchases, 2, 9, func() event.Envelope {
		env := purchase(t, "e10", at, "S", 1, 100)
		env.Type = "purchase.corrected"
		return env
	}()); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("a non-purchase event on commerce.purchases: %v", err)
	}
}
