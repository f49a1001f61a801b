package simulate

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// WriteJSON writes the report as indented JSON: the same bytes for the same
// options.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the simulation report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func pct(s *Stat) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*s.Mean)
}

func share(s *Stat) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*s.Mean)
}

// money formats minor units with thousands separators.
func money(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func pm(s Stat) string {
	return "±" + money((s.CI95[1]-s.CI95[0])/2)
}

// WriteTable writes the report for a terminal.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "mercato simulate: %d SKUs × %d days × %d seeds (from %d), demand form %s, objective %s\n",
		r.SKUs, r.Days, r.Seeds, r.Seed, r.DemandForm, r.Objective)
	fmt.Fprintf(w, "means over seeds, ± half the 95 %% interval; money in minor units\n\n")
	fmt.Fprintf(w, "%-14s %16s %14s %16s %10s %9s %11s %9s %7s %9s %8s %9s\n",
		"policy", "gross margin", "±", "revenue", "units", "lost", "stockout h", "in-stock", "fill", "chg/SKU-d", "%oracle", "vs list")
	for _, p := range r.Policies {
		fmt.Fprintf(w, "%-14s %16s %14s %16s %10.0f %9.0f %11.0f %8.2f%% %6.2f%% %9.2f %8s %9s\n",
			p.Policy, money(p.GrossMargin.Mean), pm(p.GrossMargin), money(p.Revenue.Mean), p.Units.Mean, p.LostSales.Mean,
			p.StockoutSKUHours.Mean, 100*p.InStockRate.Mean, 100*p.FillRate.Mean, p.PriceChangesPerDay.Mean,
			share(p.OracleMarginShare), pct(p.MarginVsStaticList))
	}
}

// WriteHTML writes a self-contained page: margin per policy and the price
// paths of the traced SKUs against their best static price, as inline SVG.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Mercato pricing simulation</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}svg{background:#fafafa;border:1px solid #eee;margin:6px 0}.lg span{display:inline-block;margin-right:14px}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Pricing simulation</h1><p>%d SKUs × %d days × %d seeds (from %d), demand form <b>%s</b>, objective <b>%s</b>. Means over seeds with 95 %% intervals.</p>",
		r.SKUs, r.Days, r.Seeds, r.Seed, html.EscapeString(r.DemandForm), html.EscapeString(r.Objective))
	b.WriteString("<table><tr><th>policy</th><th>gross margin</th><th>revenue</th><th>units</th><th>lost sales</th><th>stock-out SKU-h</th><th>in-stock</th><th>fill rate</th><th>changes/SKU-day</th><th>% of oracle margin</th><th>margin vs list</th></tr>")
	for _, p := range r.Policies {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s %s</td><td>%s</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.2f%%</td><td>%.2f%%</td><td>%.2f</td><td>%s</td><td>%s</td></tr>",
			html.EscapeString(p.Policy), money(p.GrossMargin.Mean), pm(p.GrossMargin), money(p.Revenue.Mean), p.Units.Mean, p.LostSales.Mean,
			p.StockoutSKUHours.Mean, 100*p.InStockRate.Mean, 100*p.FillRate.Mean, p.PriceChangesPerDay.Mean, share(p.OracleMarginShare), pct(p.MarginVsStaticList))
	}
	b.WriteString("</table>")
	b.WriteString("<h2>Gross margin per policy</h2>")
	r.marginChart(&b)
	if len(r.Traces) > 0 {
		b.WriteString("<h2>Price paths (first seed, best sellers)</h2>")
		for _, t := range r.Traces {
			fmt.Fprintf(&b, "<h3>%s <small>(%s; list %s, unit cost %s, best static price %s)</small></h3>",
				html.EscapeString(t.SKU), html.EscapeString(t.Form), money(float64(t.List)), money(float64(t.Cost)), money(float64(t.OraclePrice)))
			r.pathChart(&b, t)
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var policyColour = map[string]string{
	PolicyStaticList: "#888", PolicyRule: "#d62728", PolicyLearn: "#1f77b4", PolicyOracleStatic: "#2ca02c", PolicyOracle: "#9467bd",
}

func (r *Report) marginChart(b *strings.Builder) {
	const width, barH, left = 720, 26, 120
	height := len(r.Policies)*(barH+8) + 20
	var top float64
	for _, p := range r.Policies {
		top = math.Max(top, p.GrossMargin.CI95[1])
	}
	if top <= 0 {
		top = 1
	}
	scale := float64(width-left-40) / top
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, width, height, width, height)
	for i, p := range r.Policies {
		y := 10 + i*(barH+8)
		wbar := math.Max(0, p.GrossMargin.Mean*scale)
		fmt.Fprintf(b, `<text x="4" y="%d">%s</text>`, y+18, html.EscapeString(p.Policy))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, wbar, barH, policyColour[p.Policy])
		lo, hi := math.Max(0, p.GrossMargin.CI95[0]*scale), math.Max(0, p.GrossMargin.CI95[1]*scale)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#000"/>`, float64(left)+lo, float64(left)+hi, y+barH/2, y+barH/2)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11">%s</text>`, float64(left)+wbar+4, y+barH-4, money(p.GrossMargin.Mean))
	}
	b.WriteString("</svg>")
}

func (r *Report) pathChart(b *strings.Builder, t Trace) {
	const width, height, pad = 900, 240, 40
	hours := float64(r.Days * 24)
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	for _, path := range t.Paths {
		for _, p := range path {
			lo, hi = math.Min(lo, float64(p.Price)), math.Max(hi, float64(p.Price))
		}
	}
	lo, hi = math.Min(lo, float64(t.OraclePrice)), math.Max(hi, float64(t.OraclePrice))
	if !(hi > lo) {
		hi = lo + 1
	}
	x := func(h float64) float64 { return pad + h/hours*(width-2*pad) }
	y := func(p float64) float64 { return height - pad - (p-lo)/(hi-lo)*(height-2*pad) }
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, width, height, width, height)
	fmt.Fprintf(b, `<text x="2" y="%.1f" font-size="11">%s</text><text x="2" y="%.1f" font-size="11">%s</text>`,
		y(hi)+4, money(hi), y(lo)+4, money(lo))
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2ca02c" stroke-dasharray="4 3"/>`,
		pad, width-pad, y(float64(t.OraclePrice)), y(float64(t.OraclePrice)))
	for _, name := range Policies {
		path, ok := t.Paths[name]
		if !ok || len(path) == 0 || name == PolicyOracleStatic {
			continue
		}
		var pts strings.Builder
		prev := path[0]
		fmt.Fprintf(&pts, "%.1f,%.1f", x(prev.Hour), y(float64(prev.Price)))
		for _, p := range path[1:] {
			fmt.Fprintf(&pts, " %.1f,%.1f %.1f,%.1f", x(p.Hour), y(float64(prev.Price)), x(p.Hour), y(float64(p.Price)))
			prev = p
		}
		fmt.Fprintf(&pts, " %.1f,%.1f", x(hours), y(float64(prev.Price)))
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`, policyColour[name], pts.String())
	}
	b.WriteString("</svg><div class=\"lg\">")
	for _, name := range Policies {
		if _, ok := t.Paths[name]; ok {
			label := name
			if name == PolicyOracleStatic {
				label += " (dashed)"
			}
			fmt.Fprintf(b, `<span style="color:%s">■ %s</span>`, policyColour[name], html.EscapeString(label))
		}
	}
	b.WriteString("</div>")
}
