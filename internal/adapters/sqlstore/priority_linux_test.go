package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/idempotency"
)

// threadNices returns the nice value of each of this process's threads
// (field 19 of /proc/self/task/<tid>/stat), by thread id.
func threadNices(t *testing.T) map[string]int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended meanwhile
		}
		// The command name is in parentheses and may hold spaces; the
		// fields after it start with field 3 (state).
		fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
		if len(fields) > 16 {
			if v, err := strconv.Atoi(string(fields[16])); err == nil {
				out[filepath.Base(filepath.Dir(path))] = v
			}
		}
	}
	return out
}

// threadsAtNice counts this process's threads at a nice value.
func threadsAtNice(t *testing.T, nice int) int {
	n := 0
	for _, v := range threadNices(t) {
		if v == nice {
			n++
		}
	}
	return n
}

// The SQLite writer runs on one thread of its own, its nice value adjusted
// by the amount asked for, and writes work there; threads Go starts under
// load keep the process's value. A raised nice value needs no privilege, so
// this part runs as any user; +7 is used by no other test. Once the store is
// closed, no thread keeps the value: as root (CI) the thread got its value
// back, otherwise it ended with the writer.
func TestWriterNiceAppliesToTheWriterThreadAlone(t *testing.T) {
	t.Parallel()
	runtime.LockOSThread()
	base := threadNices(t)[strconv.Itoa(syscall.Gettid())] // the process's value
	runtime.UnlockOSThread()
	if base > 12 {
		t.Skipf("the process runs at nice %d: no room for +7", base)
	}
	nice := base + 7
	// A thread left at +7 by an earlier run (unprivileged, see below).
	left := threadsAtNice(t, nice)
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "nice.db"), sqlstore.Options{WriterNice: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriterPriority(); err != nil {
		t.Fatalf("WriterPriority = %v", err)
	}
	if n := threadsAtNice(t, nice) - left; n != 1 {
		t.Fatalf("%d threads at nice %d, want the writer's alone", n, nice)
	}
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i)
			if _, err := s.Settle(ctx, "c1", key, idempotency.Claim{Hash: "h", At: now, Expires: now.Add(time.Hour)}, 201, []byte("{}")); err != nil {
				errs <- fmt.Errorf("writing through the writer: %w", err)
				return
			}
			if ok, err := s.Exists(ctx, "c1", key); !ok || err != nil {
				errs <- fmt.Errorf("written key %s: exists %v, %v", key, ok, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := threadsAtNice(t, nice) - left; n != 1 {
		t.Fatalf("after concurrent writes, %d threads at nice %d, want the writer's alone", n, nice)
	}
	s.Close()
	if os.Geteuid() != 0 {
		// Unprivileged, the thread cannot lower its nice value again and
		// ends with the writer; if that thread is the process's main
		// thread, Go parks it for good instead, still at +7.
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for threadsAtNice(t, nice) != left {
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
