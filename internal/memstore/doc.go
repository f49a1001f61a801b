// Package memstore is the system of record in memory, for the tests of the
// domains that need a store but nothing of SQL: the catalogue with its
// stock, the inventory and its ledger, the outbox, report runs, purchase
// orders and demand. One mutex guards it; a write applies whole or not at
// all, as a transaction would. It passes the same contract suites as the
// SQL store (storetest's port suites and inventorytest); it keeps nothing
// across processes.
package memstore
