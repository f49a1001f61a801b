// Package outbox relays events that writes recorded in the system of record's
// outbox table to the event log: in table order, so records with one key keep
// their order, through the idempotent producer, and deleted from the table only after the
// broker acknowledged them. A crash between publish and delete republishes the
// same event ids; consumers deduplicate on them.
//
// One relay publishes at a time (its Lease); the lease can be lost while the
// process lives, so the relay checks it before every batch and, once lost,
// stops publishing until it holds the lease again.
package outbox
