// Package pricing is Mercato's real-time dynamic pricing: per SKU, in event
// time, it keeps a sliding demand window, a long EWMA baseline of the demand
// rate and the latest available stock, and turns them into bounded,
// step-limited, explainable price changes (ARCHITECTURE.md §5).
//
// The core (Config, Rule, DemandWindow, Baseline, Watermark, Pricer) is pure:
// no I/O, no wall clock except the one passed in for idle partitions, so it is
// deterministic and table-testable. Processor wires one Pricer per input
// partition to Kafka with exactly-once transactions and a compacted changelog.
package pricing
