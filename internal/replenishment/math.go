package replenishment

import (
	"fmt"
	"math"
)

// InverseNormal returns z with Φ(z) = p for 0 < p < 1: Wichura's
// algorithm AS 241 (PPND16), accurate to about 1e-16. Service levels become
// safety factors with it (95 % -> 1.6449).
func InverseNormal(p float64) (float64, error) {
	if !(p > 0 && p < 1) {
		return 0, fmt.Errorf("inverse normal of %v: p must be in (0, 1)", p)
	}
	q := p - 0.5
	if math.Abs(q) <= 0.425 {
		r := 0.180625 - q*q
		return q * (((((((2509.0809287301226727*r+33430.575583588128105)*r+67265.770927008700853)*r+45921.953931549871457)*r+13731.693765509461125)*r+1971.5909503065514427)*r+133.14166789178437745)*r + 3.387132872796366608) /
			(((((((5226.495278852545925*r+28729.085735721942674)*r+39307.89580009271061)*r+21213.794301586595867)*r+5394.1960214247511077)*r+687.1870074920579083)*r+42.313330701600911252)*r + 1), nil
	}
	r := p
	if q > 0 {
		r = 1 - p
	}
	r = math.Sqrt(-math.Log(r))
	var z float64
	if r <= 5 {
		r -= 1.6
		z = (((((((7.7454501427834140764e-4*r+0.0227238449892691845833)*r+0.24178072517745061177)*r+1.27045825245236838258)*r+3.64784832476320460504)*r+5.7694972214606914055)*r+4.6303378461565452959)*r + 1.42343711074968357734) /
			(((((((1.05075007164441684324e-9*r+5.475938084995344946e-4)*r+0.0151986665636164571966)*r+0.14810397642748007459)*r+0.68976733498510000455)*r+1.6763848301838038494)*r+2.05319162663775882187)*r + 1)
	} else {
		r -= 5
		z = (((((((2.01033439929228813265e-7*r+2.71155556874348757815e-5)*r+0.0012426609473880784386)*r+0.026532189526576123093)*r+0.29656057182850489123)*r+1.7848265399172913358)*r+5.4637849111641143699)*r + 6.6579046435011037772) /
			(((((((2.04426310338993978564e-15*r+1.4215117583164458887e-7)*r+1.8463183175100546818e-5)*r+7.868691311456132591e-4)*r+0.0148753612908506148525)*r+0.13692988092273580531)*r+0.59983220655588793769)*r + 1)
	}
	if q < 0 {
		z = -z
	}
	return z, nil
}

// ReorderPoint is ROP = d·L + z·σ·√L: expected demand over the lead time
// plus safety stock for demand variability (d daily demand, σ its standard
// deviation, L lead time in days, z the safety factor).
func ReorderPoint(d, sigma, leadDays, z float64) float64 {
	return d*leadDays + z*sigma*math.Sqrt(leadDays)
}

// EOQ is the economic order quantity √(2·D·S/H): D annual demand, S cost
// per order, H holding cost per unit per year.
func EOQ(annualDemand, orderCost, holdingCost float64) float64 {
	if annualDemand <= 0 || orderCost <= 0 || holdingCost <= 0 {
		return 0
	}
	return math.Sqrt(2 * annualDemand * orderCost / holdingCost)
}

// RoundUpToPack rounds q up to a whole number of packs, and to at least the
// minimum order quantity.
func RoundUpToPack(q float64, pack, moq int64) int64 {
	n := int64(math.Ceil(q - 1e-9))
	if n < moq {
		n = moq
	}
	if pack > 1 && n%pack != 0 {
		n += pack - n%pack
	}
	return max(n, 1)
}
