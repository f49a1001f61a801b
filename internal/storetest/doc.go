// Package storetest is the contract suite every system-of-record adapter must
// pass: one suite per port (RunCatalog, RunOutbox, RunReportRuns,
// RunPurchaseOrders), and Run for a whole system of record (SQLite and
// PostgreSQL), which runs them all plus the cases that cross ports in one
// transaction. The in-memory store (internal/memstore) runs the port suites.
package storetest
