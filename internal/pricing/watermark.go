package pricing

// Watermark tracks event-time progress on one partition: the newest event
// time seen minus the allowed out-of-orderness. A record older than the
// watermark minus the allowed lateness is late. All times are Unix ms; now is
// the wall clock, used only to notice an idle partition.
type Watermark struct {
	maxEvent    int64
	current     int64
	lastArrival int64 // wall clock of the last record
	started     bool

	outOfOrder int64
	lateness   int64
	idle       int64
}

// NewWatermark builds a watermark with the config's tolerances.
func NewWatermark(c Config) Watermark {
	return Watermark{
		outOfOrder: c.OutOfOrderness.Milliseconds(),
		lateness:   c.AllowedLateness.Milliseconds(),
		idle:       c.IdleTimeout.Milliseconds(),
	}
}

// Current is the watermark; meaningless until Started.
func (w *Watermark) Current() int64 { return w.current }

// Started reports whether any record was observed.
func (w *Watermark) Started() bool { return w.started }

// MaxEvent is the newest event time observed.
func (w *Watermark) MaxEvent() int64 { return w.maxEvent }

// IsLate reports whether a record at event time t is beyond the allowed lateness.
func (w *Watermark) IsLate(t int64) bool {
	return w.started && t < w.current-w.lateness
}

// Observe records a record at event time t arriving at wall time now and
// reports whether it is late. A late record does not move the watermark.
func (w *Watermark) Observe(t, now int64) (late bool) {
	w.lastArrival = now
	if w.IsLate(t) {
		return true
	}
	if !w.started {
		w.started, w.maxEvent, w.current = true, t, t-w.outOfOrder
		return false
	}
	if t > w.maxEvent {
		w.maxEvent = t
		if wm := t - w.outOfOrder; wm > w.current {
			w.current = wm
		}
	}
	return false
}

// Idle advances the watermark when no record arrived for the idle timeout:
// event time is then assumed to pass with the wall clock, so a quiet
// partition still closes its windows. It reports whether the watermark moved.
func (w *Watermark) Idle(now int64) bool {
	quiet := now - w.lastArrival
	if !w.started || quiet < w.idle {
		return false
	}
	if wm := w.maxEvent - w.outOfOrder + quiet; wm > w.current {
		w.current = wm
		return true
	}
	return false
}

// Touch marks an arrival at wall time now, e.g. after restoring state, so
// that restore time does not count as idleness.
func (w *Watermark) Touch(now int64) { w.lastArrival = now }
