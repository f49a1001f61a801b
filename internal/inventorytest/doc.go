// Package inventorytest is the contract suite every inventory adapter must
// pass: SQLite, PostgreSQL and Redis. Call Run from the adapter's tests.
package inventorytest
