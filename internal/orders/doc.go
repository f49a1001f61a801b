// Package orders is checkout: an order's state machine, and the saga that
// reserves stock, authorizes payment and commits the sale, compensating when
// payment fails, with every state change and its events recorded through the
// transactional outbox. Requests are idempotent (Stripe semantics).
package orders
