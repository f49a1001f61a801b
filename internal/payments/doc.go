// Package payments is the card gateway port and the simulated gateway used
// by the embedded profile, the traffic simulator and the tests.
package payments
