package event

// Logical topic names (ARCHITECTURE.md §3). The bus adds the deployment's
// topic prefix when it talks to the broker.
const (
	TopicProducts       = "commerce.products"
	TopicPurchases      = "commerce.purchases"
	TopicInventory      = "commerce.inventory"
	TopicOrders         = "commerce.orders"
	TopicPayments       = "commerce.payments"
	TopicPrices         = "commerce.prices"
	TopicPricingRules   = "commerce.pricing-rules"
	TopicAlerts         = "commerce.alerts"
	TopicPurchaseOrders = "commerce.purchase-orders"
	TopicReviews        = "commerce.reviews"
	TopicPurchasesLate  = "commerce.purchases.late"
)

// DLQSuffix names a topic's dead-letter topic: <topic>.dlq.
const DLQSuffix = ".dlq"

// TopicSpec describes a topic the platform creates at start.
type TopicSpec struct {
	Name string
	// Compacted topics keep the latest record per key (prices, rules, products).
	Compacted bool
}

// Topics lists every topic Mercato owns, each followed by its dead-letter topic
// where consumers read it.
func Topics() []TopicSpec {
	base := []TopicSpec{
		{Name: TopicProducts, Compacted: true},
		{Name: TopicPurchases},
		{Name: TopicInventory},
		{Name: TopicOrders},
		{Name: TopicPayments},
		{Name: TopicPrices, Compacted: true},
		{Name: TopicPricingRules, Compacted: true},
		{Name: TopicAlerts},
		{Name: TopicPurchaseOrders},
		{Name: TopicReviews},
		{Name: TopicPurchasesLate},
	}
	out := make([]TopicSpec, 0, 2*len(base))
	for _, t := range base {
		out = append(out, t, TopicSpec{Name: t.Name + DLQSuffix})
	}
	return out
}
