package pricing

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestDemandWindowPlacesOutOfOrderRecords(t *testing.T) {
	t.Parallel()
	w := NewDemandWindow(6)
	for _, r := range []struct {
		slide int64
		units uint32
	}{{100, 1}, {102, 2}, {101, 3}, {100, 4}, {105, 1}, {103, 5}} {
		if !w.Add(r.slide, r.units) {
			t.Fatalf("Add(%d) refused inside the ring", r.slide)
		}
	}
	want := map[int64]uint32{100: 5, 101: 3, 102: 2, 103: 5, 104: 0, 105: 1, 99: 0, 106: 0}
	for slide, u := range want {
		if got := w.Units(slide); got != u {
			t.Errorf("Units(%d) = %d, want %d", slide, got, u)
		}
	}
	if got := w.Sum(101, 105); got != 11 {
		t.Errorf("Sum(101,105) = %d, want 11", got)
	}
	// Moving the head to 106 pushes slide 100 out of the 6-bucket ring.
	w.Add(106, 1)
	if w.Units(100) != 0 || w.Holds(100) || !w.Holds(101) {
		t.Errorf("slide 100 should have left the ring, 101 stayed")
	}
	if w.Add(100, 1) {
		t.Error("Add of a slide that left the ring must be refused")
	}
	// A jump far ahead clears every bucket.
	w.Add(500, 7)
	if got := w.Sum(0, 1000); got != 7 {
		t.Errorf("after a jump Sum = %d, want 7", got)
	}
	w.Add(500, math.MaxUint32)
	if w.Units(500) != math.MaxUint32 {
		t.Errorf("bucket must saturate, got %d", w.Units(500))
	}
}

func TestBaselineDecaysByEventTimeAndFoldsCanonically(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	d := c.derive()
	slidesPerDay := int64(24 * time.Hour / c.Slide)

	// A quiet day halves the baseline, whether it passes in one fold or many.
	w := NewDemandWindow(d.size)
	one := Baseline{Rate: 10, Since: 1000, Next: 1000}
	one.fold(&w, 1000+slidesPerDay, &d)
	if got := one.rateAt(&d); math.Abs(got-5) > 1e-9 {
		t.Errorf("after a quiet day rate = %v, want 5", got)
	}

	// With sales, folding slide by slide and in one go agree bit for bit.
	w = NewDemandWindow(d.size)
	a := Baseline{Rate: 3, Since: 1000, Next: 1000}
	b := a
	for s := int64(1000); s < 1400; s++ {
		if s%7 == 0 {
			if s > w.head && w.head != 0 {
				a.fold(&w, s-int64(w.size)+1, &d)
				b.fold(&w, s-int64(w.size)+1, &d)
			}
			w.Add(s, uint32(s%5+1))
		}
		a.fold(&w, s-int64(w.size)+1, &d) // a folds at every step
	}
	a.fold(&w, 1400, &d)
	b.fold(&w, 1400, &d)
	if a.rateAt(&d) != b.rateAt(&d) {
		t.Errorf("fold split changed the result: %v vs %v", a.rateAt(&d), b.rateAt(&d))
	}

	// A constant rate converges to that rate.
	w = NewDemandWindow(d.size)
	e := Baseline{Rate: 0, Since: 1, Next: 1}
	for s := int64(1); s < 20*slidesPerDay; s++ {
		if s > w.head && w.head != 0 {
			e.fold(&w, s-int64(w.size)+1, &d)
		}
		w.Add(s, 2) // 2 units a minute = 120 an hour
	}
	if got := e.rateAt(&d); math.Abs(got-120) > 0.5 {
		t.Errorf("steady 120/h gives baseline %v", got)
	}
}

func TestWatermark(t *testing.T) {
	t.Parallel()
	c := DefaultConfig() // 5 s out-of-orderness, 1 min lateness, 30 s idle
	w := NewWatermark(c)
	const s = int64(1000)
	base := int64(1_800_000_000_000)
	wall := int64(5_000_000)
	steps := []struct {
		name      string
		at        int64
		wallAfter int64
		wantLate  bool
		wantWM    int64
	}{
		{"first record", base, 0, false, base - 5*s},
		{"in order", base + 10*s, 0, false, base + 5*s},
		{"out of order within 5s", base + 7*s, 0, false, base + 5*s},
		{"behind the watermark, within lateness", base - 50*s, 0, false, base + 5*s},
		{"exactly at the lateness limit", base - 55*s, 0, false, base + 5*s},
		{"beyond the lateness: late", base - 55*s - 1, 0, true, base + 5*s},
		{"late does not move the watermark", base - 100*s, 0, true, base + 5*s},
		{"ahead moves it", base + 70*s, 0, false, base + 65*s},
	}
	for _, st := range steps {
		if late := w.Observe(st.at, wall); late != st.wantLate || w.Current() != st.wantWM {
			t.Fatalf("%s: late=%v wm=%d, want %v %d", st.name, late, w.Current()-base, st.wantLate, st.wantWM-base)
		}
	}
	if w.Idle(wall + 29*s) {
		t.Error("moved before the idle timeout")
	}
	if !w.Idle(wall+40*s) || w.Current() != base+70*s-5*s+40*s {
		t.Errorf("idle 40s: wm = %d, want max event − 5s + 40s", w.Current()-base)
	}
	// A record after idleness keeps the watermark monotonic.
	w.Observe(base+71*s, wall+41*s)
	if w.Current() != base+105*s {
		t.Errorf("watermark went back to %d", w.Current()-base)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Window = 90 * time.Second
	c.AllowedLateness = 10 * time.Minute
	c.IdleTimeout = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"multiple of slide", "idle timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	c = DefaultConfig()
	c.AllowedLateness = 10 * time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "allowed lateness") {
		t.Errorf("lateness beyond the ring accepted: %v", err)
	}
}
