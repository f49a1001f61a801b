// Package catalog is the product catalogue: what a SKU is, its price bounds,
// its stock threshold and reorder policy. Writes are validated here and reach
// the system of record together with their events (transactional outbox).
package catalog
