package lake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	Root     string         // lake root directory
	Location *time.Location // zone days are cut in; default UTC
	// RecentIDs is how many event ids per Kafka partition the sink remembers
	// to drop records a producer sent twice (default 10,000).
	RecentIDs int
	Now       func() time.Time
	Logger    *slog.Logger
}

// SinkStats are the sink's running totals.
type SinkStats struct {
	Rows, Files, Covered, Duplicates, Late int64
}

// Sink turns event records into lake files exactly once. Records are added
// to an in-memory batch; Flush writes one file per table, day and Kafka
// partition, named after the offset range the batch spans. Offsets are
// committed only after Flush returned, so a crash in between replays
// records whose offsets a file name already covers: those are skipped.
type Sink struct {
	o SinkOptions

	mu      sync.Mutex
	spans   map[spanKey]*span
	covered map[dayKey][]Range // loaded from the directory on first use
	recent  map[spanKey]*idRing

	rows, files, coveredN, dups, late atomic.Int64
}

type spanKey struct {
	table     string
	partition int32
}

type dayKey struct{ table, date string }

// span is the pending part of one Kafka partition: its offset range and
// its rows by day.
type span struct {
	from, to int64
	days     map[string]*dayRows
}

type dayRows struct {
	sales    []Sale
	orders   []Order
	payments []Payment
}

// NewSink builds a sink writing under o.Root.
func NewSink(o SinkOptions) *Sink {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.RecentIDs <= 0 {
		o.RecentIDs = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{o: o, spans: map[spanKey]*span{}, covered: map[dayKey][]Range{}, recent: map[spanKey]*idRing{}}
}

// Stats returns the running totals.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Rows: s.rows.Load(), Files: s.files.Load(), Covered: s.coveredN.Load(), Duplicates: s.dups.Load(), Late: s.late.Load()}
}

// Init creates the table directories, so engines that need a table's root
// to exist (Spark) can read an empty lake.
func (s *Sink) Init() error {
	for _, t := range Tables {
		if err := os.MkdirAll(filepath.Join(s.o.Root, t), 0o755); err != nil {
			return fmt.Errorf("creating lake table %s: %w", t, err)
		}
	}
	return nil
}

// Assigned forgets what the sink knew of the lake's files: another sink
// may have written partitions this one now owns.
func (s *Sink) Assigned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.covered = map[dayKey][]Range{}
}

// Add takes one record (logical topic name) into the batch. An error
// wrapping ErrBadEvent means the record can never be stored.
func (s *Sink) Add(topic string, partition int32, offset int64, env event.Envelope) error {
	row, err := RowOf(topic, env, s.o.Location)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	covered, err := s.isCovered(dayKey{row.Table, row.Date}, partition, offset)
	if err != nil {
		return err
	}
	if covered {
		s.coveredN.Add(1)
		return nil
	}
	k := spanKey{row.Table, partition}
	ring := s.recent[k]
	if ring == nil {
		ring = newIDRing(s.o.RecentIDs)
		s.recent[k] = ring
	}
	if !ring.add(row.EventID) {
		s.dups.Add(1)
		return nil
	}
	sp := s.spans[k]
	if sp == nil {
		sp = &span{from: offset, to: offset, days: map[string]*dayRows{}}
		s.spans[k] = sp
	}
	sp.from, sp.to = min(sp.from, offset), max(sp.to, offset)
	d := sp.days[row.Date]
	if d == nil {
		d = &dayRows{}
		sp.days[row.Date] = d
	}
	switch {
	case row.Sale != nil:
		d.sales = append(d.sales, *row.Sale)
	case row.Order != nil:
		d.orders = append(d.orders, *row.Order)
	case row.Payment != nil:
		d.payments = append(d.payments, *row.Payment)
	}
	if row.Date < s.o.Now().In(s.o.Location).Format(time.DateOnly) {
		s.late.Add(1)
	}
	return nil
}

// isCovered reports whether a file of the day already holds the record.
func (s *Sink) isCovered(k dayKey, partition int32, offset int64) (bool, error) {
	ranges, ok := s.covered[k]
	if !ok {
		files, err := Files(s.o.Root, k.table, k.date)
		if err != nil {
			return false, err
		}
		ranges = []Range{}
		for _, f := range files {
			if r, ok := ParseFileName(filepath.Base(f.Path)); ok {
				ranges = append(ranges, r)
			}
		}
		s.covered[k] = ranges
	}
	for _, r := range ranges {
		if r.Contains(partition, offset) {
			return true, nil
		}
	}
	return false, nil
}

// Flush writes every pending day of every partition as one durable file.
// After an error the unwritten days stay pending; calling Flush again
// rewrites nothing twice (file names are deterministic).
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sp := range s.spans {
		for date, d := range sp.days {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(DateDir(s.o.Root, k.table, date), FileName(k.partition, sp.from, sp.to))
			n, err := writeDay(path, d)
			if err != nil {
				return err
			}
			s.rows.Add(int64(n))
			s.files.Add(1)
			dk := dayKey{k.table, date}
			if ranges, ok := s.covered[dk]; ok {
				s.covered[dk] = append(ranges, Range{Partition: k.partition, From: sp.from, To: sp.to})
			}
			delete(sp.days, date)
		}
		delete(s.spans, k)
	}
	return nil
}

func writeDay(path string, d *dayRows) (int, error) {
	switch {
	case len(d.sales) > 0:
		return len(d.sales), WriteFile(path, d.sales)
	case len(d.orders) > 0:
		return len(d.orders), WriteFile(path, d.orders)
	case len(d.payments) > 0:
		return len(d.payments), WriteFile(path, d.payments)
	}
	return 0, errors.New("lake: empty day in a pending batch")
}

// idRing remembers the last n ids.
type idRing struct {
	ids  []string
	next int
	set  map[string]struct{}
}

func newIDRing(n int) *idRing {
	return &idRing{ids: make([]string, 0, n), set: make(map[string]struct{}, n)}
}

// add records id and reports whether it was new.
func (r *idRing) add(id string) bool {
	if _, seen := r.set[id]; seen {
		return false
	}
	if len(r.ids) < cap(r.ids) {
		r.ids = append(r.ids, id)
	} else {
		delete(r.set, r.ids[r.next])
		r.ids[r.next] = id
		r.next = (r.next + 1) % len(r.ids)
	}
	r.set[id] = struct{}{}
	return true
}
