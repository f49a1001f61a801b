package event

import "time"

// Event types: the envelope's Type for each payload below. A consumer that
// switches on a type names one of these, never a literal.
const (
	// commerce.purchases
	TypePurchase = "purchase"

	// commerce.orders (data: Order)
	TypeOrderCreated       = "order.created"
	TypeOrderPaid          = "order.paid"
	TypeOrderPaymentFailed = "order.payment_failed"
	TypeOrderCancelled     = "order.cancelled"

	// commerce.payments (data: Payment)
	TypePaymentAuthorized = "payment.authorized"
	TypePaymentDeclined   = "payment.declined"
	TypePaymentRefunded   = "payment.refunded"

	// commerce.inventory (data: StockChanged)
	TypeStockReserved  = "inventory.reserved"
	TypeStockCommitted = "inventory.committed"
	TypeStockReleased  = "inventory.released"
	TypeStockAdjusted  = "inventory.adjusted"

	// commerce.alerts (data: Alert)
	TypeAlert = "inventory.alert"

	// commerce.products (data: ProductUpserted)
	TypeProductUpserted = "product.upserted"

	// commerce.prices (data: PriceChanged)
	TypePriceChanged = "price.changed"

	// commerce.pricing-rules (data: PricingRule)
	TypePricingRule = "pricing.rule"

	// commerce.reviews (data: Review)
	TypeReviewCreated = "review.created"

	// commerce.purchase-orders (data: PurchaseOrder): the type is this prefix
	// followed by the order's new status, e.g. purchase_order.requested.
	TypePurchaseOrderPrefix = "purchase_order."
)

// Purchase is one order line of a paid order, keyed by SKU. Category and base
// price travel with it so the sales lake needs no catalogue lookup.
type Purchase struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	OrderID   string `json:"order_id"`
	Category  string `json:"category,omitempty"`
	BasePrice int64  `json:"base_price,omitempty"`
}

// OrderLine is one SKU of an order at its locked-in price, with the SKU's
// base price and category at that moment.
type OrderLine struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	BasePrice int64  `json:"base_price,omitempty"`
	Category  string `json:"category,omitempty"`
}

// Order is the data of every order event: the order after the change.
type Order struct {
	ID            string      `json:"id"`
	CustomerID    string      `json:"customer_id"`
	Status        string      `json:"status"`
	Items         []OrderLine `json:"items"`
	Total         int64       `json:"total"`
	PaymentID     string      `json:"payment_id,omitempty"`
	FailureReason string      `json:"failure_reason,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
}

// Payment is the data of payment events.
type Payment struct {
	OrderID         string `json:"order_id"`
	Amount          int64  `json:"amount"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// StockChanged is the data of every commerce.inventory event: the SKU's
// levels after the change, and the change.
type StockChanged struct {
	SKU               string `json:"sku"`
	OnHand            int64  `json:"on_hand"`
	Reserved          int64  `json:"reserved"`
	Available         int64  `json:"available"`
	OnOrder           int64  `json:"on_order"`
	Delta             int64  `json:"delta"`
	ReservedDelta     int64  `json:"reserved_delta,omitempty"`
	Reason            string `json:"reason"`
	Ref               string `json:"ref,omitempty"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
}

// Alert is a stock alert (low_stock or out_of_stock); its id is the event id.
type Alert struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	SKU       string    `json:"sku"`
	Available int64     `json:"available"`
	Threshold int64     `json:"threshold"`
	At        time.Time `json:"at"`
}

// ReorderPolicy is how replenishment orders a SKU.
type ReorderPolicy struct {
	LeadTimeDays float64 `json:"lead_time_days"`
	ServiceLevel float64 `json:"service_level"`
	OrderCost    int64   `json:"order_cost"`
	UnitCost     int64   `json:"unit_cost"`
	Supplier     string  `json:"supplier"`
	// PackSize and MinOrderQty round order quantities up (0 = no constraint).
	PackSize    int64 `json:"pack_size,omitempty"`
	MinOrderQty int64 `json:"min_order_qty,omitempty"`
}

// Product is a SKU in the catalogue. Money is in integer minor units.
type Product struct {
	SKU               string        `json:"sku"`
	Name              string        `json:"name"`
	Category          string        `json:"category"`
	BasePrice         int64         `json:"base_price"`
	PriceFloor        int64         `json:"price_floor"`
	PriceCeiling      int64         `json:"price_ceiling"`
	LowStockThreshold int64         `json:"low_stock_threshold"`
	Reorder           ReorderPolicy `json:"reorder"`
	Version           int64         `json:"version"`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
}

// ProductUpserted is the data of product.upserted: the product as written
// and its on-hand stock after the write.
type ProductUpserted struct {
	Product
	OnHand int64 `json:"on_hand"`
}

// PriceChanged is the data of price.changed: what GET /v1/prices/{sku} serves.
type PriceChanged struct {
	SKU       string      `json:"sku"`
	Price     int64       `json:"price"`
	BasePrice int64       `json:"base_price"`
	UpdatedAt time.Time   `json:"updated_at"`
	Reason    PriceReason `json:"reason"`
}

// PriceReason explains a price change: the inputs the policy saw and what
// limited it.
type PriceReason struct {
	RuleID        string  `json:"rule_id"`
	DemandRatio   float64 `json:"demand_ratio"`
	UnitsInWindow int64   `json:"units_in_window"`
	ShortRate     float64 `json:"short_rate_per_hour"`
	BaselineRate  float64 `json:"baseline_rate_per_hour"`
	// StockCoverHours is available / short rate; absent when stock is unknown
	// or nothing sold in the window (infinite cover).
	StockCoverHours *float64 `json:"stock_cover_hours,omitempty"`
	Available       *int64   `json:"available,omitempty"`
	TargetPrice     int64    `json:"target_price"`
	PreviousPrice   int64    `json:"previous_price"`
	// ClippedBy is "floor", "ceiling", "step" or "".
	ClippedBy string `json:"clipped_by"`
	// Learn explains a change made by the learn policy; absent for rule.
	Learn *LearnReason `json:"learn,omitempty"`
}

// LearnReason explains a change made by the learn policy.
type LearnReason struct {
	// Elasticity is the posterior mean of −b and ElasticitySD its standard
	// deviation; SampledElasticity is the Thompson draw the decision used.
	Elasticity        float64 `json:"elasticity"`
	ElasticitySD      float64 `json:"elasticity_sd"`
	SampledElasticity float64 `json:"sampled_elasticity"`
	PriorElasticity   float64 `json:"prior_elasticity"`
	// Expected units per hour now and the objective per hour (revenue or
	// margin, minor units) at the previous and the new price, from the
	// posterior mean.
	ExpectedUnitsOld float64 `json:"expected_units_per_hour_old"`
	ExpectedUnitsNew float64 `json:"expected_units_per_hour_new"`
	ObjectiveOld     float64 `json:"objective_per_hour_old"`
	ObjectiveNew     float64 `json:"objective_per_hour_new"`
	Objective        string  `json:"objective"`
	// ShockFactor is the short window's demand against the model's.
	ShockFactor  float64 `json:"shock_factor"`
	HorizonHours float64 `json:"horizon_hours"`
	// StockBound says the price was raised so that expected demand until
	// the next replenishment fits in the available stock.
	StockBound bool   `json:"stock_bound"`
	Evidence   uint32 `json:"evidence_units"`
}

// Review is the data of review.created: one customer review with its
// classified sentiment.
type Review struct {
	ID         string    `json:"id"`
	SKU        string    `json:"sku"`
	Rating     int       `json:"rating"` // 1..5
	Text       string    `json:"text"`
	Lang       string    `json:"lang"` // ko, en, other
	Sentiment  Sentiment `json:"sentiment"`
	OrderID    string    `json:"order_id,omitempty"`
	CustomerID string    `json:"customer_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Sentiment is a review's classified sentiment.
type Sentiment struct {
	Label string  `json:"label"`
	Score float64 `json:"score"` // probability of Label, 0..1
}

// PurchaseOrder is the data of purchase_order.* events: the order to a
// supplier after the change.
type PurchaseOrder struct {
	ID         string        `json:"id"`
	SKU        string        `json:"sku"`
	Quantity   int64         `json:"quantity"`
	Status     string        `json:"status"`
	Supplier   string        `json:"supplier"`
	Urgent     bool          `json:"urgent"`
	CreatedAt  time.Time     `json:"created_at"`
	ExpectedAt time.Time     `json:"expected_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	Reason     Justification `json:"justification"`
	// TriggerEvent is the inventory event that raised it.
	TriggerEvent string `json:"trigger_event,omitempty"`
}

// Justification is a purchase order's reorder arithmetic: daily demand and
// its deviation, lead time, safety factor, reorder point, EOQ, the inventory
// position it saw, and the quantity ordered.
type Justification struct {
	DailyDemand float64 `json:"d"`
	StdDev      float64 `json:"sigma"`
	LeadTime    float64 `json:"lead_time_days"`
	Z           float64 `json:"z"`
	ROP         float64 `json:"rop"`
	EOQ         float64 `json:"eoq"`
	Position    int64   `json:"position"`
	Quantity    int64   `json:"quantity"`
}

// PricingRule is the data of pricing.rule, keyed by category: a
// category's price parameters (see internal/pricing/rule.go for how they
// price). PUT /v1/pricing/rules/{category} writes it.
type PricingRule struct {
	// ID names the rule version in every price reason (e.g. "audio@3").
	ID       string `json:"id"`
	Category string `json:"category"`
	// DemandWeight is the price move per doubling of the demand ratio.
	DemandWeight    float64 `json:"demand_weight"`
	MaxDemandAdjust float64 `json:"max_demand_adjust"`
	// Smoothing is pseudo-units added to both sides of the demand ratio, so a
	// long-tail SKU's single sale does not read as a tenfold surge.
	Smoothing           float64 `json:"smoothing_units"`
	ScarcityWeight      float64 `json:"scarcity_weight"`
	TargetCoverHours    float64 `json:"target_cover_hours"`
	OverstockWeight     float64 `json:"overstock_weight"`
	OverstockCoverHours float64 `json:"overstock_cover_hours"`
	// StepLimit is the largest relative move per change (0.05 = ±5 %).
	StepLimit       float64 `json:"step_limit"`
	CooldownSeconds int64   `json:"cooldown_seconds"`
	PriceUnit       int64   `json:"price_unit"`
	// Frozen is the kill switch: prices of the category stay where they are.
	Frozen bool `json:"frozen"`

	// Policy is "rule" (the heuristic above) or "learn" (a demand model
	// learned per SKU, see learn.go). Rules stored before policies existed
	// have none and keep the heuristic.
	Policy string `json:"policy,omitempty"`
	// Objective is what learn maximises: "margin" (price − reorder.unit_cost,
	// the default) or "revenue".
	Objective string      `json:"objective,omitempty"`
	Learn     LearnParams `json:"learn"`
}

// LearnParams tune the learn policy (see internal/pricing/learn.go).
type LearnParams struct {
	// PriorElasticity and PriorElasticitySD are the category's prior on a
	// SKU's price elasticity (positive: dearer sells less) until the
	// category's own SKUs have evidence; PriorElasticitySD also says how far
	// one SKU may sit from its category.
	PriorElasticity   float64 `json:"prior_elasticity"`
	PriorElasticitySD float64 `json:"prior_elasticity_sd"`
	// MemoryHours is the half-life of the evidence, so the model follows
	// drifting demand (default two weeks: a price tried last week still
	// says something about the curve's shape).
	MemoryHours float64 `json:"memory_hours"`
	// DecisionSeconds is how often a SKU's price is re-decided (a fresh
	// Thompson sample; default 4 h, so a price holds long enough to be
	// measured and a shop sees a few changes a day); stock at risk
	// re-decides sooner.
	DecisionSeconds int64 `json:"decision_seconds"`
	// HorizonHours is how long stock must last when the SKU's lead time is
	// unknown (no reorder.lead_time_days).
	HorizonHours float64 `json:"horizon_hours"`
	// MinUnits is the evidence (units sold) a SKU needs before its price
	// leaves the base price.
	MinUnits int64 `json:"min_units"`
	// DemandByHour (UTC hour) and DemandByWeekday (UTC, Sunday first) are the
	// shop's known demand profile, mean 1; empty means flat. Exposure is
	// weighted by them, so prices tried at night are not read as unpopular.
	DemandByHour    []float64 `json:"demand_by_hour,omitempty"`
	DemandByWeekday []float64 `json:"demand_by_weekday,omitempty"`
}

// Contract names an event type, the topic that carries it and its payload.
type Contract struct {
	Type  string
	Topic string
	// Data is a zero value of the payload type.
	Data any
}

// Contracts lists every event type Mercato writes, in topic order. The
// JSON Schemas under docs/events/ are generated from it.
func Contracts() []Contract {
	var out []Contract
	add := func(topic string, data any, types ...string) {
		for _, t := range types {
			out = append(out, Contract{Type: t, Topic: topic, Data: data})
		}
	}
	add(TopicProducts, ProductUpserted{}, TypeProductUpserted)
	add(TopicPurchases, Purchase{}, TypePurchase)
	add(TopicInventory, StockChanged{}, TypeStockReserved, TypeStockCommitted, TypeStockReleased, TypeStockAdjusted)
	add(TopicOrders, Order{}, TypeOrderCreated, TypeOrderPaid, TypeOrderPaymentFailed, TypeOrderCancelled)
	add(TopicPayments, Payment{}, TypePaymentAuthorized, TypePaymentDeclined, TypePaymentRefunded)
	add(TopicPrices, PriceChanged{}, TypePriceChanged)
	add(TopicPricingRules, PricingRule{}, TypePricingRule)
	add(TopicAlerts, Alert{}, TypeAlert)
	for _, s := range PurchaseOrderStatuses {
		add(TopicPurchaseOrders, PurchaseOrder{}, TypePurchaseOrderPrefix+s)
	}
	add(TopicReviews, Review{}, TypeReviewCreated)
	return out
}

// Purchase order statuses, as purchase_order.<status> names them.
const (
	PORequested = "requested"
	POConfirmed = "confirmed"
	POShipped   = "shipped"
	POReceived  = "received"
	POCancelled = "cancelled"
)

// PurchaseOrderStatuses are the statuses a purchase_order.* event names.
var PurchaseOrderStatuses = []string{PORequested, POConfirmed, POShipped, POReceived, POCancelled}

// ContractOf returns the contract of an event type.
func ContractOf(typ string) (Contract, bool) {
	for _, c := range Contracts() {
		if c.Type == typ {
			return c, true
		}
	}
	return Contract{}, false
}
