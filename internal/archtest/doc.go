// Package archtest holds the tests that keep Mercato's structure as
// docs/architecture.md draws it: which package may import which.
package archtest
