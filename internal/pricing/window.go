package pricing

import "math"

// DemandWindow counts units sold per slide in a ring of buckets: one bucket
// per slide of the window plus the slides a record may run ahead of the
// watermark. Adding a record is O(1) and the whole ring is 16 small counters,
// so a million SKUs fit in memory. Slides are numbered by event time
// (Unix ms / slide length), so a record that arrives out of order lands in
// the bucket of its own slide as long as that slide is still in the ring.
type DemandWindow struct {
	head  int64 // newest slide in the ring; 0 = empty
	size  uint8
	units [maxBuckets]uint32
}

// NewDemandWindow returns an empty ring of size buckets (1..16).
func NewDemandWindow(size int) DemandWindow {
	return DemandWindow{size: uint8(min(max(size, 1), maxBuckets))}
}

// Head is the newest slide holding units, 0 when none.
func (w *DemandWindow) Head() int64 { return w.head }

// Oldest is the oldest slide still in the ring.
func (w *DemandWindow) Oldest() int64 { return w.head - int64(w.size) + 1 }

// Holds reports whether slide is inside the ring.
func (w *DemandWindow) Holds(slide int64) bool {
	return w.head != 0 && slide <= w.head && slide > w.head-int64(w.size)
}

// Units sold in slide; 0 for a slide outside the ring.
func (w *DemandWindow) Units(slide int64) uint32 {
	if !w.Holds(slide) {
		return 0
	}
	return w.units[slide%int64(w.size)]
}

// Sum is the units sold in slides [from, to].
func (w *DemandWindow) Sum(from, to int64) int64 {
	if w.head == 0 {
		return 0
	}
	from = max(from, w.Oldest())
	to = min(to, w.head)
	var sum int64
	for s := from; s <= to; s++ {
		sum += int64(w.units[s%int64(w.size)])
	}
	return sum
}

// Add records units in slide. It reports false, changing nothing, when the
// slide has already left the ring. Moving the head forward forgets the
// slides that fall out: callers fold them into the Baseline first.
func (w *DemandWindow) Add(slide int64, units uint32) bool {
	size := int64(w.size)
	switch {
	case w.head == 0:
		w.units = [maxBuckets]uint32{}
		w.head = slide
	case slide > w.head:
		for s := max(w.head+1, slide-size+1); s <= slide; s++ {
			w.units[s%size] = 0
		}
		w.head = slide
	case slide <= w.head-size:
		return false
	}
	i := slide % size
	if sum := uint64(w.units[i]) + uint64(units); sum > math.MaxUint32 {
		w.units[i] = math.MaxUint32 // saturate rather than wrap
	} else {
		w.units[i] = uint32(sum)
	}
	return true
}

// Baseline is the long demand rate: an EWMA of units per hour over slides,
// with the half-life measured in event time. Empty slides decay it by elapsed
// time, not by how many records came, so a SKU quiet for a day has half the
// baseline it had (with the default 24 h half-life).
//
// Folding is canonical: the stored Rate changes only when a slide with sales
// is folded, and a run of empty slides is applied as one power of two. So the
// result does not depend on how the folds were split between calls, which
// keeps prices identical across arrival orders.
type Baseline struct {
	Rate  float64 // units per hour as of slide Since
	Since int64   // first slide not yet decayed into Rate
	Next  int64   // first slide not yet folded; Since ≤ Next
}

// rateAt is the baseline as of Next, with the empty run since Since applied.
func (b *Baseline) rateAt(d *derived) float64 {
	if b.Next == b.Since {
		return b.Rate
	}
	return b.Rate * math.Exp2(-float64(b.Next-b.Since)*d.decayPer)
}

// fold moves the baseline through slide upTo−1, reading the units of slides
// still in w and treating the rest as empty. It reports whether it moved.
func (b *Baseline) fold(w *DemandWindow, upTo int64, d *derived) bool {
	if b.Next >= upTo {
		return false
	}
	if w.head != 0 {
		for s := max(b.Next, w.Oldest()); s < upTo && s <= w.head; s++ {
			u := w.units[s%int64(w.size)]
			if u == 0 {
				continue
			}
			// Decay through slide s, then mix in its rate with the slide's weight.
			b.Rate = b.Rate*math.Exp2(-float64(s+1-b.Since)*d.decayPer) + (1-d.alpha)*float64(u)/d.slideHours
			b.Since = s + 1
		}
	}
	b.Next = upTo
	return true
}
