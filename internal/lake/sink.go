package lake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-platform/mercato/internal/dedup"
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
	recent  map[spanKey]*dedup.IDs

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
	return &Sink{o: o, spans: map[spanKey]*span{}, covered: map[dayKey][]Range{}, recent: map[spanKey]*dedup.IDs{}}
}

// Stats returns the running totals.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Rows: s.rows.Load(), Files: s.files.Load(), Covered: s.coveredN.Load(), Duplicates: s.dups.Load(), Late: s.late.Load()}
}

// SchemaDate is the partition of the schema anchors: one empty file per
// table, so an engine that infers a table's schema from its files (Spark)
// can read a lake that has no data yet. Reports never ask for that day.
const SchemaDate = "1970-01-01"

// Init creates each table with its schema anchor (see SchemaDate).
func (s *Sink) Init() error {
	return WriteSchemaAnchors(s.o.Root)
}

// WriteSchemaAnchors writes the empty schema file of every table that has
// none.
func WriteSchemaAnchors(root string) error {
	for _, t := range Tables {
		path := filepath.Join(DateDir(root, t, SchemaDate), "part-schema.parquet")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		var err error
		switch t {
		case TableSales:
			err = WriteFile(path, []Sale{})
		case TableOrders:
			err = WriteFile(path, []Order{})
		case TablePayments:
			err = WriteFile(path, []Payment{})
		}
		if err != nil {
			return fmt.Errorf("creating lake table %s: %w", t, err)
		}
	}
	return nil
}

// Assigned forgets what the sink knew of the lake's files and event ids:
// another sink may have written partitions this one now owns.
func (s *Sink) Assigned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.covered = map[dayKey][]Range{}
	s.recent = map[spanKey]*dedup.IDs{}
}

// Drop discards the pending rows of partitions this sink no longer owns
// (logical topic -> partitions): their offsets were not committed, so the
// new owner writes them.
func (s *Sink) Drop(parts map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range parts {
		table, ok := TopicTable[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			delete(s.spans, spanKey{table, p})
			delete(s.recent, spanKey{table, p})
		}
	}
}

// seedDays is how many of a table's newest days seedRing reads.
const seedDays = 3

// seedRing fills a partition's id memory from its newest files, so a
// record published twice across a sink restart is still recognised.
// Errors only leave the memory emptier: the files are the lake's, and a
// failure to read one here will surface when reports read it.
func (s *Sink) seedRing(k spanKey) *dedup.IDs {
	ring := dedup.New(s.o.RecentIDs)
	days, err := Dates(s.o.Root, k.table)
	if err != nil {
		return ring
	}
	var newest [][]string // per file, newest file first
	n := 0
	for i := len(days) - 1; i >= 0 && i >= len(days)-seedDays && n < s.o.RecentIDs; i-- {
		files, err := Files(s.o.Root, k.table, days[i])
		if err != nil {
			continue
		}
		type ranged struct {
			path string
			to   int64
		}
		var mine []ranged
		for _, f := range files {
			if r, ok := ParseFileName(filepath.Base(f.Path)); ok && r.Partition == k.partition {
				mine = append(mine, ranged{f.Path, r.To})
			}
		}
		slices.SortFunc(mine, func(a, b ranged) int { return cmp.Compare(b.to, a.to) })
		for _, f := range mine {
			if n >= s.o.RecentIDs {
				break
			}
			ids, err := eventIDs(k.table, f.path)
			if err != nil {
				s.o.Logger.Warn("reading event ids of a lake file", "file", f.path, "err", err)
				continue
			}
			newest = append(newest, ids)
			n += len(ids)
		}
	}
	for i := len(newest) - 1; i >= 0; i-- { // oldest first: the ring keeps the newest
		for _, id := range newest[i] {
			ring.Add(id, 0)
		}
	}
	return ring
}

func eventIDs(table, path string) ([]string, error) {
	switch table {
	case TableSales:
		return idsIn(path, func(r Sale) string { return r.EventID })
	case TableOrders:
		return idsIn(path, func(r Order) string { return r.EventID })
	case TablePayments:
		return idsIn(path, func(r Payment) string { return r.EventID })
	}
	return nil, fmt.Errorf("unknown lake table %q", table)
}

func idsIn[T any](path string, id func(T) string) ([]string, error) {
	rows, err := ReadFile[T](path)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = id(r)
	}
	return ids, err
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
	k := spanKey{row.Table, partition}
	ring := s.recent[k]
	if ring == nil {
		ring = s.seedRing(k)
		s.recent[k] = ring
	}
	covered, err := s.isCovered(dayKey{row.Table, row.Date}, partition, offset)
	if err != nil {
		return err
	}
	// The id is remembered also when its record is already in the lake, so
	// a later copy of it (an outbox relay publishing again) is dropped.
	fresh := ring.Add(row.EventID, 0)
	if covered {
		s.coveredN.Add(1)
		return nil
	}
	if !fresh {
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
