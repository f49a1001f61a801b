package sparkreport

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testLake is the lake root the unit tests pretend the cluster sees.
const testLake = "/data/mercato/lake"

// goldenPath holds the exact SQL statements reports.Build sends to Spark for
// one day; both the offline test and the fake-server test compare with it.
var goldenPath = filepath.Join("testdata", "report_sales_2026-11-24.sql")

func TestSourceSQL(t *testing.T) {
	cases := []struct{ lake, table, want string }{
		{"/data/mercato/lake", lake.TableSales, "parquet.`/data/mercato/lake/sales`"},
		{"/data/mercato/lake", lake.TableOrders, "parquet.`/data/mercato/lake/orders`"},
		{"/data/mercato/lake", lake.TablePayments, "parquet.`/data/mercato/lake/payments`"},
		{"/data/mercato/lake/", lake.TableSales, "parquet.`/data/mercato/lake/sales`"},
		{"hdfs://nn:8020/mercato/lake", lake.TableOrders, "parquet.`hdfs://nn:8020/mercato/lake/orders`"},
		{"s3a://bucket/lake//", lake.TablePayments, "parquet.`s3a://bucket/lake/payments`"},
		{"/", lake.TableSales, "parquet.`/sales`"},
		{"/lake with space/o'brien", lake.TableSales, "parquet.`/lake with space/o'brien/sales`"},
		// Open refuses backticks; SourceSQL still cannot be broken out of.
		{"/evil`; DROP TABLE x; --", lake.TableSales, "parquet.`/evil``; DROP TABLE x; --/sales`"},
	}
	for _, c := range cases {
		if got := SourceSQL(c.lake, c.table); got != c.want {
			t.Errorf("SourceSQL(%q, %q) = %s, want %s", c.lake, c.table, got, c.want)
		}
	}
}

func TestSourceEveryTable(t *testing.T) {
	e := &Engine{lakeURI: testLake}
	ctx := context.Background()
	for _, table := range lake.Tables {
		got, err := e.Source(ctx, table, []string{"2026-11-24", "2026-11-25"})
		if err != nil {
			t.Fatalf("Source(%s): %v", table, err)
		}
		if want := "parquet.`" + testLake + "/" + table + "`"; got != want {
			t.Errorf("Source(%s) = %s, want %s", table, got, want)
		}
	}
	// The FROM item does not depend on the days: Spark prunes on the
	// report's WHERE clause, so no days (or days without data) are fine.
	if got, err := e.Source(ctx, lake.TableSales, nil); err != nil || got != SourceSQL(testLake, lake.TableSales) {
		t.Errorf("Source(sales, no days) = %q, %v", got, err)
	}
}

func TestSourceRejects(t *testing.T) {
	e := &Engine{lakeURI: testLake}
	for _, table := range []string{"", "customers", "sales/../orders", "Sales", "sales`"} {
		if got, err := e.Source(context.Background(), table, []string{"2026-11-24"}); err == nil {
			t.Errorf("Source(%q) = %q, want an error", table, got)
		} else if !strings.Contains(err.Error(), "unknown lake table") {
			t.Errorf("Source(%q) error = %v", table, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Source(ctx, lake.TableSales, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Source with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestOpenValidates(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"empty remote", Options{LakeURI: testLake}, "must be a Spark Connect URL"},
		{"http remote", Options{Remote: "http://spark:15002", LakeURI: testLake}, "must be a Spark Connect URL"},
		{"no host", Options{Remote: "sc://", LakeURI: testLake}, "remote sc://"},
		{"bad path", Options{Remote: "sc://spark:15002/x", LakeURI: testLake}, "remote sc://spark:15002/x"},
		{"empty lake", Options{Remote: "sc://spark:15002"}, "lake URI is empty"},
		{"blank lake", Options{Remote: "sc://spark:15002", LakeURI: "  "}, "lake URI is empty"},
		{"backtick lake", Options{Remote: "sc://spark:15002", LakeURI: "/lake`x"}, "backtick"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Open(context.Background(), c.o)
			if err == nil {
				e.Close()
				t.Fatalf("Open(%+v) succeeded, want an error", c.o)
			}
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%+v) error = %v, want ErrBadOptions mentioning %q", c.o, err, c.want)
			}
		})
	}
}

func TestOpenRedactsToken(t *testing.T) {
	// A token must not leak into error messages (they end up in run
	// records and logs).
	_, err := Open(context.Background(), Options{Remote: "sc://spark:15002/;token=s3cret", LakeURI: "/l`"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open error = %v, want an error without the token", err)
	}
	if got := redactRemote("sc://spark:15002/;token=s3cret;user_id=me"); got != "sc://spark:15002/;<params redacted>" {
		t.Errorf("redactRemote = %q", got)
	}
}

func TestOpenIsLazyAndCloseIdempotent(t *testing.T) {
	// Nothing listens on spark.invalid: Open must not dial.
	e, err := Open(context.Background(), Options{Remote: "sc://spark.invalid:15002", LakeURI: testLake})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if e.Name() != "spark" {
		t.Errorf("Name() = %q, want spark", e.Name())
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestQueryOnZeroEngine(t *testing.T) {
	var e *Engine
	if _, err := e.Query(context.Background(), "SELECT 1"); err == nil {
		t.Error("Query on a nil engine succeeded")
	}
	if _, err := (&Engine{}).Query(context.Background(), "SELECT 1"); err == nil {
		t.Error("Query on an unopened engine succeeded")
	}
}

func TestConvertRow(t *testing.T) {
	ts := time.Date(2026, 11, 24, 9, 30, 15, 123456000, time.UTC)
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	in := []any{
		nil, int8(-1), int16(2), int32(3), int64(4), int(5), uint8(6), uint16(7), uint32(8), uint64(9),
		true, false, float32(1.5), 2.25, float16.New(0.5), "x", []byte("raw"),
		arrow.Timestamp(ts.UnixMicro()), arrow.Date32FromTime(day), arrow.Date64FromTime(day),
		ts.In(time.FixedZone("KST", 9*3600)),
	}
	want := []any{
		nil, int64(-1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9),
		int64(1), int64(0), 1.5, 2.25, 0.5, "x", "raw",
		ts, day, day, ts,
	}
	got, err := convertRow(in)
	if err != nil {
		t.Fatalf("convertRow: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("convertRow returned %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if tw, ok := want[i].(time.Time); ok {
			tg, ok := got[i].(time.Time)
			if !ok || !tg.Equal(tw) || tg.Location() != time.UTC {
				t.Errorf("value %d: got %#v, want %v in UTC", i, got[i], tw)
			}
			continue
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("value %d (%T): got %#v, want %#v", i, in[i], got[i], want[i])
		}
	}
	if &got[0] == &in[0] {
		t.Error("convertRow must not reuse the input slice")
	}
}

func TestConvertRowRejects(t *testing.T) {
	for _, v := range []any{
		decimal128.FromI64(5), decimal256.FromI64(5), uint64(1 << 63),
		[]any{int64(1)}, map[any]any{"k": "v"}, map[string]any{"f": 1}, struct{}{},
	} {
		if got, err := convertRow([]any{int64(1), v}); err == nil {
			t.Errorf("convertRow(%T) = %v, want an error", v, got)
		} else if !strings.Contains(err.Error(), "column 1") {
			t.Errorf("convertRow(%T) error %q does not name the column", v, err)
		}
	}
}

// recordingEngine is the Spark engine with Query replaced by a recorder, so
// reports.Build can run against the real Source without a server.
type recordingEngine struct {
	*Engine
	sql []string
}

func (r *recordingEngine) Query(_ context.Context, q string) ([][]any, error) {
	r.sql = append(r.sql, q)
	return nil, nil
}

// TestReportSQL runs reports.Build against the engine's Source and checks
// the SQL it would send: every statement reads lake tables through
// parquet.`<lake>/<table>` and filters on the date partition column, and the
// whole set matches the golden file (go test -update rewrites it).
func TestReportSQL(t *testing.T) {
	rec := &recordingEngine{Engine: &Engine{lakeURI: testLake}}
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	r, err := reports.Build(context.Background(), rec, "2026-11-24", "2026-11-24", now)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if r.Engine != "spark" {
		t.Errorf("report engine = %q, want spark", r.Engine)
	}
	// Inputs for each table, then sales, orders, payments.
	wantFrom := []string{lake.TableSales, lake.TableOrders, lake.TablePayments, lake.TableSales, lake.TableOrders, lake.TablePayments}
	if len(rec.sql) != len(wantFrom) {
		t.Fatalf("Build sent %d statements, want %d:\n%s", len(rec.sql), len(wantFrom), strings.Join(rec.sql, "\n\n"))
	}
	for i, q := range rec.sql {
		if from := "FROM parquet.`" + testLake + "/" + wantFrom[i] + "`\n"; !strings.Contains(q, from) {
			t.Errorf("statement %d does not read %q:\n%s", i+1, from, q)
		}
		if filter := "WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'"; !strings.Contains(q, filter) {
			t.Errorf("statement %d lacks the partition filter %q:\n%s", i+1, filter, q)
		}
		if strings.ContainsAny(q, "{}") {
			t.Errorf("statement %d has an unfilled placeholder:\n%s", i+1, q)
		}
		if strings.Contains(q, "read_parquet") {
			t.Errorf("statement %d uses DuckDB's read_parquet:\n%s", i+1, q)
		}
	}
	checkGolden(t, rec.sql)
}

// TestReportSQLRange checks a multi-day range reaches Spark as one
// BETWEEN filter over the same FROM items.
func TestReportSQLRange(t *testing.T) {
	rec := &recordingEngine{Engine: &Engine{lakeURI: "s3a://mercato/lake"}}
	if _, err := reports.Build(context.Background(), rec, "2026-11-01", "2026-11-30", time.Now()); err != nil {
		t.Fatalf("Build: %v", err)
	}
	for i, q := range rec.sql {
		if !strings.Contains(q, "FROM parquet.`s3a://mercato/lake/") || !strings.Contains(q, "WHERE date BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'") {
			t.Errorf("statement %d:\n%s", i+1, q)
		}
	}
}

// goldenSQL renders statements the way the golden file stores them.
func goldenSQL(stmts []string) string {
	var b strings.Builder
	b.WriteString("-- SQL sent to Spark by reports.Build(ctx, engine, \"2026-11-24\", \"2026-11-24\", now)\n")
	b.WriteString("-- with LakeURI " + testLake + ". Regenerate: go test ./internal/adapters/sparkreport/ -run TestReportSQL -update\n")
	for i, q := range stmts {
		fmt.Fprintf(&b, "\n-- statement %d\n%s;\n", i+1, q)
	}
	return b.String()
}

func checkGolden(t *testing.T, stmts []string) {
	t.Helper()
	got := goldenSQL(stmts)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("SQL sent to Spark differs from %s (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", goldenPath, got, want)
	}
}
