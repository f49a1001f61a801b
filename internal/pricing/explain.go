package pricing

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// RuleIDBasePrice is the rule id of a price record the pricing role has not
// produced: a SKU's base price before its first change.
const RuleIDBasePrice = "base_price"

// Explain writes why a price is what it is as one short sentence for a
// person, e.g. "demand 3.2× its usual rate; 9 h of stock left; step limit 5 %".
// It reads only the record, so the API can explain stored history too.
//
// The reasons it tells apart are the ones the pricer emits: the base price
// before any change; a price pulled back inside bounds that changed; the
// rule policy's demand and stock; the learn policy's cold start, a step
// towards an earlier decision, and a decision that explores (a Thompson draw
// far from the estimate) or exploits, with demand shocks and stock-bound
// raises; and what clipped the move (step limit, floor, ceiling). A frozen
// rule or a cooldown emits no change, so no record carries them.
func Explain(rec PriceRecord) string {
	r := rec.Reason
	if r.RuleID == RuleIDBasePrice {
		return "list price: not repriced yet"
	}
	// Bounds that moved past the price: the pricer goes straight to the
	// bound, whatever demand says (see Rule.limit).
	switch {
	case r.ClippedBy == ClippedByFloor && rec.Price > r.PreviousPrice:
		return "raised to the new price floor"
	case r.ClippedBy == ClippedByCeiling && rec.Price < r.PreviousPrice:
		return "lowered to the new price ceiling"
	}
	var parts []string
	if r.Learn != nil {
		parts = explainLearn(rec, *r.Learn)
	} else {
		parts = append(parts, demandPhrase(r))
	}
	if s := stockPhrase(r); s != "" {
		parts = append(parts, s)
	}
	if c := clipPhrase(rec); c != "" {
		parts = append(parts, c)
	}
	return strings.Join(parts, "; ")
}

// explainLearn is the learn policy's part of the sentence.
func explainLearn(rec PriceRecord, l LearnReason) []string {
	decided := l.ExpectedUnitsOld > 0 || l.ExpectedUnitsNew > 0
	switch {
	case !decided && l.ElasticitySD == 0:
		// Cold start: the base price until the SKU has sold enough to learn from.
		return []string{fmt.Sprintf("list price while demand is learned (%s sold so far)", units(float64(l.Evidence)))}
	case !decided:
		return []string{fmt.Sprintf("moving towards %s, set at the last decision", group(rec.Reason.TargetPrice)),
			"elasticity " + elasticity(l.Elasticity, l.ElasticitySD)}
	}
	objective := l.Objective
	if objective == "" {
		objective = ObjectiveMargin
	}
	var parts []string
	if exploring(l) {
		parts = append(parts, fmt.Sprintf("testing a price: sampled elasticity %s, estimate %s",
			short(l.SampledElasticity), elasticity(l.Elasticity, l.ElasticitySD)))
	} else {
		parts = append(parts, fmt.Sprintf("best expected %s (%s → %s per hour)", objective, group(int64(math.Round(l.ObjectiveOld))), group(int64(math.Round(l.ObjectiveNew)))),
			fmt.Sprintf("elasticity %s from %s", elasticity(l.Elasticity, l.ElasticitySD), units(float64(l.Evidence))))
	}
	if l.ShockFactor >= 1.5 || (l.ShockFactor > 0 && l.ShockFactor <= 1/1.5) {
		parts = append(parts, fmt.Sprintf("demand %s× what the model expects", short(l.ShockFactor)))
	}
	parts = append(parts, fmt.Sprintf("expects %s per hour", units(l.ExpectedUnitsNew)))
	if l.StockBound {
		parts = append(parts, fmt.Sprintf("raised so stock lasts %s until restock", hours(l.HorizonHours)))
	}
	return parts
}

// exploring reports whether a learn decision followed a Thompson draw far
// from the estimate (more than half a standard deviation), i.e. it tries a
// price to learn rather than the best one known.
func exploring(l LearnReason) bool {
	return l.ElasticitySD > 0 && math.Abs(l.SampledElasticity-l.Elasticity) > l.ElasticitySD/2
}

func demandPhrase(r Reason) string {
	switch {
	case r.UnitsInWindow == 0:
		return "no recent sales"
	case r.DemandRatio >= 0.9 && r.DemandRatio <= 1.1:
		return "demand at its usual rate"
	default:
		return fmt.Sprintf("demand %s× its usual rate", short(r.DemandRatio))
	}
}

func stockPhrase(r Reason) string {
	switch {
	case r.Available == nil:
		return ""
	case *r.Available <= 0:
		return "out of stock"
	case r.StockCoverHours == nil:
		return fmt.Sprintf("%s in stock", group(*r.Available))
	default:
		return hours(*r.StockCoverHours) + " of stock left"
	}
}

func clipPhrase(rec PriceRecord) string {
	switch rec.Reason.ClippedBy {
	case ClippedByStep:
		prev := rec.Reason.PreviousPrice
		if prev <= 0 {
			return "step limit"
		}
		return "step limit " + percent(math.Abs(float64(rec.Price-prev))/float64(prev)*100)
	case ClippedByFloor:
		return "held at the price floor"
	case ClippedByCeiling:
		return "held at the price ceiling"
	}
	return ""
}

// short formats a ratio: two significant digits below 10, whole above.
func short(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "?"
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func elasticity(mean, sd float64) string {
	if sd <= 0 {
		return short(mean)
	}
	return short(mean) + " ± " + short(sd)
}

func percent(p float64) string {
	if p >= 1 {
		return strconv.FormatFloat(math.Round(p), 'f', 0, 64) + " %"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + " %"
}

// hours formats a duration in hours as a person reads it: minutes under an
// hour, hours under two days, days beyond.
func hours(h float64) string {
	switch {
	case math.IsNaN(h) || h < 0:
		return "?"
	case h < 1:
		return "under an hour"
	case h < 48:
		return strconv.FormatFloat(math.Round(h), 'f', 0, 64) + " h"
	case h > 24*3650:
		return "years"
	default:
		return strconv.FormatFloat(math.Round(h/24), 'f', 0, 64) + " days"
	}
}

func units(n float64) string {
	if n == 1 {
		return "1 unit"
	}
	if n == math.Trunc(n) && n < 1e15 {
		return group(int64(n)) + " units"
	}
	return short(n) + " units"
}

// group writes n with thousands separators: 12900 → "12,900".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// DemandEstimate is the learned demand at the new price, in units per hour,
// when the change was a learn policy decision (a step towards an earlier
// decision or a cold start carries none).
func DemandEstimate(r Reason) (float64, bool) {
	l := r.Learn
	if l == nil || (l.ExpectedUnitsOld <= 0 && l.ExpectedUnitsNew <= 0) || math.IsNaN(l.ExpectedUnitsNew) || math.IsInf(l.ExpectedUnitsNew, 0) {
		return 0, false
	}
	return l.ExpectedUnitsNew, true
}
