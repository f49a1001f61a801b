// Package replenishment decides when a SKU needs a purchase order and how
// much to order (reorder point and economic order quantity from its daily
// demand statistics), and tracks each purchase order from request to
// delivery.
package replenishment
