//go:build race

package stream

// raceEnabled shrinks the broker tests: the race detector slows the Kafka
// path about tenfold on this 2-core machine.
const raceEnabled = true
