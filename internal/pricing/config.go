package pricing

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// maxBuckets bounds the demand ring so that per-SKU state has a fixed size.
const maxBuckets = 16

// Config holds the stream parameters shared by every category: the window,
// the baseline and the event-time tolerances. Per-category price parameters
// live in Rule.
type Config struct {
	// Window is the span of the short demand rate; Slide is how often it is
	// evaluated. Window must be a whole number of slides.
	Window time.Duration
	Slide  time.Duration
	// HalfLife of the EWMA baseline, in event time.
	HalfLife time.Duration
	// BaselinePrior is the demand rate (units per hour) a SKU without history
	// starts from.
	BaselinePrior float64
	// OutOfOrderness is how far behind the newest event a record may arrive
	// and still be placed exactly: watermark = max event time − OutOfOrderness.
	OutOfOrderness time.Duration
	// AllowedLateness is how far behind the watermark a record is still
	// counted; older ones are late and go to the side topic.
	AllowedLateness time.Duration
	// IdleTimeout is the wall-clock time without records after which a
	// partition's watermark advances with the wall clock, so a quiet partition
	// still closes its windows.
	IdleTimeout time.Duration
	// MaxFutureSkew refuses records dated further than this ahead of the wall
	// clock: one record from a broken clock would otherwise move the
	// watermark into the future and make every honest record late. 0 accepts
	// any time.
	MaxFutureSkew time.Duration
}

// DefaultConfig is ARCHITECTURE.md §5's defaults.
func DefaultConfig() Config {
	return Config{
		Window:          5 * time.Minute,
		Slide:           time.Minute,
		HalfLife:        24 * time.Hour,
		BaselinePrior:   1,
		OutOfOrderness:  5 * time.Second,
		AllowedLateness: time.Minute,
		IdleTimeout:     30 * time.Second,
		MaxFutureSkew:   time.Hour,
	}
}

// ErrInvalidConfig is wrapped by every Config and Rule validation error.
var ErrInvalidConfig = errors.New("invalid pricing configuration")

// Validate reports every problem at once, one per line.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	switch {
	case c.Slide < time.Second:
		bad("slide %v must be at least 1s", c.Slide)
	case c.Window < c.Slide || c.Window%c.Slide != 0:
		bad("window %v must be a positive multiple of slide %v", c.Window, c.Slide)
	case c.OutOfOrderness < 0 || c.AllowedLateness < 0:
		bad("out-of-orderness %v and allowed lateness %v must not be negative", c.OutOfOrderness, c.AllowedLateness)
	default:
		size := c.ringSize()
		if size > maxBuckets {
			bad("window/slide plus out-of-orderness/slide needs %d buckets, at most %d", size, maxBuckets)
		}
		// A record that is not late must still find its bucket in the ring,
		// otherwise its units would be lost (see DemandWindow).
		if reach := time.Duration(size-1) * c.Slide; reach < c.OutOfOrderness+c.AllowedLateness {
			bad("out-of-orderness + allowed lateness (%v) must fit in %v (window − slide + out-of-orderness rounded up to slides)",
				c.OutOfOrderness+c.AllowedLateness, reach)
		}
	}
	if c.HalfLife < c.Slide {
		bad("half-life %v must be at least one slide (%v)", c.HalfLife, c.Slide)
	}
	if math.IsNaN(c.BaselinePrior) || math.IsInf(c.BaselinePrior, 0) || c.BaselinePrior < 0 {
		bad("baseline prior %v must be a non-negative number of units per hour", c.BaselinePrior)
	}
	if c.IdleTimeout <= 0 {
		bad("idle timeout %v must be positive", c.IdleTimeout)
	}
	if c.MaxFutureSkew < 0 {
		bad("max future skew %v must not be negative", c.MaxFutureSkew)
	}
	return errors.Join(errs...)
}

// ringSize is the buckets a DemandWindow keeps: the window plus the slides a
// record may run ahead of the watermark, so that evaluating a boundary never
// finds its oldest slide already overwritten.
func (c Config) ringSize() int {
	n := int(c.Window / c.Slide)
	ahead := int((c.OutOfOrderness + c.Slide - 1) / c.Slide)
	return n + ahead
}

// derived are Config values precomputed for the hot path.
type derived struct {
	slideMs     int64
	n           int64 // slides per window
	size        int   // ring buckets
	windowHours float64
	slideHours  float64
	decayPer    float64 // half-lives per slide
	alpha       float64 // weight kept per slide: 2^-decayPer
	prior       float64
	oooMs       int64
	latenessMs  int64
	idleMs      int64
	skewMs      int64
}

func (c Config) derive() derived {
	d := derived{
		slideMs:     c.Slide.Milliseconds(),
		n:           int64(c.Window / c.Slide),
		size:        c.ringSize(),
		windowHours: c.Window.Hours(),
		slideHours:  c.Slide.Hours(),
		decayPer:    float64(c.Slide) / float64(c.HalfLife),
		prior:       c.BaselinePrior,
		oooMs:       c.OutOfOrderness.Milliseconds(),
		latenessMs:  c.AllowedLateness.Milliseconds(),
		idleMs:      c.IdleTimeout.Milliseconds(),
		skewMs:      c.MaxFutureSkew.Milliseconds(),
	}
	d.alpha = math.Exp2(-d.decayPer)
	return d
}
