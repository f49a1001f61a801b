package sparkreport

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reports"
)

// TestSparkContract runs the engine against a real Spark Connect server.
// It needs:
//
//	MERCATO_TEST_SPARK_REMOTE  sc://host:15002
//	MERCATO_TEST_SPARK_LAKE    the lake root as the cluster sees it
//	MERCATO_TEST_SPARK_DATE    the day to report on (default 2026-11-24)
//
// The lake must hold the sales, orders and payments tables (a generated
// lake will do). What the fake server cannot prove is checked here: that
// Spark accepts the parquet.`...` FROM items, discovers date as a DATE
// column, and that the value types it really sends convert.
func TestSparkContract(t *testing.T) {
	remote := os.Getenv("MERCATO_TEST_SPARK_REMOTE")
	if remote == "" {
		t.Skip("MERCATO_TEST_SPARK_REMOTE not set: Spark contract suite skipped (no Spark server on this machine)")
	}
	lakeURI := os.Getenv("MERCATO_TEST_SPARK_LAKE")
	if lakeURI == "" {
		t.Fatal("MERCATO_TEST_SPARK_REMOTE is set but MERCATO_TEST_SPARK_LAKE (the lake root as Spark sees it) is not")
	}
	day := os.Getenv("MERCATO_TEST_SPARK_DATE")
	if day == "" {
		day = "2026-11-24"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, err := Open(ctx, Options{Remote: remote, LakeURI: lakeURI})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer e.Close()

	t.Run("value types", func(t *testing.T) {
		rows, err := e.Query(ctx, `SELECT CAST(1 AS TINYINT), CAST(2 AS SMALLINT), CAST(3 AS INT), CAST(4 AS BIGINT),
  CAST(0.5 AS FLOAT), CAST(1.25 AS DOUBLE), 'x', DATE '2026-11-24', TIMESTAMP '2026-11-24 10:00:00',
  CAST(NULL AS STRING), true`)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		if len(rows) != 1 || len(rows[0]) != 11 {
			t.Fatalf("rows = %#v, want one row of 11 values", rows)
		}
		r := rows[0]
		for i, want := range []any{int64(1), int64(2), int64(3), int64(4), 0.5, 1.25, "x"} {
			if r[i] != want {
				t.Errorf("value %d = %#v, want %#v", i, r[i], want)
			}
		}
		if d, ok := r[7].(time.Time); !ok || d.Format(time.DateOnly) != "2026-11-24" {
			t.Errorf("DATE value = %#v, want 2026-11-24", r[7])
		}
		if _, ok := r[8].(time.Time); !ok {
			t.Errorf("TIMESTAMP value = %#v, want a time.Time", r[8])
		}
		if r[9] != nil || r[10] != int64(1) {
			t.Errorf("NULL, true = %#v, %#v; want nil, 1", r[9], r[10])
		}
	})

	t.Run("partition column", func(t *testing.T) {
		for _, table := range []string{"sales", "orders", "payments"} {
			src, err := e.Source(ctx, table, []string{day})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := e.Query(ctx, "SELECT typeof(date) FROM "+src+" LIMIT 1")
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if len(rows) == 1 && rows[0][0] != "date" {
				t.Errorf("%s: partition column type %v, want date (partition type inference off?)", table, rows[0][0])
			}
		}
	})

	t.Run("sales report", func(t *testing.T) {
		r, err := reports.Build(ctx, e, day, day, time.Now())
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if r.Engine != "spark" || len(r.Hourly) != 24 || len(r.TopSKUs) > reports.TopSKUs {
			t.Errorf("report shape: engine %q, %d hours, %d SKUs", r.Engine, len(r.Hourly), len(r.TopSKUs))
		}
		for _, in := range r.Inputs {
			if in.Date != day || in.Rows <= 0 {
				t.Errorf("input %+v: want date %s and rows > 0", in, day)
			}
		}
		s := r.Summary
		if s.NetRevenue != s.GrossRevenue-s.RefundedAmount || s.Units < 0 || s.Lines < 0 {
			t.Errorf("inconsistent summary %+v", s)
		}
		t.Logf("Spark report for %s: %d inputs, %+v", day, len(r.Inputs), s)
	})
}
