// Package sqlstore is the system of record on SQL: SQLite (the C library
// through mattn/go-sqlite3, WAL, one writer connection so concurrent writes
// queue instead of failing with SQLITE_BUSY) for the embedded profile and PostgreSQL (pgx) at
// scale. One implementation speaks both dialects; where they differ (DDL,
// placeholders, row locks, relay leases) the dialect decides. Both pass the
// storetest contract suite.
//
// Each port the store implements has a file of its own, named after it
// (idempotency.go, outbox.go, ledger.go, inventory.go, orders.go, ...);
// store.go holds Open, the options, the write path and the query helpers.
package sqlstore
