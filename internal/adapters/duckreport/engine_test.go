package duckreport_test

import (
	"testing"

	"github.com/mercato-platform/mercato/internal/adapters/duckreport"
	"github.com/mercato-platform/mercato/internal/reports"
	"github.com/mercato-platform/mercato/internal/reporttest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	reporttest.Run(t, func(t *testing.T, root string) reports.Engine {
		e, err := duckreport.Open(root, duckreport.Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}
