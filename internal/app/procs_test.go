package app_test

import (
	"runtime"
	"testing"

	"github.com/mercato-platform/mercato/internal/app"
)

// SpareProcs doubles GOMAXPROCS from the process's start once, however often
// it is called, and leaves a GOMAXPROCS from the environment alone.
func TestSpareProcs(t *testing.T) {
	n, ok := app.SpareProcs()
	if ok && (n != runtime.GOMAXPROCS(0) || n < 2 || n%2 != 0) {
		t.Fatalf("SpareProcs = %d, GOMAXPROCS now %d", n, runtime.GOMAXPROCS(0))
	}
	if again, _ := app.SpareProcs(); again != n {
		t.Fatalf("second call moved GOMAXPROCS from %d to %d", n, again)
	}
	t.Setenv("GOMAXPROCS", "3")
	if got, ok := app.SpareProcs(); ok || got != runtime.GOMAXPROCS(0) {
		t.Fatalf("with GOMAXPROCS set: %d, %v", got, ok)
	}
}
