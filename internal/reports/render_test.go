package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// updateGolden reports whether go test ran with -update, which rewrites
// the golden files. The flag is not defined here: internal/reporttest,
// which this package's external tests link into the same test binary,
// defines -update on the global flag set, and defining it twice panics.
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	xssText     = "<script>alert(1)</script>"
	formulaText = "=cmd|' /C calc'!A0"
)

// sampleReport is a hand-built day with hostile and awkward text: markup,
// a spreadsheet formula, Korean and over-long names, a SKU without base
// price and an hour with no sales.
func sampleReport() SalesReport {
	r := SalesReport{
		Report: SalesReportName, From: "2026-03-01", To: "2026-03-01", Currency: "KRW", Engine: "duckdb",
		GeneratedAt: time.Date(2026, 3, 2, 0, 10, 5, 0, time.UTC),
		Summary: Summary{
			Orders: 1234, Lines: 2345, Units: 3456, GrossRevenue: 45_678_900, NetRevenue: 45_000_000,
			AverageOrderValue: 37016.94, PaymentsAuthorized: 1250, PaymentsDeclined: 37, PaymentFailureRate: 0.0287,
			Cancellations: 12, CancelledAmount: 345_600, Refunds: 5, RefundedAmount: 678_900,
		},
		ByCategory: []CategorySales{
			{Category: "식품", Units: 1500, Revenue: 20_000_000, RevenueShare: 0.4378},
			{Category: xssText, Units: 900, Revenue: 12_000_000, RevenueShare: 0.2627},
			{Category: formulaText, Units: 700, Revenue: 9_000_000, RevenueShare: 0.197},
			{Category: "+1-555 & other \"quoted\" stuff", Units: 356, Revenue: 4_678_900, RevenueShare: 0.1024},
		},
		TopSKUs: []SKUSales{
			{Rank: 1, SKU: "SKU-0001", Category: "식품", Units: 500, Revenue: 6_450_000, AvgPrice: 12900, AvgBasePrice: 14900, PriceIndex: 0.8658},
			{Rank: 2, SKU: xssText, Category: xssText, Units: 300, Revenue: 3_000_000, AvgPrice: 10000, AvgBasePrice: 10000, PriceIndex: 1},
			{Rank: 3, SKU: formulaText, Category: formulaText, Units: 250, Revenue: 2_500_000, AvgPrice: 10000, AvgBasePrice: 9500, PriceIndex: 1.0526},
			{Rank: 4, SKU: "SKU-WITH-AN-EXTREMELY-LONG-NAME-THAT-MUST-BE-TRUNCATED", Category: "식품", Units: 100, Revenue: 1_234_567, AvgPrice: 12345.67, AvgBasePrice: 13000.5, PriceIndex: 0.9497},
			{Rank: 5, SKU: "한글로된아주긴상품이름입니다정말로길어요", Category: "식품", Units: 10, Revenue: 99_000, AvgPrice: 9900, AvgBasePrice: 0, PriceIndex: 0},
			{Rank: 6, SKU: "@SUM(A1:A9)", Category: "-10+20", Units: 1, Revenue: 1, AvgPrice: 1, AvgBasePrice: 1, PriceIndex: 1},
		},
		Inputs: []Input{
			{Table: "orders", Date: "2026-03-01", Rows: 1300},
			{Table: "payments", Date: "2026-03-01", Rows: 1292},
			{Table: "sales", Date: "2026-03-01", Rows: 2345},
		},
	}
	r.Hourly = make([]HourSales, 24)
	for h := range r.Hourly {
		r.Hourly[h] = HourSales{Hour: h, Units: int64(h * 10), Revenue: int64(h * h * 15_000)}
	}
	r.Hourly[3] = HourSales{Hour: 3} // a quiet hour
	return r
}

// emptyReport is what Build returns for a day without sales.
func emptyReport() SalesReport {
	r := SalesReport{Report: SalesReportName, From: "2026-03-02", To: "2026-03-02", Currency: "KRW", Engine: "spark",
		GeneratedAt: time.Date(2026, 3, 3, 0, 10, 0, 0, time.UTC), ByCategory: []CategorySales{}, TopSKUs: []SKUSales{},
		Hourly: make([]HourSales, 24)}
	for h := range r.Hourly {
		r.Hourly[h].Hour = h
	}
	return r
}

var renderCases = []struct {
	name   string
	report func() SalesReport
}{
	{"sample", sampleReport},
	{"empty", emptyReport},
}

// golden compares got with testdata/render/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "render", name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (go test -update creates it): %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d (go test -update rewrites it after review)\n got: %q\nwant: %q", path, i+1, g, w)
		}
	}
}

func render(t *testing.T, write func(io.Writer, SalesReport) error, r SalesReport) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := c.report()
			got := render(t, WriteJSON, r)
			golden(t, c.name+".json.golden", got)
			if !bytes.HasSuffix(got, []byte("}\n")) {
				t.Error("JSON does not end with a newline")
			}
			var back SalesReport
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			r.Inputs = nonNil(r.Inputs)
			if !reflect.DeepEqual(back, r) {
				t.Errorf("JSON round trip changed the report:\n got %+v\nwant %+v", back, r)
			}
		})
	}
}

func TestRenderJSONWritesEmptyListsNotNull(t *testing.T) {
	t.Parallel()
	got := string(render(t, WriteJSON, SalesReport{}))
	for _, field := range []string{"by_category", "top_skus", "hourly", "inputs"} {
		if !strings.Contains(got, `"`+field+`": []`) {
			t.Errorf("%s is not an empty list in\n%s", field, got)
		}
	}
}

func TestRenderCSV(t *testing.T) {
	t.Parallel()
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := c.report()
			got := render(t, WriteCSV, r)
			golden(t, c.name+".csv.golden", got)

			records, err := csv.NewReader(bytes.NewReader(got)).ReadAll() // also checks every row has the header's width
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(records[0], csvHeader[:]) {
				t.Fatalf("header = %v", records[0])
			}
			sections := map[string]int{}
			for _, rec := range records[1:] {
				sections[rec[colSection]]++
				for i, cell := range rec {
					if _, err := strconv.ParseFloat(cell, 64); err == nil {
						continue // a number, which a spreadsheet does not evaluate
					}
					if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
						t.Errorf("%s cell %q of %v could run as a formula", csvHeader[i], cell, rec)
					}
				}
			}
			want := map[string]int{"report": 6, "summary": 15, "by_category": len(r.ByCategory),
				"top_skus": len(r.TopSKUs), "hourly": 24, "inputs": len(r.Inputs)}
			for s, n := range want {
				if sections[s] != n {
					t.Errorf("%d %s rows, want %d", sections[s], s, n)
				}
			}
		})
	}
}

func TestRenderCSVInjection(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.Summary.NetRevenue = -1200
	records, err := csv.NewReader(bytes.NewReader(render(t, WriteCSV, r))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	find := func(section, key string) []string {
		for _, rec := range records {
			if rec[colSection] == section && rec[colKey] == key {
				return rec
			}
		}
		t.Fatalf("no %s row %q", section, key)
		return nil
	}
	if rec := find("by_category", "'"+formulaText); rec[colCategory] != "'"+formulaText {
		t.Errorf("formula category written as %q", rec[colCategory])
	}
	if rec := find("top_skus", "'@SUM(A1:A9)"); rec[colCategory] != "'-10+20" {
		t.Errorf("formula-like SKU category written as %q", rec[colCategory])
	}
	find("by_category", xssText) // plain text needs no quote
	if rec := find("summary", "net_revenue"); rec[colValue] != "-1200" {
		t.Errorf("negative net revenue written as %q, want the number -1200", rec[colValue])
	}
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx",
		"x=1": "x=1", "": "", "'=1": "'=1", "SKU-1": "SKU-1",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderHTML(t *testing.T) {
	t.Parallel()
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := render(t, WriteHTML, c.report())
			golden(t, c.name+".html.golden", got)
			checkHTML(t, string(got))
		})
	}
}

func TestRenderHTMLContent(t *testing.T) {
	t.Parallel()
	page := string(render(t, WriteHTML, sampleReport()))
	for _, want := range []string{
		"<title>Mercato sales report 2026-03-01</title>",
		"&lt;script&gt;alert(1)&lt;/script&gt;", // escaped, never markup
		"₩45,678,900", "₩45,000,000", "₩37,017", "2.87%", "1,234",
		"index 0.87 (avg ₩12,900 / base ₩14,900)",
		"<title>#4 SKU-WITH-AN-EXTREMELY-LONG-NAME-THAT-MUST-BE-TRUNCATED (식품)", // full name in the tooltip
		">#4 SKU-WITH-AN-EXTREMELY-L…</text>",
		">#5 한글로된아주긴상품이름…</text>",
		"Engine: duckdb · generated at 2026-03-02T00:10:05Z",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	r := sampleReport()
	r.To = "2026-03-07"
	if page := string(render(t, WriteHTML, r)); !strings.Contains(page, "<title>Mercato sales report 2026-03-01 – 2026-03-07</title>") {
		t.Error("a range report's title does not show both days")
	}

	if strings.Contains(page, "Rejected records") {
		t.Error("a report without rejected records shows the card")
	}
	r = sampleReport()
	r.Summary.RejectedLines, r.Summary.RejectedEvents = 1, 2
	want := `<div class="label">Rejected records</div><div class="value">3</div><div class="note">1 lines, 2 events out of bounds, left out</div>`
	if page := string(render(t, WriteHTML, r)); !strings.Contains(page, want) {
		t.Errorf("a report with rejected records lacks %s", want)
	}
}

func TestRenderHTMLOddData(t *testing.T) {
	t.Parallel()
	cases := map[string]SalesReport{
		"zero value": {},
		"nil hourly with sales": {ByCategory: []CategorySales{{Category: "a", Revenue: 5}},
			TopSKUs: []SKUSales{{Rank: 1, SKU: "x", Revenue: 5, AvgPrice: math.NaN(), PriceIndex: math.Inf(1)}}},
		"negative and zero revenue": {Hourly: []HourSales{{Hour: 5, Revenue: -10}, {Hour: 30, Revenue: 10}},
			ByCategory: []CategorySales{{Category: "refunds", Revenue: -100}, {Category: "none"}}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkHTML(t, string(render(t, WriteHTML, r)))
		})
	}
}

var (
	svgBlock     = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)
	eventHandler = regexp.MustCompile(`\son[a-z]+\s*=`)
	numericAttr  = map[string]bool{"x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true, "width": true, "height": true}
)

// checkHTML checks what the golden files cannot show at a glance: the page
// is well-formed (as XML, a stricter test than HTML needs, since
// golang.org/x/net/html is not a direct dependency), its three charts are
// SVG with finite, non-negative geometry, and it runs no script and loads
// nothing.
func checkHTML(t *testing.T, page string) {
	t.Helper()
	if err := decodeXML(page, nil); err != nil {
		t.Errorf("page is not well-formed: %v", err)
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "javascript:", "src=", "href=", "url(", "@import", "<link", "<iframe", "<object", "<img"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if eventHandler.MatchString(lower) {
		t.Error("page has an event handler attribute")
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if n := strings.Count(lower, "<style"); n != 1 || strings.Index(lower, "<style") > strings.Index(lower, "</head>") {
		t.Errorf("want one <style> block in <head>, found %d", n)
	}
	svgs := svgBlock.FindAllString(page, -1)
	if len(svgs) != 3 {
		t.Fatalf("found %d <svg> charts, want 3", len(svgs))
	}
	for i, svg := range svgs {
		err := decodeXML(svg, func(e xml.StartElement, depth int) error {
			if depth == 0 && (e.Name.Local != "svg" || e.Name.Space != "http://www.w3.org/2000/svg") {
				return errors.New("root is not an SVG element")
			}
			for _, a := range e.Attr {
				if !numericAttr[a.Name.Local] {
					continue
				}
				v, err := strconv.ParseFloat(a.Value, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return errors.New("<" + e.Name.Local + "> has " + a.Name.Local + "=" + strconv.Quote(a.Value))
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("chart %d: %v", i+1, err)
		}
	}
}

// decodeXML decodes doc strictly, calling start (if not nil) for each
// element with its nesting depth.
func decodeXML(doc string, start func(e xml.StartElement, depth int) error) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth != 0 {
				return errors.New("unclosed elements at end of document")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if start != nil {
				if err := start(e, depth); err != nil {
					return err
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

func TestFormatKRW(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "₩0"},
		{1, "₩1"},
		{999, "₩999"},
		{1000, "₩1,000"},
		{12900, "₩12,900"},
		{999_999, "₩999,999"},
		{1_234_567, "₩1,234,567"},
		{-1, "-₩1"},
		{-1200, "-₩1,200"},
		{-999_999, "-₩999,999"},
		{math.MaxInt64, "₩9,223,372,036,854,775,807"},
		{math.MinInt64, "-₩9,223,372,036,854,775,808"},
	} {
		if got := FormatKRW(c.in); got != c.want {
			t.Errorf("FormatKRW(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRenderFormatHelpers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{formatKRWFloat(37016.5), "₩37,017"},
		{formatKRWFloat(-0.4), "₩0"},
		{formatKRWFloat(math.NaN()), "–"},
		{formatKRWFloat(math.Inf(-1)), "–"},
		{formatKRWFloat(1e300), "–"},
		{formatPercent(0.0287), "2.87%"},
		{formatPercent(0), "0.00%"},
		{formatPercent(math.NaN()), "–"},
		{formatIndex(0.8658), "0.87"},
		{formatIndex(0), "–"},
		{formatCount(-1234), "-1,234"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestRenderTruncateLabel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"SKU-0001", "SKU-0001"},
		{strings.Repeat("a", 24), strings.Repeat("a", 24)},
		{strings.Repeat("a", 25), strings.Repeat("a", 23) + "…"},
		{strings.Repeat("한", 12), strings.Repeat("한", 12)}, // 24 columns
		{strings.Repeat("한", 13), strings.Repeat("한", 11) + "…"},
		{"a\nb\tc", "a b c"},
	} {
		if got := truncateLabel(c.in); got != c.want {
			t.Errorf("truncateLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
