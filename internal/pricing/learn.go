package pricing

import (
	"math"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// The learn policy. Each SKU's demand is modelled as Poisson with
//
//	log rate = a + b·x + c·x²,   x = log(price / base_price)
//
// in units per season-weighted hour (Rule.Learn's demand profile; flat by
// default), so −b is the SKU's price elasticity at the base price and
// −(b + 2c·x) at price x; the curvature c lets one model follow demand
// whose elasticity grows with price (logit and linear demand do). The evidence is exposure
// (season-weighted hours at a price, out-of-stock time excluded) and units
// sold (and exposure × x, for the mean price charged), kept per price bucket
// and discounted with LearnParams.MemoryHours, so the state is a fixed 3×16
// floats however long the SKU trades. At a decision the posterior of
// (a, b, c) is the Laplace approximation of the Poisson
// regression under a Gaussian prior (Newton's method from the last mode); b's
// and c's prior means are the category's pooled estimates (the rule's prior
// until the category has evidence). A tempered Thompson sample of (a, b, c)
// then chooses, on a grid inside [price_floor, price_ceiling], the price with the best objective
// among those whose sampled demand until the next replenishment fits in the
// available stock (the inventory-constrained Thompson sampling of Ferreira,
// Simchi-Levi and Wang, 2018); if none fits, the ceiling; a move the sample
// expects to gain less than learnMinGain is not made. The step limit,
// cooldown, bounds and price unit apply as for the rule (Rule.limit).
const (
	learnBuckets = 16
	learnXMin    = -0.5 // log(price/base) of the first bucket's lower edge
	learnXMax    = 0.5
	learnGrid    = 24 // candidate prices per decision
	// learnShockUnits is the prior weight, in units, of the model's rate
	// against the short window: a window needs about this many units more
	// than expected before it reads as a shock.
	learnShockUnits = 2
	// learnShockHours is how long a detected shock is assumed to last when
	// stock is checked against the horizon.
	learnShockHours = 1.0
	// learnPriorLogRateSD is the prior spread of a (log units per hour).
	learnPriorLogRateSD = 2.0
	// learnPriorCurvatureSD is the prior spread of c: of a category's c
	// around 0 (constant elasticity), and of one SKU's around its
	// category's pooled c. (A tighter spread around the pool was measured
	// to cost margin: SKUs of one category differ in curvature.)
	learnPriorCurvatureSD = 2.0
	// learnExploration is the least scale of the posterior's spread in the
	// Thompson draw (1 is plain Thompson sampling, 0 the posterior mean),
	// reached once the elasticity is known to half the prior's spread:
	// half the spread still explores, at a quarter of plain sampling's
	// price dispersion cost. Measured on the simulator: a constant 0.35 to
	// 0.7 earn about the same, 1 earns 1-2 points of margin less; the
	// decay from 1 costs about 0.3 points against a constant 0.5 but keeps
	// a SKU whose prior is far off from settling before it has learned.
	learnExploration = 0.5
	// learnMinGain is the hysteresis band: a decision moves the price only
	// when the sampled model expects the new price to earn at least this
	// share more than the current one (or the current one would sell out).
	learnMinGain = 0.01
	// learnLeadReserve: the stock must last at least this share of a lead
	// time. The platform knows a product's nominal lead time, not its
	// spread, and an order due now (or late) may arrive days later; without
	// a reserve the horizon shrinks to nothing and the stock sells out.
	learnLeadReserve = 0.3
	// poolScale quantises pool contributions, so category sums are exact
	// integers whatever the order SKUs are added and removed in.
	poolScale = 1024
	// maxPoolPrecision caps one SKU's weight in its category's prior
	// (an elasticity known to ±0.05).
	maxPoolPrecision = 400
)

// LearnState is a SKU's demand evidence and the learn policy's position.
type LearnState struct {
	// Next is the first slide not yet folded into the evidence.
	Next int64
	// Decide is the event time (Unix ms) of the next scheduled decision.
	Decide int64
	// Target is the price the last decision walks towards; 0 for none.
	Target int64
	// Seen is the units observed (saturating), for the cold start.
	Seen uint32
	// A, B, C are the posterior mode at the last decision and SdB the
	// posterior standard deviation of B; SdB is 0 before the first decision.
	A, B, C, SdB float32
	// Units and Exposure are the discounted evidence per price bucket, and
	// XSum the bucket's exposure × x, so the model sees the prices actually
	// charged rather than the bucket's centre.
	Units    [learnBuckets]float32
	Exposure [learnBuckets]float32
	XSum     [learnBuckets]float32
	// PoolW and PoolWB are this SKU's contribution to its category's prior
	// of B (precision and precision × B, scaled by poolScale); PoolWC and
	// PoolWCC the same for C.
	PoolW, PoolWB   int64
	PoolWC, PoolWCC int64
}

// contribution is what L adds to its category's pool.
func (L *LearnState) contribution() categoryPool {
	return categoryPool{w: L.PoolW, wb: L.PoolWB, wc: L.PoolWC, wcc: L.PoolWCC}
}

// LearnReason explains a change made by the learn policy.
type LearnReason = event.LearnReason

// categoryPool is the sum of a category's SKU contributions: precision and
// precision × estimate, of B (w, wb) and of C (wc, wcc).
type categoryPool struct{ w, wb, wc, wcc int64 }

func (c *categoryPool) add(d categoryPool, sign int64) {
	c.w += sign * d.w
	c.wb += sign * d.wb
	c.wc += sign * d.wc
	c.wcc += sign * d.wcc
}

func bucketX(i int) float64 {
	return learnXMin + (float64(i)+0.5)*(learnXMax-learnXMin)/learnBuckets
}

// bucketOf is the bucket of price and its x, clamped into the bucket.
func bucketOf(price, base int64) (int, float64) {
	x := math.Log(float64(price) / float64(base))
	i := int(math.Floor((x - learnXMin) / (learnXMax - learnXMin) * learnBuckets))
	i = min(max(i, 0), learnBuckets-1)
	w := (learnXMax - learnXMin) / learnBuckets
	lo := learnXMin + float64(i)*w
	return i, max(lo, min(lo+w, x))
}

// x is bucket i's exposure-weighted mean log(price/base), its centre when
// it has no exposure.
func (L *LearnState) x(i int) float64 {
	e := float64(L.Exposure[i])
	if !(e > 0) {
		return bucketX(i)
	}
	w := (learnXMax - learnXMin) / learnBuckets
	lo := learnXMin + float64(i)*w
	return max(lo, min(lo+w, float64(L.XSum[i])/e))
}

// seasonWeight is the rule's demand profile at event time t (Unix ms).
func seasonWeight(l *LearnParams, t int64) float64 {
	w := 1.0
	if len(l.DemandByHour) == 24 {
		w *= l.DemandByHour[floorDiv(t, 3_600_000)%24]
	}
	if len(l.DemandByWeekday) == 7 {
		// 1970-01-01 was a Thursday.
		w *= l.DemandByWeekday[(floorDiv(t, 86_400_000)+4)%7]
	}
	return w
}

// seasonHours is the season-weighted hours in [from, to) (Unix ms).
func seasonHours(l *LearnParams, from, to int64) float64 {
	if to <= from {
		return 0
	}
	if len(l.DemandByHour) != 24 && len(l.DemandByWeekday) != 7 {
		return float64(to-from) / 3_600_000
	}
	var sum float64
	for t := from; t < to; {
		end := min((floorDiv(t, 3_600_000)+1)*3_600_000, to)
		sum += seasonWeight(l, t) * float64(end-t) / 3_600_000
		t = end
	}
	return sum
}

// learnFold moves s's evidence through slide upTo−1: units from the window,
// exposure at the current price (prices change only at evaluations, which
// fold first, so every folded slide was at this price). Out-of-stock time
// is not exposure: a shopper who met no stock says nothing about price.
func (p *Pricer) learnFold(s *SKUState, l *LearnParams, upTo int64) {
	L := s.Learn
	if upTo <= L.Next {
		return
	}
	units := s.Window.Sum(L.Next, upTo-1)
	var expo float64
	if price := s.CurrentPrice(); price > 0 && (s.StockAt == 0 || s.Available > 0) {
		expo = seasonHours(l, L.Next*p.d.slideMs, upTo*p.d.slideMs)
	}
	g := math.Exp2(-float64(upTo-L.Next) * p.d.slideHours / l.MemoryHours)
	for i := range L.Units {
		L.Units[i] = float32(float64(L.Units[i]) * g)
		L.Exposure[i] = float32(float64(L.Exposure[i]) * g)
		L.XSum[i] = float32(float64(L.XSum[i]) * g)
	}
	if s.BasePrice > 0 && s.CurrentPrice() > 0 {
		k, x := bucketOf(s.CurrentPrice(), s.BasePrice)
		L.Units[k] += float32(units)
		L.Exposure[k] += float32(expo)
		L.XSum[k] += float32(expo * x)
	}
	L.Seen = uint32(min(uint64(L.Seen)+uint64(units), math.MaxUint32))
	L.Next = upTo
}

// posterior is the Laplace approximation of θ = (a, b, c) under the prior
// a ~ N(a0, sa²), b ~ N(b0, sb²), c ~ N(c0, sc²): the mode and the
// covariance (the inverse of the negative Hessian at the mode).
func (L *LearnState) posterior(a0, sa, b0, sb, c0, sc float64) (theta [3]float64, cov [3][3]float64) {
	prior := [3]float64{a0, b0, c0}
	prec := [3]float64{1 / (sa * sa), 1 / (sb * sb), 1 / (sc * sc)}
	theta = prior
	if L.SdB > 0 {
		theta = [3]float64{float64(L.A), float64(L.B), float64(L.C)}
	}
	var xs [learnBuckets]float64
	for i := range xs {
		xs[i] = L.x(i)
	}
	var h [3][3]float64
	for range 6 {
		var g [3]float64
		h = [3][3]float64{}
		for j := range 3 {
			g[j] = -(theta[j] - prior[j]) * prec[j]
			h[j][j] = prec[j]
		}
		for i := range learnBuckets {
			e := float64(L.Exposure[i])
			n := float64(L.Units[i])
			if e <= 0 && n <= 0 {
				continue
			}
			x := xs[i]
			f := [3]float64{1, x, x * x}
			mu := e * math.Exp(min(theta[0]+theta[1]*x+theta[2]*x*x, 50))
			for j := range 3 {
				g[j] += f[j] * (n - mu)
				for k := range 3 {
					h[j][k] += f[j] * f[k] * mu
				}
			}
		}
		inv, ok := invert3(h)
		if !ok {
			break
		}
		var biggest float64
		for j := range 3 {
			var d float64
			for k := range 3 {
				d += inv[j][k] * g[k]
			}
			theta[j] += max(-3, min(3, d))
			biggest = max(biggest, math.Abs(d))
		}
		if biggest < 1e-6 {
			break
		}
	}
	inv, ok := invert3(h)
	if !ok {
		return prior, [3][3]float64{{1 / prec[0]}, {0, 1 / prec[1]}, {0, 0, 1 / prec[2]}}
	}
	return theta, inv
}

// invert3 inverts a symmetric positive definite 3×3 matrix.
func invert3(m [3][3]float64) ([3][3]float64, bool) {
	var r [3][3]float64
	r[0][0] = m[1][1]*m[2][2] - m[1][2]*m[2][1]
	r[0][1] = m[0][2]*m[2][1] - m[0][1]*m[2][2]
	r[0][2] = m[0][1]*m[1][2] - m[0][2]*m[1][1]
	r[1][0] = m[1][2]*m[2][0] - m[1][0]*m[2][2]
	r[1][1] = m[0][0]*m[2][2] - m[0][2]*m[2][0]
	r[1][2] = m[0][2]*m[1][0] - m[0][0]*m[1][2]
	r[2][0] = m[1][0]*m[2][1] - m[1][1]*m[2][0]
	r[2][1] = m[0][1]*m[2][0] - m[0][0]*m[2][1]
	r[2][2] = m[0][0]*m[1][1] - m[0][1]*m[1][0]
	det := m[0][0]*r[0][0] + m[0][1]*r[1][0] + m[0][2]*r[2][0]
	if !(det > 0) || math.IsInf(det, 0) {
		return r, false
	}
	for i := range 3 {
		for j := range 3 {
			r[i][j] /= det
		}
	}
	return r, r[0][0] > 0 && r[1][1] > 0 && r[2][2] > 0
}

// cholesky3 is the lower-triangular L with L·Lᵀ = m (zeros where m is not
// positive definite, so a degenerate direction is simply not sampled).
func cholesky3(m [3][3]float64) [3][3]float64 {
	var l [3][3]float64
	for i := range 3 {
		for j := 0; j <= i; j++ {
			s := m[i][j]
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				l[i][i] = math.Sqrt(max(s, 0))
			} else if l[j][j] > 0 {
				l[i][j] = s / l[j][j]
			}
		}
	}
	return l
}

// splitmix is a deterministic generator seeded by the SKU and the boundary,
// so a decision is the same on replay and after a restore.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *splitmix) normals() (float64, float64) {
	u1 := (float64(s.next()>>11) + 0.5) / (1 << 53)
	u2 := float64(s.next()>>11) / (1 << 53)
	r := math.Sqrt(-2 * math.Log(u1))
	return r * math.Cos(2*math.Pi*u2), r * math.Sin(2*math.Pi*u2)
}

func seedOf(sku string, k int64) splitmix {
	h := uint64(14695981039346656037)
	for i := 0; i < len(sku); i++ {
		h ^= uint64(sku[i])
		h *= 1099511628211
	}
	return splitmix(h ^ uint64(k)*0x9e3779b97f4a7c15)
}

// priorBC is the prior mean of b and of c for s: its category's pooled
// estimates without s's own contribution, each weighted against the rule's
// prior (b: −prior_elasticity, c: 0 for constant elasticity) as one SKU of
// the rule's spread.
func (p *Pricer) priorBC(s *SKUState, l *LearnParams) (b0, c0 float64) {
	wb0 := poolScale / (l.PriorElasticitySD * l.PriorElasticitySD)
	wc0 := poolScale / (learnPriorCurvatureSD * learnPriorCurvatureSD)
	numB, denB := -l.PriorElasticity*wb0, wb0
	numC, denC := 0.0, wc0
	if c := p.pools[s.Category]; c != nil {
		L := s.Learn
		numB += float64(c.wb - L.PoolWB)
		denB += float64(c.w - L.PoolW)
		numC += float64(c.wcc - L.PoolWCC)
		denC += float64(c.wc - L.PoolWC)
	}
	b0, c0 = -l.PriorElasticity, 0
	if denB > 0 {
		b0 = numB / denB
	}
	if denC > 0 {
		c0 = numC / denC
	}
	return b0, c0
}

// poolWeight is one estimate's contribution to its category: the data's
// precision (the posterior's less the prior's), capped, and scaled.
func poolWeight(est, v, priorSD float64) (w, wx int64) {
	prec := 1/v - 1/(priorSD*priorSD)
	prec = max(0, min(prec, maxPoolPrecision))
	return int64(math.Round(prec * poolScale)), int64(math.Round(prec * max(-20, min(20, est)) * poolScale))
}

// contribute records s's new pool contribution; categories see it after
// the boundary (applyPools), so every SKU of a boundary sees the same pool
// whatever order they are evaluated in.
func (p *Pricer) contribute(s *SKUState, l *LearnParams, b, vb, c, vc float64) {
	var next categoryPool
	next.w, next.wb = poolWeight(b, vb, l.PriorElasticitySD)
	next.wc, next.wcc = poolWeight(c, vc, learnPriorCurvatureSD)
	L := s.Learn
	cur := L.contribution()
	if next == cur {
		return
	}
	d := p.poolDelta[s.Category]
	if d == nil {
		d = &categoryPool{}
		p.poolDelta[s.Category] = d
	}
	d.add(next, 1)
	d.add(cur, -1)
	L.PoolW, L.PoolWB, L.PoolWC, L.PoolWCC = next.w, next.wb, next.wc, next.wcc
}

// applyPools adds the contributions of a boundary to the categories.
func (p *Pricer) applyPools() {
	for cat, d := range p.poolDelta {
		p.addPool(cat, *d, 1)
		delete(p.poolDelta, cat)
	}
}

// addPool adds (sign 1) or removes (−1) a contribution to category cat.
func (p *Pricer) addPool(cat string, d categoryPool, sign int64) {
	if d == (categoryPool{}) {
		return
	}
	c := p.pools[cat]
	if c == nil {
		c = &categoryPool{}
		p.pools[cat] = c
	}
	c.add(d, sign)
}

// horizonHours is how long the available stock must last: until the open
// purchase order arrives (ordered at OrderedAt, due a lead time later, but
// at least learnLeadReserve of a lead time: it may come late), else a lead
// time (a new order takes that long), else the rule's horizon.
func (s *SKUState) horizonHours(l *LearnParams, at int64) float64 {
	if s.LeadTimeMs > 0 {
		if s.OnOrder > 0 && s.OrderedAt > 0 {
			lead := float64(s.LeadTimeMs) / 3_600_000
			return max(1, learnLeadReserve*lead, float64(s.OrderedAt+s.LeadTimeMs-at)/3_600_000)
		}
		return float64(s.LeadTimeMs) / 3_600_000
	}
	return l.HorizonHours
}

// learnTarget is one decision: the posterior, a Thompson sample and the
// best price under stock.
func (p *Pricer) learnTarget(s *SKUState, rule *Rule, k, at int64, units int64) (int64, LearnReason) {
	l := &rule.Learn
	L := s.Learn
	b0, c0 := p.priorBC(s, l)
	a0 := math.Log(max(p.d.prior, 1e-3))
	theta, cov := L.posterior(a0, learnPriorLogRateSD, b0, l.PriorElasticitySD, c0, learnPriorCurvatureSD)
	a, b, c, vb := theta[0], theta[1], theta[2], cov[1][1]
	L.A, L.B, L.C, L.SdB = float32(a), float32(b), float32(c), float32(math.Sqrt(vb))
	p.contribute(s, l, b, vb, c, cov[2][2])

	rng := seedOf(s.SKU, k)
	z1, z2 := rng.normals()
	z3, _ := rng.normals()
	ch := cholesky3(cov)
	// Exploration decays with confidence: plain Thompson sampling while the
	// elasticity is as uncertain as the prior says SKUs differ, down to
	// learnExploration of the spread once it is known to half that.
	alpha := max(learnExploration, min(1, math.Sqrt(vb)/l.PriorElasticitySD))
	z1, z2, z3 = alpha*z1, alpha*z2, alpha*z3
	sa := a + ch[0][0]*z1
	sb := b + ch[1][0]*z1 + ch[1][1]*z2
	sc := c + ch[2][0]*z1 + ch[2][1]*z2 + ch[2][2]*z3

	season := seasonWeight(l, at)
	cur := s.CurrentPrice()
	base := float64(s.BasePrice)
	rateAt := func(a, b, c float64, price float64) float64 {
		x := math.Log(price / base)
		return math.Exp(min(a+b*x+c*x*x, 50))
	}
	// The short window against the model: a shock lifts the demand expected
	// over the next hour, not over the whole horizon.
	expWindow := rateAt(a, b, c, float64(cur)) * season * p.d.windowHours
	shock := (learnShockUnits + float64(units)) / (learnShockUnits + expWindow)
	h := s.horizonHours(l, at)
	seasonH := h
	if h < 24 {
		seasonH = season * h
	}
	perRate := seasonH + (shock-1)*season*min(h, learnShockHours)
	perRate = max(perRate, 0)

	cost := 0.0
	if rule.Objective != ObjectiveRevenue {
		cost = float64(s.UnitCost)
	}
	hasStock := s.StockAt != 0
	avail := float64(s.Available)
	// A geometric grid from floor to ceiling, plus the current price; x is
	// stepped alongside so each candidate costs one exp.
	xLo := math.Log(float64(s.PriceFloor) / base)
	dx := math.Log(float64(s.PriceCeiling)/float64(s.PriceFloor)) / (learnGrid - 1)
	ratio := math.Exp(dx)
	best, bestObj, found := float64(s.PriceCeiling), math.Inf(-1), false
	unconstrained, unconstrainedObj := best, math.Inf(-1)
	price, x := float64(s.PriceFloor), xLo
	for i := range learnGrid + 1 {
		if i == learnGrid {
			price, x = float64(cur), math.Log(float64(cur)/base)
		}
		r := math.Exp(min(sa+sb*x+sc*x*x, 50))
		candidate := price
		price, x = price*ratio, x+dx
		obj := (candidate - cost) * r
		if obj > unconstrainedObj {
			unconstrained, unconstrainedObj = candidate, obj
		}
		if hasStock && r*perRate > avail {
			continue
		}
		if !found || obj > bestObj {
			best, bestObj, found = candidate, obj, true
		}
	}
	target := int64(math.Round(best))
	// Hysteresis: stay unless the sampled model expects the move to pay
	// (a price the stock cannot hold always moves).
	xc := math.Log(float64(cur) / base)
	rc := math.Exp(min(sa+sb*xc+sc*xc*xc, 50))
	objCur := (float64(cur) - cost) * rc
	if (!hasStock || rc*perRate <= avail) && bestObj-objCur < learnMinGain*math.Abs(objCur) {
		target = cur
	}
	modeRate := func(price float64) float64 { return rateAt(a, b, c, price) * season * shock }
	why := LearnReason{
		Elasticity: -b, ElasticitySD: math.Sqrt(vb), SampledElasticity: -sb, PriorElasticity: -b0,
		ExpectedUnitsOld: modeRate(float64(cur)), ExpectedUnitsNew: modeRate(float64(target)),
		Objective: rule.Objective, ShockFactor: shock, HorizonHours: h,
		StockBound: !found || best > unconstrained, Evidence: L.Seen,
	}
	if why.Objective == "" {
		why.Objective = ObjectiveMargin
	}
	why.ObjectiveOld = (float64(cur) - cost) * why.ExpectedUnitsOld
	why.ObjectiveNew = (float64(target) - cost) * why.ExpectedUnitsNew
	return target, why
}

// stockAtRisk is the cheap check between decisions: at the current price
// and the posterior mean, would demand until the next replenishment exceed
// the available stock?
func (p *Pricer) stockAtRisk(s *SKUState, l *LearnParams, at int64, units int64) bool {
	L := s.Learn
	if s.StockAt == 0 || L.SdB == 0 {
		return false
	}
	season := seasonWeight(l, at)
	x := math.Log(float64(s.CurrentPrice()) / float64(s.BasePrice))
	rate := math.Exp(min(float64(L.A)+float64(L.B)*x+float64(L.C)*x*x, 50))
	expWindow := rate * season * p.d.windowHours
	shock := (learnShockUnits + float64(units)) / (learnShockUnits + expWindow)
	h := s.horizonHours(l, at)
	seasonH := h
	if h < 24 {
		seasonH = season * h
	}
	return rate*max(seasonH+(shock-1)*season*min(h, learnShockHours), 0) > float64(s.Available)
}

// evaluateLearn is evaluateSKU for a SKU under the learn policy.
func (p *Pricer) evaluateLearn(s *SKUState, rule *Rule, k, at int64) {
	from := k - p.d.n
	units := s.Window.Sum(from, k-1)
	l := &rule.Learn
	if s.Learn == nil {
		if units == 0 && s.flags&(flagWalking|flagHadDemand|flagDirty) == 0 {
			// Which boundary first sees a quiet SKU depends on arrival
			// order; the evidence starts at one that has something to see.
			return
		}
		s.Learn = &LearnState{Next: from, Decide: at}
	}
	L := s.Learn
	// A SKU whose evidence just reached MinUnits is decided at once.
	due := at >= L.Decide || (L.SdB == 0 && int64(L.Seen)+units >= l.MinUnits)
	if units == 0 && !due && s.flags&(flagWalking|flagHadDemand|flagDirty) == 0 {
		// Nothing new: the exposure since the last fold is folded at the
		// next evaluation, so a quiet SKU costs no state write.
		return
	}
	p.foldBaseline(s, from)
	p.learnFold(s, l, k)
	s.flags &^= flagWalking | flagHadDemand | flagDirty
	if units > 0 {
		s.flags |= flagHadDemand
	}
	p.touch(s)
	if rule.Frozen || s.PriceFloor <= 0 || s.PriceCeiling < s.PriceFloor {
		return
	}
	cur := s.CurrentPrice()
	// Stock at risk re-decides at once, unless the price is already rising
	// (or at the ceiling): a walk down must not run the SKU out of stock.
	if !due && L.Target <= cur && cur < s.PriceCeiling && int64(L.Seen) >= l.MinUnits && p.stockAtRisk(s, l, at, units) {
		due = true
	}
	var why LearnReason
	haveWhy := false
	if due {
		L.Decide = at + l.DecisionSeconds*1000
		if int64(L.Seen) < l.MinUnits {
			// Cold start: the base price until the SKU has evidence.
			L.Target = s.BasePrice
		} else {
			L.Target, why = p.learnTarget(s, rule, k, at, units)
			haveWhy = true
		}
	}
	if L.Target == 0 {
		// No decision yet: only a price outside changed bounds moves.
		L.Target = cur
	}
	q := Quote{Price: cur, Base: s.BasePrice, Floor: s.PriceFloor, Ceiling: s.PriceCeiling, LastChange: s.LastChange}
	if q.LastChange != 0 && at-q.LastChange < rule.CooldownSeconds*1000 {
		s.flags |= flagWalking
		return
	}
	final, clipped, settled := rule.limit(q, float64(L.Target))
	if !settled {
		s.flags |= flagWalking
	}
	if final == cur {
		return
	}
	if !haveWhy {
		why = LearnReason{Elasticity: -float64(L.B), ElasticitySD: float64(L.SdB), SampledElasticity: -float64(L.B),
			Objective: rule.Objective, Evidence: L.Seen, HorizonHours: s.horizonHours(l, at), ShockFactor: 1}
		if why.Objective == "" {
			why.Objective = ObjectiveMargin
		}
	}
	rate := p.d.prior
	if s.Baseline.Next != 0 {
		rate = s.Baseline.rateAt(&p.d)
	}
	reason := Reason{
		RuleID:        rule.ID,
		DemandRatio:   (float64(units) + rule.Smoothing) / (rate*p.d.windowHours + rule.Smoothing),
		UnitsInWindow: units,
		ShortRate:     float64(units) / p.d.windowHours,
		BaselineRate:  rate,
		TargetPrice:   L.Target,
		PreviousPrice: cur,
		ClippedBy:     clipped,
		Learn:         &why,
	}
	if s.StockAt != 0 {
		a := s.Available
		reason.Available = &a
		if units > 0 || a <= 0 {
			c := 0.0
			if a > 0 {
				c = float64(a) / reason.ShortRate
			}
			reason.StockCoverHours = &c
		}
	}
	s.Price, s.LastChange = final, at
	p.changes = append(p.changes, PriceChange{
		SKU: s.SKU, Price: final, BasePrice: s.BasePrice, At: time.UnixMilli(at).UTC(), Reason: reason,
	})
}
