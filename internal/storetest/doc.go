// Package storetest is the contract suite every system-of-record adapter must
// pass (SQLite and PostgreSQL today). Call Run from the adapter's tests.
package storetest
