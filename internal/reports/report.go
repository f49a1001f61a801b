package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/money"
)

// Engine runs report SQL over the lake. The SQL is written in the subset
// DuckDB and Spark SQL share; Source is the one place the engines differ.
type Engine interface {
	// Name is the engine's name in run records ("duckdb", "spark").
	Name() string
	// Source returns a FROM item reading table's partitions for days, with
	// the table's columns plus its date partition column (DATE).
	Source(ctx context.Context, table string, days []string) (string, error)
	// Query runs one SELECT and returns its rows; values are int64,
	// float64, string, time.Time or nil.
	Query(ctx context.Context, sql string) ([][]any, error)
}

// Name of the daily sales report, in run records and paths.
const SalesReportName = "sales"

// TopSKUs is how many SKUs the report ranks.
const TopSKUs = 20

// SalesReport is the sales report of a day (or a range of days).
type SalesReport struct {
	Report      string          `json:"report"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	Currency    string          `json:"currency"`
	Engine      string          `json:"engine"`
	GeneratedAt time.Time       `json:"generated_at"`
	Summary     Summary         `json:"summary"`
	ByCategory  []CategorySales `json:"by_category"`
	TopSKUs     []SKUSales      `json:"top_skus"`
	Hourly      []HourSales     `json:"hourly"`
	Inputs      []Input         `json:"inputs"`
}

// Summary holds the report's headline numbers. Money is in minor units.
type Summary struct {
	Orders             int64   `json:"orders"`
	Lines              int64   `json:"lines"`
	Units              int64   `json:"units"`
	GrossRevenue       int64   `json:"gross_revenue"`
	NetRevenue         int64   `json:"net_revenue"` // gross minus refunds
	AverageOrderValue  float64 `json:"average_order_value"`
	PaymentsAuthorized int64   `json:"payments_authorized"`
	PaymentsDeclined   int64   `json:"payments_declined"`
	PaymentFailureRate float64 `json:"payment_failure_rate"`
	Cancellations      int64   `json:"cancellations"`
	CancelledAmount    int64   `json:"cancelled_amount"`
	Refunds            int64   `json:"refunds"`
	RefundedAmount     int64   `json:"refunded_amount"`
	// RejectedLines counts sales lines left out of every figure because
	// their quantity or amount lay outside Mercato's bounds (money.MaxAmount,
	// money.MaxStock): records of a lake written before the bounds existed.
	RejectedLines int64 `json:"rejected_lines"`
	// RejectedEvents counts order and payment events left out likewise.
	RejectedEvents int64 `json:"rejected_events"`
}

// CategorySales is one category's share of the day.
type CategorySales struct {
	Category     string  `json:"category"`
	Units        int64   `json:"units"`
	Revenue      int64   `json:"revenue"`
	RevenueShare float64 `json:"revenue_share"`
}

// SKUSales is one of the top SKUs by revenue, with the average price it
// really sold at against its average base price (PriceIndex = avg / base).
type SKUSales struct {
	Rank         int     `json:"rank"`
	SKU          string  `json:"sku"`
	Category     string  `json:"category"`
	Units        int64   `json:"units"`
	Revenue      int64   `json:"revenue"`
	AvgPrice     float64 `json:"avg_price"`
	AvgBasePrice float64 `json:"avg_base_price"`
	PriceIndex   float64 `json:"price_index"`
}

// HourSales is one hour of the day (in the lake's time zone).
type HourSales struct {
	Hour    int   `json:"hour"`
	Units   int64 `json:"units"`
	Revenue int64 `json:"revenue"`
}

// Input is one partition a report read.
type Input struct {
	Table string `json:"table"`
	Date  string `json:"date"`
	Rows  int64  `json:"rows"`
}

// Queries are the SQL of the sales report, with {sales}, {orders},
// {payments}, {from}, {to}, {max_amount} and {max_stock} filled in by Build.
// One scan of the sales table yields the totals, categories, SKUs and hours
// (GROUPING SETS).
//
// A lake may hold records written before Mercato bounded amounts (a line
// priced at int64 max, an order total that wrapped negative). A sales line
// counts only if its quantity is 1..max_stock and quantity × unit_price is
// within 0..max_amount; an order or payment event only if its amount is;
// the rest are left out of every figure and counted as rejected, so one bad
// record neither fails the report nor skews it. Products are computed in
// DECIMAL(38,0), which holds any product of two BIGINTs, and sums too, so
// no engine overflows whatever the lake holds.
var Queries = struct{ Sales, Orders, Payments, Inputs string }{
	Sales: `SELECT GROUPING(category) AS g_category, GROUPING(sku) AS g_sku, GROUPING(event_hour) AS g_hour,
  category, sku, event_hour,
  CAST(SUM(ok) AS BIGINT) AS line_count,
  CAST(SUM(CASE WHEN ok = 1 THEN quantity ELSE 0 END) AS BIGINT) AS units,
  CAST(SUM(CASE WHEN ok = 1 THEN amount ELSE 0 END) AS BIGINT) AS revenue,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN base_amount ELSE 0 END) AS BIGINT) AS base_revenue,
  MIN(CASE WHEN ok = 1 THEN category END) AS sku_category,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN quantity ELSE 0 END) AS BIGINT) AS based_units,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN amount ELSE 0 END) AS BIGINT) AS based_revenue,
  CAST(COUNT(*) - SUM(ok) AS BIGINT) AS rejected_lines
FROM (SELECT category, sku, event_hour, quantity, amount, base_amount,
    CASE WHEN quantity BETWEEN 1 AND {max_stock} AND amount BETWEEN 0 AND {max_amount} THEN 1 ELSE 0 END AS ok,
    CASE WHEN base_price > 0 AND base_amount <= {max_amount} THEN 1 ELSE 0 END AS based
  FROM (SELECT category, sku, event_hour, quantity, base_price,
      CAST(quantity AS DECIMAL(38,0)) * CAST(unit_price AS DECIMAL(38,0)) AS amount,
      CAST(quantity AS DECIMAL(38,0)) * CAST(base_price AS DECIMAL(38,0)) AS base_amount
    FROM {sales}
    WHERE date BETWEEN DATE '{from}' AND DATE '{to}') priced) checked
GROUP BY GROUPING SETS ((), (category), (sku), (event_hour))`,
	Orders: `SELECT event_type,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND {max_amount} THEN 1 ELSE 0 END) AS BIGINT) AS events,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND {max_amount} THEN CAST(total AS DECIMAL(38,0)) ELSE 0 END) AS BIGINT) AS amount,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND {max_amount} THEN 0 ELSE 1 END) AS BIGINT) AS rejected
FROM {orders}
WHERE date BETWEEN DATE '{from}' AND DATE '{to}'
GROUP BY event_type`,
	Payments: `SELECT event_type, reason,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND {max_amount} THEN 1 ELSE 0 END) AS BIGINT) AS events,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND {max_amount} THEN CAST(amount AS DECIMAL(38,0)) ELSE 0 END) AS BIGINT) AS amount,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND {max_amount} THEN 0 ELSE 1 END) AS BIGINT) AS rejected
FROM {payments}
WHERE date BETWEEN DATE '{from}' AND DATE '{to}'
GROUP BY event_type, reason`,
	Inputs: `SELECT CAST(date AS STRING) AS day, CAST(COUNT(*) AS BIGINT) AS row_count
FROM {table}
WHERE date BETWEEN DATE '{from}' AND DATE '{to}'
GROUP BY CAST(date AS STRING)`,
}

// ErrBadRange is returned for a malformed date range.
var ErrBadRange = errors.New("bad report date range")

// CheckRange validates a report's date range.
func CheckRange(from, to string) error {
	if _, err := lake.DaysBetween(from, to); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRange, err)
	}
	return nil
}

// Build runs the sales report for from..to (YYYY-MM-DD, inclusive) on e.
func Build(ctx context.Context, e Engine, from, to string, now time.Time) (SalesReport, error) {
	days, err := lake.DaysBetween(from, to)
	if err != nil {
		return SalesReport{}, fmt.Errorf("%w: %v", ErrBadRange, err)
	}
	src := map[string]string{}
	for _, t := range lake.Tables {
		s, err := e.Source(ctx, t, days)
		if err != nil {
			return SalesReport{}, fmt.Errorf("reading lake table %s: %w", t, err)
		}
		src[t] = s
	}
	fill := func(q string) string {
		return strings.NewReplacer("{sales}", src[lake.TableSales], "{orders}", src[lake.TableOrders],
			"{payments}", src[lake.TablePayments], "{from}", from, "{to}", to,
			"{max_amount}", strconv.FormatInt(money.MaxAmount, 10), "{max_stock}", strconv.FormatInt(money.MaxStock, 10)).Replace(q)
	}
	r := SalesReport{Report: SalesReportName, From: from, To: to, Currency: "KRW", Engine: e.Name(),
		GeneratedAt: now.UTC().Truncate(time.Second), ByCategory: []CategorySales{}, TopSKUs: []SKUSales{}}

	for _, t := range lake.Tables {
		q := strings.ReplaceAll(Queries.Inputs, "{table}", src[t])
		rows, err := e.Query(ctx, fill(q))
		if err == nil {
			err = checkWidth(rows, 2)
		}
		if err != nil {
			return SalesReport{}, fmt.Errorf("counting %s rows: %w", t, err)
		}
		for _, row := range rows {
			r.Inputs = append(r.Inputs, Input{Table: t, Date: str(row[0]), Rows: i64(row[1])})
		}
	}
	slices.SortFunc(r.Inputs, func(a, b Input) int { return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Date, b.Date)) })

	sales, err := e.Query(ctx, fill(Queries.Sales))
	if err == nil {
		err = checkWidth(sales, 14)
	}
	if err != nil {
		return SalesReport{}, fmt.Errorf("sales query: %w", err)
	}
	r.Hourly = make([]HourSales, 24)
	for h := range r.Hourly {
		r.Hourly[h].Hour = h
	}
	var skus []SKUSales
	for _, row := range sales {
		gCat, gSKU, gHour := i64(row[0]), i64(row[1]), i64(row[2])
		lines, units, revenue, baseRevenue := i64(row[6]), i64(row[7]), i64(row[8]), i64(row[9])
		switch {
		case gCat == 1 && gSKU == 1 && gHour == 1: // ()
			r.Summary.Lines, r.Summary.Units, r.Summary.GrossRevenue = lines, units, revenue
			r.Summary.RejectedLines = i64(row[13])
		case lines == 0:
			// A category, SKU or hour of rejected lines only.
		case gCat == 0:
			r.ByCategory = append(r.ByCategory, CategorySales{Category: CategoryName(str(row[3])), Units: units, Revenue: revenue})
		case gSKU == 0:
			// Base-price figures come from the lines that carry a base price
			// (purchase events from before it was recorded have none).
			basedUnits, basedRevenue := i64(row[11]), i64(row[12])
			s := SKUSales{SKU: str(row[4]), Category: CategoryName(str(row[10])), Units: units, Revenue: revenue}
			if units > 0 {
				s.AvgPrice = round(float64(revenue)/float64(units), 2)
			}
			if basedUnits > 0 {
				s.AvgBasePrice = round(float64(baseRevenue)/float64(basedUnits), 2)
			}
			if baseRevenue > 0 {
				s.PriceIndex = round(float64(basedRevenue)/float64(baseRevenue), 4)
			}
			skus = append(skus, s)
		case gHour == 0:
			if h := i64(row[5]); h >= 0 && h < 24 {
				r.Hourly[h].Units, r.Hourly[h].Revenue = units, revenue
			}
		}
	}
	slices.SortFunc(r.ByCategory, func(a, b CategorySales) int {
		return cmp.Or(cmp.Compare(b.Revenue, a.Revenue), cmp.Compare(a.Category, b.Category))
	})
	for i := range r.ByCategory {
		if r.Summary.GrossRevenue > 0 {
			r.ByCategory[i].RevenueShare = round(float64(r.ByCategory[i].Revenue)/float64(r.Summary.GrossRevenue), 4)
		}
	}
	slices.SortFunc(skus, func(a, b SKUSales) int { return cmp.Or(cmp.Compare(b.Revenue, a.Revenue), cmp.Compare(a.SKU, b.SKU)) })
	for i := range min(len(skus), TopSKUs) {
		skus[i].Rank = i + 1
		r.TopSKUs = append(r.TopSKUs, skus[i])
	}

	orderRows, err := e.Query(ctx, fill(Queries.Orders))
	if err == nil {
		err = checkWidth(orderRows, 4)
	}
	if err != nil {
		return SalesReport{}, fmt.Errorf("orders query: %w", err)
	}
	orders := map[string][2]int64{}
	for _, row := range orderRows {
		orders[str(row[0])] = [2]int64{i64(row[1]), i64(row[2])}
		r.Summary.RejectedEvents += i64(row[3])
	}
	paymentRows, err := e.Query(ctx, fill(Queries.Payments))
	if err == nil {
		err = checkWidth(paymentRows, 5)
	}
	if err != nil {
		return SalesReport{}, fmt.Errorf("payments query: %w", err)
	}
	s := &r.Summary
	for _, row := range paymentRows {
		n, amount := i64(row[2]), i64(row[3])
		s.RejectedEvents += i64(row[4])
		switch str(row[0]) {
		case event.TypePaymentAuthorized:
			s.PaymentsAuthorized += n
		case event.TypePaymentDeclined:
			if PaymentFailure(str(row[1])) {
				s.PaymentsDeclined += n
			}
		case event.TypePaymentRefunded:
			s.Refunds += n
			s.RefundedAmount += amount
		}
	}
	s.Orders = orders[event.TypeOrderPaid][0]
	s.Cancellations, s.CancelledAmount = orders[event.TypeOrderCancelled][0], orders[event.TypeOrderCancelled][1]
	s.NetRevenue = s.GrossRevenue - s.RefundedAmount
	if s.Orders > 0 {
		s.AverageOrderValue = round(float64(s.GrossRevenue)/float64(s.Orders), 2)
	}
	if n := s.PaymentsAuthorized + s.PaymentsDeclined; n > 0 {
		s.PaymentFailureRate = round(float64(s.PaymentsDeclined)/float64(n), 4)
	}
	return r, nil
}

// checkWidth rejects an engine answer with fewer columns than the query
// selects, instead of indexing past them.
func checkWidth(rows [][]any, n int) error {
	for _, r := range rows {
		if len(r) < n {
			return fmt.Errorf("engine returned %d columns, the query selects %d", len(r), n)
		}
	}
	return nil
}

// PaymentFailure reports whether a payment.declined event with this reason
// was the payment's failure (declined, bad token, gateway down) rather than
// checkout's (the hold expired, the checkout was abandoned: the card was
// approved, then voided). Only the former count in the failure rate.
func PaymentFailure(reason string) bool {
	switch reason {
	case "reservation_expired", "abandoned":
		return false
	}
	return true
}

// CategoryName is how a category is shown; lines recorded before purchases
// carried a category have none.
func CategoryName(c string) string {
	if c == "" {
		return "(none)"
	}
	return c
}

// EmptySource is a FROM item with table's columns (and date) and no rows,
// for days an engine finds no files for. Both dialects accept it.
func EmptySource(table string) string {
	var b strings.Builder
	b.WriteString("(SELECT ")
	for _, c := range lake.Columns[table] {
		fmt.Fprintf(&b, "CAST(NULL AS %s) AS %s, ", c.Type, c.Name)
	}
	b.WriteString("CAST(NULL AS DATE) AS date LIMIT 0)")
	return b.String()
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// i64 reads an integer an engine returned (drivers differ in widths).
func i64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case uint32:
		return int64(x)
	case uint8:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.DateOnly)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
