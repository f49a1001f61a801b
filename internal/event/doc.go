// Package event defines the envelope every Mercato record travels in on the
// event log, the logical topic names, and a strict decoder for envelopes that
// arrive from outside the process.
package event
