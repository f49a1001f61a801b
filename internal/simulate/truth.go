package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/sim"
)

// Demand forms: how a shopper's willingness to pay (WTP) is distributed.
const (
	FormConstantElasticity = "constant-elasticity"
	FormLogit              = "logit"
	FormLinear             = "linear"
	FormMixed              = "mixed"
)

// Forms lists the demand forms a SKU can have.
var Forms = []string{FormConstantElasticity, FormLogit, FormLinear}

const (
	hourMs = int64(3_600_000)
	dayMs  = 24 * hourMs
	// start is a Monday, midnight UTC: the simulated shop's clock.
	start = int64(1_767_571_200_000) // 2026-01-05T00:00:00Z
	// orderCost is the fixed cost of a purchase order (minor units), for EOQ.
	orderCost = 30_000
	// holdingRate is the yearly cost of holding a unit, as a share of its cost.
	holdingRate = 0.25
	// serviceLevel is the replenishment policy's target.
	serviceLevel = 0.95
)

// Weekday is the simulated shop's demand by UTC weekday (Sunday first),
// mean 1: weekends sell more.
var Weekday = normalise7([7]float64{1.15, 0.95, 0.95, 0.95, 0.95, 1.0, 1.15})

// Hourly is the demand by UTC hour, mean 1 (the demo's Korean shop day).
var Hourly = sim.KoreanShopDay

func normalise7(w [7]float64) [7]float64 {
	var sum float64
	for _, v := range w {
		sum += v
	}
	for i := range w {
		w[i] *= 7 / sum
	}
	return w
}

// SKU is one product's ground truth.
type SKU struct {
	ID       string
	Category string
	Form     string
	// List is the base price; Floor and Ceiling bound every policy.
	List, Floor, Ceiling, Cost int64
	// Rate is the expected units per hour at the list price, at the
	// season's mean, before drift and shocks.
	Rate float64
	// Elasticity is −d log demand / d log price at the list price.
	Elasticity float64
	// LeadDays is the supplier's nominal lead time; each order's actual one
	// varies around it.
	LeadDays float64
	// Shopper WTP parameters, by form: constant elasticity is Pareto above
	// the floor (shape = elasticity); logit is logistic(loc, scale); linear
	// is uniform on [floor, hi].
	loc, scale, hi float64
	// survFloor is the share of all shoppers whose WTP reaches the floor:
	// only those are simulated (no policy may price below the floor).
	survFloor float64
	// arrivals is the expected number of shoppers (WTP ≥ floor) per hour
	// of the run, seasonality, drift and shocks included; cum is its prefix
	// sum (cum[h] = arrivals before hour h).
	arrivals []float32
	cum      []float64
	repl     replenishment.Policy
	prior    replenishment.Prior
	// initial stock on hand.
	initial int64
	// grid is the oracles' candidate prices and buy their buy probabilities.
	grid, buy [oracleGrid]float64
}

// surv is the share of all shoppers with WTP ≥ p.
func (k *SKU) surv(p float64) float64 {
	switch k.Form {
	case FormLogit:
		return 1 / (1 + math.Exp((p-k.loc)/k.scale))
	case FormLinear:
		return max(0, min(1, (k.hi-p)/(k.hi-float64(k.Floor))))
	default:
		return math.Pow(p/float64(k.Floor), -k.Elasticity)
	}
}

// Buy is the probability that a simulated shopper (WTP ≥ floor) buys at p.
func (k *SKU) Buy(p float64) float64 {
	if p <= float64(k.Floor) {
		return 1
	}
	return k.surv(p) / k.survFloor
}

// wtp draws a simulated shopper's willingness to pay (≥ floor).
func (k *SKU) wtp(rng *rand.Rand) float64 {
	u := rng.Float64()
	switch k.Form {
	case FormLogit:
		// Inverse of the logistic survival on (0, survFloor].
		s := max(u*k.survFloor, 1e-300)
		return k.loc + k.scale*math.Log(1/s-1)
	case FormLinear:
		return float64(k.Floor) + u*(k.hi-float64(k.Floor))
	default:
		return float64(k.Floor) * math.Pow(1-u, -1/k.Elasticity)
	}
}

// ExpectedArrivals is the expected shoppers in [from, to) (Unix ms).
func (k *SKU) ExpectedArrivals(from, to int64) float64 {
	return k.cumAt(to) - k.cumAt(from)
}

func (k *SKU) cumAt(t int64) float64 {
	rel := t - start
	if rel <= 0 {
		return 0
	}
	h := rel / hourMs
	if int(h) >= len(k.arrivals) {
		return k.cum[len(k.arrivals)]
	}
	frac := float64(rel%hourMs) / float64(hourMs)
	return k.cum[h] + frac*float64(k.arrivals[h])
}

// Truth is a seed's ground truth: the catalogue and its demand over the run.
type Truth struct {
	SKUs  []SKU
	Hours int
	Seed  uint64
}

// NewTruth draws the ground truth of one seed. Everything about a SKU is
// drawn from its own stream, so a SKU's truth does not depend on the
// catalogue's size or the other SKUs.
func NewTruth(skus, days int, seed uint64, form string) *Truth {
	hours := days * 24
	cats := []string{"audio", "kitchen", "beauty", "fashion", "grocery", "home"}
	crng := rand.New(rand.NewPCG(seed, 0x63617465676f7279))
	catElasticity := make([]float64, len(cats))
	for i := range cats {
		catElasticity[i] = 1.0 + crng.Float64()*1.8
	}
	ranks := crng.Perm(skus)
	var harmonic float64
	for k := 1; k <= skus; k++ {
		harmonic += 1 / float64(k)
	}
	// The catalogue sells about one unit per SKU-hour at list prices.
	total := float64(skus)
	shockP := max(0.02, min(0.2, 5/float64(skus)))
	t := &Truth{SKUs: make([]SKU, skus), Hours: hours, Seed: seed}
	for i := range skus {
		rng := rand.New(rand.NewPCG(seed^uint64(i)*0x9e3779b97f4a7c15, 0x736b75))
		c := i % len(cats)
		k := &t.SKUs[i]
		k.ID = fmt.Sprintf("SIM-%s-%04d", cats[c], i)
		k.Category = cats[c]
		k.Form = form
		if form == FormMixed || form == "" {
			k.Form = Forms[i%len(Forms)]
		}
		list := int64(math.Round(12000*math.Exp(rng.NormFloat64()*0.6)/100)) * 100
		list = max(list, 1000)
		k.List, k.Floor, k.Ceiling = list, list*75/100/10*10, list*130/100/10*10
		k.Cost = int64(float64(list) * (0.35 + 0.3*rng.Float64()))
		k.Rate = total / float64(ranks[i]+1) / harmonic
		k.Elasticity = max(0.6, min(3.5, catElasticity[c]+rng.NormFloat64()*0.35))
		k.LeadDays = 2 + 5*rng.Float64()
		floor, lp := float64(k.Floor), float64(list)
		switch k.Form {
		case FormLogit:
			q := 0.3 + 0.4*rng.Float64() // share of shoppers buying at list
			k.scale = lp * (1 - q) / k.Elasticity
			k.loc = lp - k.scale*math.Log(1/q-1)
		case FormLinear:
			k.hi = lp * (1 + 1/k.Elasticity)
		}
		k.survFloor = k.surv(floor)
		perHourAtList := k.Rate * k.survFloor / k.surv(lp)

		// Drift: a daily random walk of the level; shocks: a few SKUs a day
		// see ×3–×10 for one to two hours.
		k.arrivals = make([]float32, hours)
		k.cum = make([]float64, hours+1)
		level := 1.0
		for d := range days {
			if d > 0 {
				level *= math.Exp(rng.NormFloat64() * 0.03)
			}
			var sStart, sEnd, sMult float64
			if rng.Float64() < shockP {
				sStart = rng.Float64() * 24
				sEnd = sStart + 1 + rng.Float64()
				sMult = 3 + 7*rng.Float64()
			}
			weekday := Weekday[(d+1)%7] // day 0 is a Monday
			for h := range 24 {
				m := 1.0
				if sMult > 0 {
					overlap := max(0, min(float64(h+1), sEnd)-max(float64(h), sStart))
					m += (sMult - 1) * overlap
				}
				k.arrivals[d*24+h] = float32(perHourAtList * Hourly[h] * weekday * level * m)
			}
		}
		for h := range hours {
			k.cum[h+1] = k.cum[h] + float64(k.arrivals[h])
		}
		lo, hi := math.Log(floor), math.Log(float64(k.Ceiling))
		for g := range oracleGrid {
			k.grid[g] = math.Exp(lo + (hi-lo)*float64(g)/(oracleGrid-1))
			k.buy[g] = k.Buy(k.grid[g])
		}
		daily := k.Rate * 24
		k.prior = replenishment.Prior{Daily: daily, StdDev: math.Sqrt(daily) + 0.25*daily, MinDays: 7}
		k.repl = replenishment.Policy{LeadTimeDays: k.LeadDays, ServiceLevel: serviceLevel, OrderCost: orderCost,
			UnitCost: float64(k.Cost), HoldingRate: holdingRate}
		j, _, _ := replenishment.Decide(0, k.prior.Daily, k.prior.StdDev, k.repl)
		k.initial = int64(math.Ceil(j.ROP + math.Max(j.EOQ, daily*7)))
	}
	return t
}

// leadTime draws one order's actual lead time (ms): the nominal one with
// log-normal variation (sd 25 %), between half and twice it.
func (k *SKU) leadTime(rng *rand.Rand) int64 {
	f := max(0.5, min(2, math.Exp(rng.NormFloat64()*0.25)))
	return int64(k.LeadDays * f * float64(dayMs))
}
