// Package inventory is stock per SKU: on hand, reserved, on order, and the
// durable ledger every change is written to.
package inventory
