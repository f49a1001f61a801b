package replenishment

import (
	"math"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// Prior is the demand assumed for a SKU with little history.
type Prior struct {
	Daily  float64 // units per day
	StdDev float64
	// MinDays of history before the SKU's own statistics are trusted fully;
	// below it, own and prior statistics are blended by days observed.
	MinDays int
}

// Stats returns mean daily demand and its standard deviation from a
// series of units sold per day (oldest first, zero days included).
func Stats(daily []float64, prior Prior) (d, sigma float64) {
	n := len(daily)
	if n == 0 {
		return prior.Daily, prior.StdDev
	}
	var sum float64
	for _, u := range daily {
		sum += u
	}
	mean := sum / float64(n)
	var ss float64
	for _, u := range daily {
		ss += (u - mean) * (u - mean)
	}
	sd := 0.0
	if n > 1 {
		sd = math.Sqrt(ss / float64(n-1))
	}
	if n >= prior.MinDays {
		return mean, sd
	}
	w := float64(n) / float64(prior.MinDays)
	return w*mean + (1-w)*prior.Daily, w*sd + (1-w)*prior.StdDev
}

// Policy is how a SKU is reordered.
type Policy struct {
	LeadTimeDays float64
	ServiceLevel float64 // e.g. 0.95
	OrderCost    float64 // per order, minor units
	UnitCost     float64 // per unit, minor units
	HoldingRate  float64 // share of unit cost per year to hold a unit
	PackSize     int64
	MinOrderQty  int64
	// FallbackCoverDays sizes the order when EOQ cannot be computed (no
	// order or unit cost configured): this many days of demand.
	FallbackCoverDays float64
}

// Justification is the reorder arithmetic behind a purchase order.
type Justification = event.Justification

// Decide says whether a SKU at the given inventory position needs an order,
// and how much: ROP = d·L + z·σ·√L; order when position ≤ ROP; quantity =
// EOQ, raised so position + quantity exceeds ROP, rounded up to the pack
// size and minimum order quantity.
func Decide(position int64, d, sigma float64, p Policy) (Justification, bool, error) {
	sl := p.ServiceLevel
	if sl == 0 {
		sl = 0.95
	}
	z, err := InverseNormal(sl)
	if err != nil {
		return Justification{}, false, err
	}
	j := Justification{DailyDemand: d, StdDev: sigma, LeadTime: p.LeadTimeDays, Z: z, Position: position}
	j.ROP = ReorderPoint(d, sigma, p.LeadTimeDays, z)
	j.EOQ = EOQ(365*d, p.OrderCost, p.UnitCost*p.HoldingRate)
	if float64(position) > j.ROP {
		return j, false, nil
	}
	q := j.EOQ
	if q == 0 {
		cover := p.FallbackCoverDays
		if cover <= 0 {
			cover = 14
		}
		q = d * cover
	}
	q = math.Max(q, j.ROP-float64(position)+1)
	j.Quantity = RoundUpToPack(q, p.PackSize, p.MinOrderQty)
	return j, true, nil
}

// UrgentRule: when a SKU is out of stock and its open order arrives later
// than Limit from now, an urgent order covering Limit days of demand may be
// raised (once: at most one urgent order is open per SKU). It ships with a
// lead time of Limit, i.e. by express.
type UrgentRule struct {
	Limit time.Duration
}

// Urgent returns the quantity of an urgent order, or false.
func (u UrgentRule) Urgent(available int64, openExpected time.Time, now time.Time, d float64, p Policy) (int64, bool) {
	if u.Limit <= 0 || available > 0 || !openExpected.After(now.Add(u.Limit)) {
		return 0, false
	}
	days := u.Limit.Hours() / 24
	return RoundUpToPack(math.Max(d*days, 1), p.PackSize, p.MinOrderQty), true
}
