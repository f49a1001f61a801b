package sqlstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/idempotency"
)

// threadsAtNice counts this process's threads whose nice value is nice
// (field 19 of /proc/self/task/<tid>/stat).
func threadsAtNice(t *testing.T, nice int) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended meanwhile
		}
		// The command name is in parentheses and may hold spaces; the
		// fields after it start with field 3 (state).
		fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
		if len(fields) > 16 {
			if v, err := strconv.Atoi(string(fields[16])); err == nil && v == nice {
				n++
			}
		}
	}
	return n
}

// The SQLite writer runs on one thread of its own at the nice value asked
// for, and writes work there. A raised nice value needs no privilege, so
// this part runs as any user; 7 is used by no other test. Once the store is
// closed, no thread keeps the value: as root (CI) the thread got its nice
// value back, otherwise it ended with the writer.
func TestWriterNiceAppliesToTheWriterThreadAlone(t *testing.T) {
	t.Parallel()
	const nice = 7
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "nice.db"), sqlstore.Options{WriterNice: nice})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriterPriority(); err != nil {
		t.Fatalf("WriterPriority = %v", err)
	}
	if n := threadsAtNice(t, nice); n != 1 {
		t.Fatalf("%d threads at nice %d, want the writer's alone", n, nice)
	}
	now := time.Now()
	if err := s.Settle(ctx, "c1", "k1", idempotency.Claim{Hash: "h", At: now, Expires: now.Add(time.Hour)}, 201, []byte("{}")); err != nil {
		t.Fatalf("writing through the writer: %v", err)
	}
	if ok, err := s.Exists(ctx, "c1", "k1"); !ok || err != nil {
		t.Fatalf("written key: exists %v, %v", ok, err)
	}
	s.Close()
	if os.Geteuid() != 0 {
		// Unprivileged, the thread cannot lower its nice value again and
		// ends with the writer; if that thread is the process's main
		// thread, Go parks it for good instead, still at nice 7.
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for threadsAtNice(t, nice) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a thread at nice %d outlived the closed store", nice)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWriterNiceOutOfRangeIsRefused(t *testing.T) {
	t.Parallel()
	for _, nice := range []int{-21, 20} {
		s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "nice.db"), sqlstore.Options{WriterNice: nice})
		if err == nil {
			s.Close()
			t.Fatalf("nice %d accepted", nice)
		}
	}
}
