package redisinv_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkReserve: reservations/s and latency through Redis admission plus
// the SQLite ledger (synchronous=FULL, group commit).
func BenchmarkReserve(b *testing.B) {
	addr := testenv.Redis(b)
	for _, items := range []int{1, 3} {
		for _, callers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("items=%d/callers=%d", items, callers), func(b *testing.B) {
				inventorytest.BenchReserve(b, func(tb testing.TB) inventorytest.Env {
					return newFixture(tb, addr, 1).env()
				}, items, callers)
			})
		}
	}
}

// BenchmarkRedisCeiling runs redis-benchmark on the same kind of server:
// EVAL of a trivial script and INCR, the ceiling the Lua path compares to.
func BenchmarkRedisCeiling(b *testing.B) {
	bin := testenv.RequireBinary(b, "redis-benchmark")
	addr := testenv.Redis(b)
	host, port, _ := strings.Cut(addr, ":")
	for _, c := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", c), func(b *testing.B) {
			n := fmt.Sprint(max(b.N, 1000))
			out, err := exec.Command(bin, "-h", host, "-p", port, "-n", n, "-c", fmt.Sprint(c), "-q", "-t", "incr").CombinedOutput()
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			eval, err := exec.Command(bin, "-h", host, "-p", port, "-n", n, "-c", fmt.Sprint(c), "-q", "EVAL", "return 1", "0").CombinedOutput()
			if err != nil {
				b.Fatalf("%v: %s", err, eval)
			}
			b.Logf("INCR: %s EVAL: %s", strings.TrimSpace(lastLine(out)), strings.TrimSpace(lastLine(eval)))
		})
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(b), "\r", "\n")), "\n")
	return lines[len(lines)-1]
}
