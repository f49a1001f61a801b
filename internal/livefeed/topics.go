package livefeed

import "github.com/mercato-platform/mercato/internal/event"

// Topic is a topic the stream serves.
type Topic struct {
	// Name is the short name clients ask for: the logical topic without
	// "commerce.".
	Name string
	// Logical is the event log's logical topic name.
	Logical string
	// AdminOnly topics carry customers' orders and payments.
	AdminOnly bool
}

// Topics lists every topic the stream serves. The cursor names topics by
// their index in this list, so new topics are only ever appended.
func Topics() []Topic {
	return []Topic{
		{Name: "orders", Logical: event.TopicOrders, AdminOnly: true},
		{Name: "payments", Logical: event.TopicPayments, AdminOnly: true},
		{Name: "prices", Logical: event.TopicPrices},
		{Name: "inventory", Logical: event.TopicInventory},
		{Name: "alerts", Logical: event.TopicAlerts},
		{Name: "purchase-orders", Logical: event.TopicPurchaseOrders},
		{Name: "reviews", Logical: event.TopicReviews},
		{Name: "pricing-rules", Logical: event.TopicPricingRules},
		{Name: "products", Logical: event.TopicProducts},
	}
}

// TopicByName returns the topic a client names.
func TopicByName(name string) (Topic, bool) {
	for _, t := range Topics() {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}
