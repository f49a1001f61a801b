// Package sim is Mercato's traffic simulator. Shoppers buy and review
// products through the public HTTP API, and their demand follows a model
// whose parameters are known: the ground truth that pricing, replenishment
// and sentiment can be checked against.
//
// The demand model, per SKU i at price p and time t:
//
//	rate_i(p, t) = base_i · hourly(hour of t) · (p / list_i)^(−elasticity_i)   orders per minute
//
// base_i follows a Zipf law over the catalogue (a few best sellers, a long
// tail), hourly is a Korean shop's day (quiet at night, peaks at lunch and
// in the evening, mean 1), and elasticity_i in [0.8, 2.5] says how strongly
// shoppers of that SKU react to its price. Orders arrive as a Poisson
// process with that rate, so the number in any interval is known in
// expectation; a share of shoppers pays with a declining card, cancels, or
// leaves a review whose sentiment the simulator decides (and so knows).
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Product is a simulated SKU with its demand parameters; its JSON form is
// how the demo writes the ground truth.
type Product struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Category  string `json:"category"`
	ListPrice int64  `json:"list_price"` // base price in won
	Floor     int64  `json:"price_floor"`
	Ceiling   int64  `json:"price_ceiling"`
	Stock     int64  `json:"initial_stock"`
	Threshold int64  `json:"low_stock_threshold"`
	// BaseRate is orders per minute at the list price, at the day's mean.
	BaseRate float64 `json:"orders_per_minute_at_list_price"`
	// Elasticity is the price elasticity of demand (positive: dearer sells less).
	Elasticity float64 `json:"price_elasticity"`
	// Reorder is how the SKU is bought in, as PUT /v1/products sends it:
	// the unit cost is what gross margin is measured against.
	Reorder Reorder `json:"reorder"`
}

// Reorder is a SKU's supply side, in the API's reorder block.
type Reorder struct {
	UnitCost     int64   `json:"unit_cost"` // won
	LeadTimeDays float64 `json:"lead_time_days"`
	ServiceLevel float64 `json:"service_level"`
	OrderCost    int64   `json:"order_cost"` // won per purchase order
	Supplier     string  `json:"supplier"`
}

// Model is the ground truth of a simulation.
type Model struct {
	Products []Product
	// Hourly multiplies demand by hour of day in Location; its mean is 1.
	Hourly   [24]float64
	Location *time.Location
	// DeclineRate, CancelRate and ReviewRate are the shares of orders paid
	// with a declining card, cancelled after payment, and reviewed.
	DeclineRate, CancelRate, ReviewRate float64
	// PositiveRate is the share of reviews that are positive.
	PositiveRate float64
}

// KoreanShopDay is a Korean online shop's demand by hour (mean 1): quiet
// from 2 to 7, a lunch peak, the biggest in the evening.
var KoreanShopDay = normalise([24]float64{
	0.55, 0.35, 0.22, 0.15, 0.12, 0.14, 0.25, 0.45, 0.7, 0.9, 1.05, 1.2,
	1.35, 1.25, 1.1, 1.05, 1.1, 1.2, 1.35, 1.55, 1.75, 1.85, 1.6, 1.05,
})

func normalise(h [24]float64) [24]float64 {
	var sum float64
	for _, v := range h {
		sum += v
	}
	for i := range h {
		h[i] *= 24 / sum
	}
	return h
}

// Rate is the ground truth: expected orders per minute of p at price at t.
func (m Model) Rate(p Product, price int64, t time.Time) float64 {
	if price <= 0 || p.ListPrice <= 0 {
		return 0
	}
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	return p.BaseRate * m.Hourly[t.In(loc).Hour()] * math.Pow(float64(price)/float64(p.ListPrice), -p.Elasticity)
}

// TotalRate is the expected orders per minute over the catalogue at list
// prices at t.
func (m Model) TotalRate(t time.Time) float64 {
	var sum float64
	for _, p := range m.Products {
		sum += m.Rate(p, p.ListPrice, t)
	}
	return sum
}

type category struct {
	name      string
	nouns     []string
	median    float64  // list price median, won
	suppliers []string // who the category buys from
}

var categories = []category{
	{"audio", []string{"무선 이어폰", "블루투스 스피커", "헤드폰", "넥밴드 이어폰"}, 59000, []string{"hanbit-audio", "sori-electronics"}},
	{"kitchen", []string{"에어프라이어", "전기포트", "프라이팬", "밀폐용기 세트"}, 39000, []string{"jumbang-living", "daehan-kitchenware"}},
	{"beauty", []string{"수분 크림", "선크림", "클렌징 폼", "립밤"}, 18000, []string{"arum-cosmetics", "jeju-beauty-lab"}},
	{"fashion", []string{"맨투맨", "패딩 조끼", "운동화", "니트 목도리"}, 45000, []string{"dongdaemun-apparel", "busan-footwear"}},
	{"grocery", []string{"제주 감귤 5kg", "햇반 24개입", "생수 2L 12병", "견과류 믹스"}, 21000, []string{"jeju-farms", "hannam-foods"}},
	{"home", []string{"극세사 이불", "수납 선반", "LED 스탠드", "욕실 매트"}, 33000, []string{"onjip-home", "seoul-furnishing"}},
}

// Catalogue builds n products, the same for the same seed. ordersPerMinute
// is the whole catalogue's expected demand at list prices, at the day's
// mean; each SKU's share follows a Zipf law (exponent 1) over a shuffled
// order, so best sellers are spread over categories. Each SKU's supply
// side (unit cost 35-65 % of list, lead time 1-3 days, order cost) comes
// from its own stream of the seed, so adding it left the demand side of
// every seed's catalogue as it was.
func Catalogue(n int, ordersPerMinute float64, seed uint64) []Product {
	rng := rand.New(rand.NewPCG(seed, seed^0x6d65726361746f))
	supply := rand.New(rand.NewPCG(seed, seed^0x737570706c79))
	ranks := rng.Perm(n)
	var harmonic float64
	for k := 1; k <= n; k++ {
		harmonic += 1 / float64(k)
	}
	out := make([]Product, n)
	for i := range n {
		c := categories[i%len(categories)]
		// Log-normal list price around the category median, rounded to 100 won.
		list := int64(math.Round(c.median*math.Exp(rng.NormFloat64()*0.35)/100)) * 100
		list = max(list, 1000)
		share := 1 / float64(ranks[i]+1) / harmonic
		perMinute := ordersPerMinute * share
		out[i] = Product{
			SKU:      fmt.Sprintf("DEMO-%s-%03d", c.name, i),
			Name:     fmt.Sprintf("%s %d호", c.nouns[rng.IntN(len(c.nouns))], i+1),
			Category: c.name,
			// Prices may move 25 % down and 30 % up.
			ListPrice: list, Floor: list * 75 / 100 / 100 * 100, Ceiling: list * 130 / 100 / 100 * 100,
			// Four minutes of expected demand on hand and a low-stock alert
			// under one minute's: a demo sees stock run low, alerts fire and
			// purchase orders arrive within minutes.
			Stock: max(int64(perMinute*4), 20), Threshold: max(int64(perMinute), 5),
			BaseRate:   perMinute,
			Elasticity: 0.8 + rng.Float64()*1.7,
		}
		out[i].Reorder = Reorder{
			// list is a multiple of 100 won, so this is a whole percentage.
			UnitCost:     list / 100 * int64(35+supply.IntN(31)),
			LeadTimeDays: float64(1 + supply.IntN(3)),
			ServiceLevel: 0.95,
			OrderCost:    int64(20+supply.IntN(31)) * 1000,
			Supplier:     c.suppliers[supply.IntN(len(c.suppliers))],
		}
	}
	return out
}

// NewModel is the demo's ground truth over a catalogue, in Asia/Seoul.
func NewModel(products []Product) Model {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		loc = time.FixedZone("KST", 9*3600)
	}
	return Model{Products: products, Hourly: KoreanShopDay, Location: loc,
		DeclineRate: 0.03, CancelRate: 0.02, ReviewRate: 0.25, PositiveRate: 0.8}
}

// poisson draws from a Poisson distribution with mean lambda (Knuth's
// method for small means, a normal approximation above 30).
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	limit, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}
