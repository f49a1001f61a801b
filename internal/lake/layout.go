package lake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DateDir is the directory of one table's partition for one day.
func DateDir(root, table, date string) string {
	return filepath.Join(root, table, "date="+date)
}

// FileName names a sink file after the Kafka partition and the offset range
// of the records it was cut from, so a restarted sink knows which records
// the lake already holds.
func FileName(partition int32, from, to int64) string {
	return fmt.Sprintf("part-p%04d-%019d-%019d.parquet", partition, from, to)
}

// Range is the part of one Kafka partition a sink file covers.
type Range struct {
	Partition int32
	From, To  int64
}

// Contains reports whether offset o of partition p is inside r.
func (r Range) Contains(p int32, o int64) bool {
	return r.Partition == p && o >= r.From && o <= r.To
}

// ParseFileName reads the range from a sink file name; ok is false for
// other files (generated lakes, temporary files).
func ParseFileName(name string) (Range, bool) {
	var r Range
	if !strings.HasPrefix(name, "part-p") || !strings.HasSuffix(name, ".parquet") {
		return r, false
	}
	if n, err := fmt.Sscanf(name, "part-p%d-%d-%d.parquet", &r.Partition, &r.From, &r.To); n != 3 || err != nil || r.From > r.To {
		return Range{}, false
	}
	return r, true
}

// Dates lists the days a table has partitions for, oldest first.
func Dates(root, table string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, table))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing lake table %s: %w", table, err)
	}
	var out []string
	for _, e := range ents {
		d, ok := strings.CutPrefix(e.Name(), "date=")
		if !e.IsDir() || !ok {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d); err == nil {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

// File is one Parquet file of a partition.
type File struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// Files lists the Parquet files of one table's day, in name order.
func Files(root, table, date string) ([]File, error) {
	dir := DateDir(root, table, date)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing lake partition %s: %w", dir, err)
	}
	var out []File
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".parquet") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		out = append(out, File{Path: filepath.Join(dir, e.Name()), Size: info.Size(), ModTime: info.ModTime()})
	}
	return out, nil
}

// DaysBetween lists from..to inclusive as YYYY-MM-DD.
func DaysBetween(from, to string) ([]string, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, fmt.Errorf("date %q: want YYYY-MM-DD", from)
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return nil, fmt.Errorf("date %q: want YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("range %s..%s ends before it starts", from, to)
	}
	if t.Sub(f) > 366*24*time.Hour {
		return nil, fmt.Errorf("range %s..%s is longer than a year", from, to)
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out, nil
}
