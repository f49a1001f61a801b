package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// WriteJSON writes r as indented JSON with a trailing newline. Nil slices
// are written as [] rather than null so consumers can always iterate them.
func WriteJSON(w io.Writer, r SalesReport) error {
	r.ByCategory = nonNil(r.ByCategory)
	r.TopSKUs = nonNil(r.TopSKUs)
	r.Hourly = nonNil(r.Hourly)
	r.Inputs = nonNil(r.Inputs)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Columns of the CSV report. One long-format table holds every section so
// the file opens as a single sheet that can be filtered on "section".
const (
	colSection = iota
	colKey
	colDate
	colRank
	colCategory
	colUnits
	colRevenue
	colRevenueShare
	colAvgPrice
	colAvgBasePrice
	colPriceIndex
	colValue
	numCSVColumns
)

var csvHeader = [numCSVColumns]string{
	"section", "key", "date", "rank", "category", "units", "revenue",
	"revenue_share", "avg_price", "avg_base_price", "price_index", "value",
}

// WriteCSV writes r as one long-format CSV table with the header
//
//	section,key,date,rank,category,units,revenue,revenue_share,avg_price,avg_base_price,price_index,value
//
// where section and key identify each row and only the columns that apply
// to the section are filled:
//
//   - report: key is report, from, to, currency, engine or generated_at
//     (RFC 3339, UTC); value holds it.
//   - summary: key is a Summary field's JSON name; value holds it. Money is
//     in KRW (no minor unit), rates are fractions (0.0125 = 1.25%).
//   - by_category: key and category are the category; units, revenue,
//     revenue_share.
//   - top_skus: key is the SKU; rank, category, units, revenue, avg_price,
//     avg_base_price, price_index.
//   - hourly: key is the hour (0-23); units, revenue. Always 24 rows.
//   - inputs: key is the lake table, date the partition; value the rows.
//
// Text cells that a spreadsheet would evaluate as a formula (starting with
// = + - @ tab or carriage return) get a leading single quote, since SKUs and
// categories come from event data anyone may write to (CSV injection).
// Numeric cells are written by this function and never quoted, so a
// negative number stays a number.
func WriteCSV(w io.Writer, r SalesReport) error {
	cw := csv.NewWriter(w)
	row := func(section, key string) []string {
		rec := make([]string, numCSVColumns)
		rec[colSection], rec[colKey] = section, csvText(key)
		return rec
	}
	records := [][]string{csvHeader[:]}

	generated := ""
	if !r.GeneratedAt.IsZero() {
		generated = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	for _, kv := range [][2]string{{"report", r.Report}, {"from", r.From}, {"to", r.To},
		{"currency", r.Currency}, {"engine", r.Engine}, {"generated_at", generated}} {
		rec := row("report", kv[0])
		rec[colValue] = csvText(kv[1])
		records = append(records, rec)
	}

	s := r.Summary
	for _, kv := range []struct {
		key, value string
	}{
		{"orders", itoa(s.Orders)},
		{"lines", itoa(s.Lines)},
		{"units", itoa(s.Units)},
		{"gross_revenue", itoa(s.GrossRevenue)},
		{"net_revenue", itoa(s.NetRevenue)},
		{"average_order_value", ftoa(s.AverageOrderValue)},
		{"payments_authorized", itoa(s.PaymentsAuthorized)},
		{"payments_declined", itoa(s.PaymentsDeclined)},
		{"payment_failure_rate", ftoa(s.PaymentFailureRate)},
		{"cancellations", itoa(s.Cancellations)},
		{"cancelled_amount", itoa(s.CancelledAmount)},
		{"refunds", itoa(s.Refunds)},
		{"refunded_amount", itoa(s.RefundedAmount)},
		{"rejected_lines", itoa(s.RejectedLines)},
		{"rejected_events", itoa(s.RejectedEvents)},
	} {
		rec := row("summary", kv.key)
		rec[colValue] = kv.value
		records = append(records, rec)
	}

	for _, c := range r.ByCategory {
		rec := row("by_category", c.Category)
		rec[colCategory] = csvText(c.Category)
		rec[colUnits], rec[colRevenue], rec[colRevenueShare] = itoa(c.Units), itoa(c.Revenue), ftoa(c.RevenueShare)
		records = append(records, rec)
	}
	for _, k := range r.TopSKUs {
		rec := row("top_skus", k.SKU)
		rec[colRank], rec[colCategory] = strconv.Itoa(k.Rank), csvText(k.Category)
		rec[colUnits], rec[colRevenue] = itoa(k.Units), itoa(k.Revenue)
		rec[colAvgPrice], rec[colAvgBasePrice], rec[colPriceIndex] = ftoa(k.AvgPrice), ftoa(k.AvgBasePrice), ftoa(k.PriceIndex)
		records = append(records, rec)
	}
	for _, h := range hours(r.Hourly) {
		rec := row("hourly", strconv.Itoa(h.Hour))
		rec[colUnits], rec[colRevenue] = itoa(h.Units), itoa(h.Revenue)
		records = append(records, rec)
	}
	for _, in := range r.Inputs {
		rec := row("inputs", in.Table)
		rec[colDate], rec[colValue] = csvText(in.Date), itoa(in.Rows)
		records = append(records, rec)
	}

	if err := cw.WriteAll(records); err != nil {
		return fmt.Errorf("writing CSV report: %w", err)
	}
	return nil
}

// csvText neutralises a text cell a spreadsheet would run as a formula.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// hours returns the report's hours as exactly 24 entries indexed by hour,
// whatever r.Hourly holds (a hand-built or decoded report may have fewer).
func hours(in []HourSales) [24]HourSales {
	var out [24]HourSales
	for h := range out {
		out[h].Hour = h
	}
	for _, h := range in {
		if h.Hour >= 0 && h.Hour < 24 {
			out[h.Hour] = h
		}
	}
	return out
}

// FormatKRW formats an amount of won, which has no minor unit, as
// "₩1,234,567" ("-₩1,200" when negative).
func FormatKRW(v int64) string {
	if v < 0 {
		// Negate in uint64 so math.MinInt64 does not overflow.
		return "-₩" + groupDigits(-uint64(v))
	}
	return "₩" + groupDigits(uint64(v))
}

// formatKRWFloat formats an average amount rounded to the nearest won.
func formatKRWFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxInt64/2 {
		return "–"
	}
	return FormatKRW(int64(math.Round(v)))
}

// formatCount formats a count with thousands separators.
func formatCount(v int64) string {
	if v < 0 {
		return "-" + groupDigits(-uint64(v))
	}
	return groupDigits(uint64(v))
}

func groupDigits(u uint64) string {
	s := strconv.FormatUint(u, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatPercent formats a fraction as a percentage with two decimals.
func formatPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
}

// formatIndex formats a price index (avg / base price); 0 means the base
// price was unknown.
func formatIndex(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Chart geometry, in SVG user units. The charts scale with the page (CSS
// max-width), so these only fix proportions and the room left for labels.
const (
	// maxLabelCols is how wide a chart label may be, in columns where a
	// Hangul or CJK character counts two: they are about twice as wide as
	// Latin letters, and Korean category names are common.
	maxLabelCols = 24

	hourW, hourH        = 720, 260
	hourLeft, hourSlot  = 24, 28 // 24 slots of 28 end at 696
	hourTop, hourBottom = 32, 224
	hourBarW, hourLabel = 20, 240

	barW, barRowH, barTop = 920, 26, 8
	barLabelX, barX       = 228, 236 // labels end at barLabelX
	barMaxW               = 300      // leaves room for the value text
	emptyChartH           = 48
)

type (
	htmlPage struct {
		Title      string
		R          SalesReport
		Cards      []card
		Hourly     hourChart
		Categories barChart
		SKUs       barChart
		Generated  string
	}
	card struct{ Label, Value, Note string }

	hourChart struct {
		W, H, Left, Right, MidX, MidY, AxisY, LabelY int
		Empty                                        bool
		Peak                                         string
		Bars                                         []hourBar
	}
	hourBar struct {
		Title, Label       string
		X, Y, W, H, LabelX string
	}

	barChart struct {
		Name               string
		W, H, LabelX, BarX int
		Empty              bool
		Rows               []barRow
	}
	barRow struct {
		Title, Label, Value       string
		TextY, BarY, BarW, ValueX string
	}
)

// coord formats an SVG coordinate; it is never given NaN or Inf because
// every ratio is taken against a maximum checked to be positive.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// scale is v/top of length: 0 for empty data or a non-positive value, and
// at least one unit for a positive one so that small bars stay visible.
func scale(v, top int64, length float64) float64 {
	if top <= 0 || v <= 0 {
		return 0
	}
	return math.Max(1, float64(v)/float64(top)*length)
}

func newHourChart(hs [24]HourSales) hourChart {
	var top int64
	for _, h := range hs {
		top = max(top, h.Revenue)
	}
	c := hourChart{W: hourW, H: hourH, Left: hourLeft, Right: hourLeft + 24*hourSlot,
		MidX: hourLeft + 12*hourSlot, MidY: (hourTop + hourBottom) / 2, AxisY: hourBottom, LabelY: hourLabel,
		Empty: top <= 0, Peak: FormatKRW(top)}
	for _, h := range hs {
		height := scale(h.Revenue, top, hourBottom-hourTop)
		x := float64(hourLeft + h.Hour*hourSlot)
		c.Bars = append(c.Bars, hourBar{
			Title: fmt.Sprintf("%02d:00–%02d:00: %s, %s units", h.Hour, (h.Hour+1)%24,
				FormatKRW(h.Revenue), formatCount(h.Units)),
			Label:  fmt.Sprintf("%02d", h.Hour),
			X:      coord(x + (hourSlot-hourBarW)/2),
			Y:      coord(hourBottom - height),
			W:      coord(hourBarW),
			H:      coord(height),
			LabelX: coord(x + hourSlot/2),
		})
	}
	return c
}

// newBarChart lays out n horizontal bars; row returns the i-th bar's
// (truncated) label, tooltip and value text.
func newBarChart(name string, n int, revenue func(i int) int64, row func(i int) (label, title, value string)) barChart {
	c := barChart{Name: name, W: barW, H: emptyChartH, LabelX: barLabelX, BarX: barX, Empty: n == 0}
	if n == 0 {
		return c
	}
	var top int64
	for i := range n {
		top = max(top, revenue(i))
	}
	c.H = 2*barTop + n*barRowH
	for i := range n {
		label, title, value := row(i)
		y := float64(barTop + i*barRowH)
		w := scale(revenue(i), top, barMaxW)
		c.Rows = append(c.Rows, barRow{
			Title:  title,
			Label:  label,
			Value:  value,
			TextY:  coord(y + 17),
			BarY:   coord(y + 5),
			BarW:   coord(w),
			ValueX: coord(barX + w + 8),
		})
	}
	return c
}

// chartText makes data text safe to lay out on one SVG line: control
// characters (newlines, tabs) become spaces.
func chartText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncateLabel shortens s to maxLabelCols columns, ending it with "…".
// The full text goes in the chart element's <title> (its tooltip).
func truncateLabel(s string) string {
	s = chartText(s)
	cols := 0
	for _, r := range s {
		cols += runeCols(r)
	}
	if cols <= maxLabelCols {
		return s
	}
	var b strings.Builder
	cols = 0
	for _, r := range s {
		if cols+runeCols(r) > maxLabelCols-1 {
			break
		}
		cols += runeCols(r)
		b.WriteRune(r)
	}
	return b.String() + "…"
}

// runeCols approximates how many columns r takes in a proportional font:
// two for Hangul, CJK ideographs, kana and fullwidth forms, else one.
func runeCols(r rune) int {
	switch {
	case unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana),
		r >= 0x3000 && r <= 0x303F, // CJK symbols and punctuation
		r >= 0xFF01 && r <= 0xFF60, // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6:
		return 2
	}
	return 1
}

func newHTMLPage(r SalesReport) htmlPage {
	title := "Mercato sales report " + r.From
	if r.To != "" && r.To != r.From {
		title += " – " + r.To
	}
	s := r.Summary
	p := htmlPage{
		Title: title,
		R:     r,
		Cards: []card{
			{"Orders", formatCount(s.Orders), formatCount(s.Lines) + " order lines"},
			{"Units sold", formatCount(s.Units), ""},
			{"Gross revenue", FormatKRW(s.GrossRevenue), ""},
			{"Net revenue", FormatKRW(s.NetRevenue), "gross minus refunds"},
			{"Average order value", formatKRWFloat(s.AverageOrderValue), ""},
			{"Payment failure rate", formatPercent(s.PaymentFailureRate),
				formatCount(s.PaymentsDeclined) + " declined of " + formatCount(s.PaymentsAuthorized+s.PaymentsDeclined)},
			{"Cancellations", formatCount(s.Cancellations), FormatKRW(s.CancelledAmount)},
			{"Refunds", formatCount(s.Refunds), FormatKRW(s.RefundedAmount)},
		},
		Hourly: newHourChart(hours(r.Hourly)),
		Categories: newBarChart("Revenue by category", len(r.ByCategory),
			func(i int) int64 { return r.ByCategory[i].Revenue },
			func(i int) (string, string, string) {
				c := r.ByCategory[i]
				value := FormatKRW(c.Revenue) + " (" + formatPercent(c.RevenueShare) + ")"
				return truncateLabel(c.Category), chartText(c.Category) + ": " + value + ", " + formatCount(c.Units) + " units", value
			}),
		SKUs: newBarChart("Top SKUs by revenue", len(r.TopSKUs),
			func(i int) int64 { return r.TopSKUs[i].Revenue },
			func(i int) (string, string, string) {
				k := r.TopSKUs[i]
				value := FormatKRW(k.Revenue) + " · no base price"
				if k.PriceIndex != 0 {
					value = FormatKRW(k.Revenue) + " · index " + formatIndex(k.PriceIndex) +
						" (avg " + formatKRWFloat(k.AvgPrice) + " / base " + formatKRWFloat(k.AvgBasePrice) + ")"
				}
				return fmt.Sprintf("#%d %s", k.Rank, truncateLabel(k.SKU)),
					fmt.Sprintf("#%d %s (%s): %s, %s units", k.Rank, chartText(k.SKU), chartText(k.Category), value, formatCount(k.Units)),
					value
			}),
	}
	// Shown only when there is something to own up to: a lake written
	// before Mercato bounded amounts may hold records the figures leave out.
	if n := s.RejectedLines + s.RejectedEvents; n > 0 {
		p.Cards = append(p.Cards, card{"Rejected records", formatCount(n),
			formatCount(s.RejectedLines) + " lines, " + formatCount(s.RejectedEvents) + " events out of bounds, left out"})
	}
	if !r.GeneratedAt.IsZero() {
		p.Generated = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	return p
}

// WriteHTML writes r as a standalone HTML page: headline numbers, three
// server-rendered SVG charts and the tables behind them. It has no script
// and loads nothing (CSS is inline) so it can be served with
// "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'"
// and opened from disk or an e-mail. html/template escapes the SKU and
// category text, which comes from event data. The markup is also
// well-formed XML, which the tests rely on to check it.
func WriteHTML(w io.Writer, r SalesReport) error {
	if err := htmlTemplate.Execute(w, newHTMLPage(r)); err != nil {
		return fmt.Errorf("writing HTML report: %w", err)
	}
	return nil
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"krw":        FormatKRW,
	"krwf":       formatKRWFloat,
	"count":      formatCount,
	"percent":    formatPercent,
	"priceIndex": formatIndex,
}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; color: #222; background: #fff; margin: 0 auto; max-width: 960px; padding: 16px 24px 32px; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.25rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; }
.card .label { font-size: 0.8rem; color: #666; }
.card .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { font-size: 0.8rem; color: #666; }
svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { overflow-wrap: anywhere; }
footer { margin-top: 2rem; font-size: 0.8rem; color: #666; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<section class="cards">
{{- range .Cards}}
<div class="card"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Note}}<div class="note">{{.}}</div>{{end}}</div>
{{- end}}
</section>

<h2>Revenue by hour</h2>
{{with .Hourly -}}
<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Revenue by hour" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="system-ui, sans-serif" font-size="12" fill="#222">
{{- if .Empty}}
<text x="{{.MidX}}" y="{{.MidY}}" text-anchor="middle" fill="#666">No sales in this period</text>
{{- else}}
<text x="{{.Right}}" y="20" text-anchor="end" fill="#666">Peak hour: {{.Peak}}</text>
{{- end}}
{{- range .Bars}}
<g><title>{{.Title}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#3b6ea5"/><text x="{{.LabelX}}" y="{{$.Hourly.LabelY}}" text-anchor="middle" font-size="11" fill="#666">{{.Label}}</text></g>
{{- end}}
<line x1="{{.Left}}" y1="{{.AxisY}}" x2="{{.Right}}" y2="{{.AxisY}}" stroke="#999" stroke-width="1"/>
</svg>
{{- end}}

<h2>Revenue by category</h2>
{{template "bars" .Categories}}

<h2>Top SKUs by revenue</h2>
{{template "bars" .SKUs}}

<h2>Categories</h2>
<table>
<thead><tr><th>Category</th><th class="num">Units</th><th class="num">Revenue</th><th class="num">Share</th></tr></thead>
<tbody>
{{- range .R.ByCategory}}
<tr><td class="text">{{.Category}}</td><td class="num">{{count .Units}}</td><td class="num">{{krw .Revenue}}</td><td class="num">{{percent .RevenueShare}}</td></tr>
{{- else}}
<tr><td colspan="4">No sales in this period.</td></tr>
{{- end}}
</tbody>
</table>

<h2>Top SKUs</h2>
<table>
<thead><tr><th class="num">#</th><th>SKU</th><th>Category</th><th class="num">Units</th><th class="num">Revenue</th><th class="num">Avg price</th><th class="num">Avg base price</th><th class="num">Price index</th></tr></thead>
<tbody>
{{- range .R.TopSKUs}}
<tr><td class="num">{{.Rank}}</td><td class="text">{{.SKU}}</td><td class="text">{{.Category}}</td><td class="num">{{count .Units}}</td><td class="num">{{krw .Revenue}}</td><td class="num">{{krwf .AvgPrice}}</td><td class="num">{{krwf .AvgBasePrice}}</td><td class="num">{{priceIndex .PriceIndex}}</td></tr>
{{- else}}
<tr><td colspan="8">No sales in this period.</td></tr>
{{- end}}
</tbody>
</table>

<h2>Inputs</h2>
<table>
<thead><tr><th>Table</th><th>Date</th><th class="num">Rows</th></tr></thead>
<tbody>
{{- range .R.Inputs}}
<tr><td>{{.Table}}</td><td>{{.Date}}</td><td class="num">{{count .Rows}}</td></tr>
{{- else}}
<tr><td colspan="3">No lake partitions were read.</td></tr>
{{- end}}
</tbody>
</table>

<footer>Engine: {{.R.Engine}}{{with .Generated}} · generated at {{.}}{{end}}</footer>
</body>
</html>
{{define "bars"}}<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{{.Name}}" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="system-ui, sans-serif" font-size="12" fill="#222">
{{- if .Empty}}
<text x="{{.BarX}}" y="28" fill="#666">No sales in this period</text>
{{- end}}
{{- range .Rows}}
<g><title>{{.Title}}</title><text x="{{$.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text><rect x="{{$.BarX}}" y="{{.BarY}}" width="{{.BarW}}" height="16" fill="#3b6ea5"/><text x="{{.ValueX}}" y="{{.TextY}}" fill="#444">{{.Value}}</text></g>
{{- end}}
</svg>{{end}}`
