package app_test

import (
	"runtime"
	"testing"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/config"
)

// SpareProcs adds two Ps to GOMAXPROCS from the process's start once,
// however often it is called, for SQLite only, and leaves a GOMAXPROCS from
// the environment alone.
func TestSpareProcs(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(start)
	var pg config.Config
	pg.Store.DB = "postgres://u@127.0.0.1:1/db"
	if n, ok := app.SpareProcs(pg); ok || n != start {
		t.Fatalf("PostgreSQL: SpareProcs = %d, %v", n, ok)
	}
	var cfg config.Config
	cfg.DataDir = t.TempDir()
	n, ok := app.SpareProcs(cfg)
	if ok && (n != runtime.GOMAXPROCS(0) || n < 3) {
		t.Fatalf("SpareProcs = %d, GOMAXPROCS now %d", n, runtime.GOMAXPROCS(0))
	}
	if again, _ := app.SpareProcs(cfg); again != n {
		t.Fatalf("second call moved GOMAXPROCS from %d to %d", n, again)
	}
	t.Setenv("GOMAXPROCS", "3")
	if got, ok := app.SpareProcs(cfg); ok || got != runtime.GOMAXPROCS(0) {
		t.Fatalf("with GOMAXPROCS set: %d, %v", got, ok)
	}
}
