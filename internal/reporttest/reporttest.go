package reporttest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/money"
	"github.com/mercato-platform/mercato/internal/reports"
)

var update = flag.Bool("update", false, "rewrite the golden report files")

// Days of the committed lake (testdata/lake, written by
// `mercato lake generate --dir internal/reporttest/testdata/lake --rows 3000
// --days 2 --end 2026-11-24 --skus 300 --seed 7 --file-rows 1000`).
const (
	Day1 = "2026-11-23"
	Day2 = "2026-11-24"
)

// Lake is the committed lake's absolute path.
func Lake(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate reporttest")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "lake")
}

// Run runs the suite. newEngine opens the engine over the committed lake
// (whose local path it is given).
func Run(t *testing.T, newEngine func(t *testing.T, lakeRoot string) reports.Engine) {
	root := Lake(t)
	e := newEngine(t, root)
	now := time.Date(2026, 11, 25, 0, 10, 0, 0, time.UTC)
	build := func(t *testing.T, from, to string) reports.SalesReport {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := reports.Build(ctx, e, from, to, now)
		if err != nil {
			t.Fatalf("build %s..%s: %v", from, to, err)
		}
		return r
	}
	for _, rng := range [][2]string{{Day1, Day1}, {Day2, Day2}, {Day1, Day2}} {
		t.Run("MatchesGoComputation/"+rng[0]+".."+rng[1], func(t *testing.T) {
			got := build(t, rng[0], rng[1])
			want := Expected(t, root, rng[0], rng[1])
			want.Engine, want.GeneratedAt = got.Engine, got.GeneratedAt
			compare(t, got, want)
		})
	}
	t.Run("Golden", func(t *testing.T) {
		got := build(t, Day2, Day2)
		got.Engine = "any"
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join(filepath.Dir(root), "golden", "sales-"+Day2+".json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(want) != string(b)+"\n" {
			t.Errorf("report differs from %s (rerun with -update if intended):\n%s", golden, b)
		}
	})
	t.Run("DayWithoutData", func(t *testing.T) {
		got := build(t, "2026-01-01", "2026-01-01")
		if got.Summary != (reports.Summary{}) || len(got.TopSKUs) != 0 || len(got.ByCategory) != 0 || len(got.Hourly) != 24 || len(got.Inputs) != 0 {
			t.Fatalf("empty day = %+v", got)
		}
	})
	t.Run("OutOfBoundsRecords", func(t *testing.T) {
		root := hostileLake(t)
		e := newEngine(t, root)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		got, err := reports.Build(ctx, e, HostileDay, HostileDay, now)
		if err != nil {
			t.Fatalf("a lake with out-of-bounds records fails the report: %v", err)
		}
		want := Expected(t, root, HostileDay, HostileDay)
		want.Engine, want.GeneratedAt = got.Engine, got.GeneratedAt
		compare(t, got, want)
		s := got.Summary
		if s.RejectedLines != 5 || s.RejectedEvents != 5 {
			t.Errorf("rejected %d lines and %d events, want 5 and 5", s.RejectedLines, s.RejectedEvents)
		}
		if s.Lines != 3 || s.Units != 6 || s.GrossRevenue != money.MaxAmount+3500 || s.Orders != 1 ||
			s.Cancellations != 1 || s.CancelledAmount != 700 || s.Refunds != 1 || s.RefundedAmount != 300 {
			t.Errorf("summary counts out-of-bounds records: %+v", s)
		}
		for _, c := range got.ByCategory {
			if c.Category == "ghost" || c.Category == "c2" {
				t.Errorf("category %q of rejected lines only is reported: %+v", c.Category, c)
			}
		}
		for _, k := range got.TopSKUs {
			if k.SKU == "B" || k.SKU == "D" {
				t.Errorf("SKU %q of rejected lines only is reported: %+v", k.SKU, k)
			}
			if k.SKU == "E" && (k.AvgBasePrice != 0 || k.PriceIndex != 0) {
				t.Errorf("an out-of-bounds base price is used: %+v", k)
			}
		}
	})
	t.Run("BadRange", func(t *testing.T) {
		for _, r := range [][2]string{{"2026-13-01", "2026-13-01"}, {Day2, Day1}, {"x", "y"}} {
			if _, err := reports.Build(context.Background(), e, r[0], r[1], now); !errors.Is(err, reports.ErrBadRange) {
				t.Errorf("%v: err = %v, want ErrBadRange", r, err)
			}
		}
	})
}

// Expected computes the sales report of from..to in plain Go from the lake
// files, independently of any SQL engine.
func Expected(t testing.TB, root, from, to string) reports.SalesReport {
	t.Helper()
	days, err := lake.DaysBetween(from, to)
	if err != nil {
		t.Fatal(err)
	}
	r := reports.SalesReport{Report: reports.SalesReportName, From: from, To: to, Currency: "KRW",
		ByCategory: []reports.CategorySales{}, TopSKUs: []reports.SKUSales{}, Hourly: make([]reports.HourSales, 24)}
	for h := range r.Hourly {
		r.Hourly[h].Hour = h
	}
	type agg struct {
		units, revenue, base, basedUnits, basedRevenue int64
		category                                       string
	}
	cats, skus := map[string]*agg{}, map[string]*agg{}
	for _, d := range days {
		sales := readDay[lake.Sale](t, root, lake.TableSales, d)
		if len(sales) > 0 {
			r.Inputs = append(r.Inputs, reports.Input{Table: lake.TableSales, Date: d, Rows: int64(len(sales))})
		}
		for _, s := range sales {
			rev, ok := money.Mul(s.Quantity, s.UnitPrice)
			if !ok || s.Quantity < 1 || s.Quantity > money.MaxStock {
				r.Summary.RejectedLines++
				continue
			}
			r.Summary.Lines++
			r.Summary.Units += s.Quantity
			r.Summary.GrossRevenue += rev
			r.Hourly[s.EventHour].Units += s.Quantity
			r.Hourly[s.EventHour].Revenue += rev
			for _, mk := range []struct {
				m map[string]*agg
				k string
			}{{cats, s.Category}, {skus, s.SKU}} {
				m, k := mk.m, mk.k
				a := m[k]
				if a == nil {
					a = &agg{category: s.Category}
					m[k] = a
				}
				a.units += s.Quantity
				a.revenue += rev
				if base, ok := money.Mul(s.Quantity, s.BasePrice); ok && s.BasePrice > 0 {
					a.base += base
					a.basedUnits += s.Quantity
					a.basedRevenue += rev
				}
				a.category = min(a.category, s.Category)
			}
		}
		orders := readDay[lake.Order](t, root, lake.TableOrders, d)
		if len(orders) > 0 {
			r.Inputs = append(r.Inputs, reports.Input{Table: lake.TableOrders, Date: d, Rows: int64(len(orders))})
		}
		for _, o := range orders {
			if o.Total < 0 || o.Total > money.MaxAmount {
				r.Summary.RejectedEvents++
				continue
			}
			switch o.EventType {
			case "order.paid":
				r.Summary.Orders++
			case "order.cancelled":
				r.Summary.Cancellations++
				r.Summary.CancelledAmount += o.Total
			}
		}
		pays := readDay[lake.Payment](t, root, lake.TablePayments, d)
		if len(pays) > 0 {
			r.Inputs = append(r.Inputs, reports.Input{Table: lake.TablePayments, Date: d, Rows: int64(len(pays))})
		}
		for _, p := range pays {
			if p.Amount < 0 || p.Amount > money.MaxAmount {
				r.Summary.RejectedEvents++
				continue
			}
			switch p.EventType {
			case "payment.authorized":
				r.Summary.PaymentsAuthorized++
			case "payment.declined":
				if reports.PaymentFailure(p.Reason) {
					r.Summary.PaymentsDeclined++
				}
			case "payment.refunded":
				r.Summary.Refunds++
				r.Summary.RefundedAmount += p.Amount
			}
		}
	}
	s := &r.Summary
	s.NetRevenue = s.GrossRevenue - s.RefundedAmount
	if s.Orders > 0 {
		s.AverageOrderValue = round(float64(s.GrossRevenue)/float64(s.Orders), 2)
	}
	if n := s.PaymentsAuthorized + s.PaymentsDeclined; n > 0 {
		s.PaymentFailureRate = round(float64(s.PaymentsDeclined)/float64(n), 4)
	}
	for c, a := range cats {
		r.ByCategory = append(r.ByCategory, reports.CategorySales{Category: reports.CategoryName(c), Units: a.units, Revenue: a.revenue,
			RevenueShare: round(float64(a.revenue)/float64(s.GrossRevenue), 4)})
	}
	slices.SortFunc(r.ByCategory, func(a, b reports.CategorySales) int {
		return cmp.Or(cmp.Compare(b.Revenue, a.Revenue), cmp.Compare(a.Category, b.Category))
	})
	var all []reports.SKUSales
	for k, a := range skus {
		sku := reports.SKUSales{SKU: k, Category: reports.CategoryName(a.category), Units: a.units, Revenue: a.revenue,
			AvgPrice: round(float64(a.revenue)/float64(a.units), 2)}
		if a.basedUnits > 0 {
			sku.AvgBasePrice = round(float64(a.base)/float64(a.basedUnits), 2)
		}
		if a.base > 0 {
			sku.PriceIndex = round(float64(a.basedRevenue)/float64(a.base), 4)
		}
		all = append(all, sku)
	}
	slices.SortFunc(all, func(a, b reports.SKUSales) int {
		return cmp.Or(cmp.Compare(b.Revenue, a.Revenue), cmp.Compare(a.SKU, b.SKU))
	})
	for i := range min(len(all), reports.TopSKUs) {
		all[i].Rank = i + 1
		r.TopSKUs = append(r.TopSKUs, all[i])
	}
	slices.SortFunc(r.Inputs, func(a, b reports.Input) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Date, b.Date))
	})
	return r
}

// HostileDay is the day of hostileLake's partitions.
const HostileDay = "2026-11-25"

// hostileLake writes a lake of one day holding what a lake written before
// Mercato bounded amounts can hold: the line of an order at int64 max × 2
// (stored with total −2), negative prices and quantities, amounts just
// inside and just outside money.MaxAmount, a quantity no stock can hold.
func hostileLake(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	sale := func(id, sku, category string, qty, price, base int64, hour int32) lake.Sale {
		return lake.Sale{EventID: id, OrderID: "o-" + id, SKU: sku, Category: category, Quantity: qty,
			UnitPrice: price, BasePrice: base, EventTime: at, EventHour: hour}
	}
	sales := []lake.Sale{
		sale("1", "A", "c1", 2, 1000, 1100, 9),              // fine
		sale("2", "A", "c1", 2, math.MaxInt64, 1100, 9),     // overflows int64: rejected
		sale("3", "B", "c2", 1, -5, 0, 10),                  // negative price: rejected
		sale("4", "C", "c3", 1, money.MaxAmount, 0, 11),     // at the bound: fine
		sale("5", "C", "c3", 2, money.MaxAmount/2+1, 0, 11), // just past it: rejected
		sale("6", "D", "ghost", math.MaxInt64, 0, 0, 12),    // no stock holds it: rejected
		sale("7", "E", "c1", 3, 500, math.MaxInt64, 13),     // fine, its base price is not
		sale("8", "E", "c1", -1, 100, 100, 13),              // negative quantity: rejected
	}
	order := func(id, typ string, total int64) lake.Order {
		return lake.Order{EventID: id, EventType: typ, OrderID: "o-" + id, Total: total, EventTime: at, EventHour: 9}
	}
	orders := []lake.Order{
		order("o1", "order.paid", 2000),
		order("o2", "order.paid", -2), // int64 max × 2, wrapped
		order("o3", "order.cancelled", math.MaxInt64),
		order("o4", "order.cancelled", math.MaxInt64),
		order("o5", "order.cancelled", 700),
	}
	payment := func(id, typ string, amount int64) lake.Payment {
		return lake.Payment{EventID: id, EventType: typ, OrderID: "o-" + id, Amount: amount, EventTime: at, EventHour: 9}
	}
	pays := []lake.Payment{
		payment("p1", "payment.authorized", 2000),
		payment("p2", "payment.authorized", -2),
		payment("p3", "payment.refunded", math.MaxInt64),
		payment("p4", "payment.refunded", 300),
	}
	write := func(table string, fn func(path string) error) {
		dir := lake.DateDir(root, table, HostileDay)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fn(filepath.Join(dir, lake.FileName(0, 0, 99))); err != nil {
			t.Fatal(err)
		}
	}
	write(lake.TableSales, func(p string) error { return lake.WriteFile(p, sales) })
	write(lake.TableOrders, func(p string) error { return lake.WriteFile(p, orders) })
	write(lake.TablePayments, func(p string) error { return lake.WriteFile(p, pays) })
	return root
}

func readDay[T any](t testing.TB, root, table, day string) []T {
	files, err := lake.Files(root, table, day)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, f := range files {
		rows, err := lake.ReadFile[T](f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func compare(t *testing.T, got, want reports.SalesReport) {
	t.Helper()
	if got.Summary != want.Summary {
		t.Errorf("summary:\n got %+v\nwant %+v", got.Summary, want.Summary)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{{"by_category", got.ByCategory, want.ByCategory}, {"top_skus", got.TopSKUs, want.TopSKUs},
		{"hourly", got.Hourly, want.Hourly}, {"inputs", got.Inputs, want.Inputs}} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", f.name, f.got, f.want)
		}
	}
	got.Summary, want.Summary = reports.Summary{}, reports.Summary{}
	got.ByCategory, got.TopSKUs, got.Hourly, got.Inputs = nil, nil, nil, nil
	want.ByCategory, want.TopSKUs, want.Hourly, want.Inputs = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header:\n got %+v\nwant %+v", got, want)
	}
}
