package sentiment

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRetrainReproducesCommittedModel retrains from the data beside the
// project and checks the result is the committed model, byte for byte, so the
// model file can always be traced to `mercato sentiment train`. Training takes
// about five seconds on two cores, so it runs in full. Without the NSMC sample
// or npm it is skipped loudly, except in CI, which has both.
func TestRetrainReproducesCommittedModel(t *testing.T) {
	t.Parallel()
	nsmc := filepath.Join("..", "..", "..", "shared", "data", "nsmc-sample")
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("CI has the training data, but: "+format, args...)
		}
		t.Skipf("SKIPPED: cannot retrain the sentiment model: "+format, args...)
	}
	if _, err := os.Stat(filepath.Join(nsmc, "train.tsv")); err != nil {
		missing("NSMC sample not found (%v)", err)
	}
	cache := DefaultNPMCacheDir()
	if _, err := os.Stat(filepath.Join(cache, "node_modules", "sentiment")); err != nil {
		if _, err := exec.LookPath("npm"); err != nil {
			missing("npm not installed and %s has no UCI package", cache)
		}
	}
	m, rep, err := Train(context.Background(), TrainOptions{NSMCDir: nsmc, NPMCacheDir: cache})
	if err != nil {
		missing("%v", err)
	}
	for _, s := range rep.Sets {
		t.Logf("%-30s n=%-6d accuracy=%.4f macro-F1=%.4f", s.Name, s.Metrics.N, s.Metrics.Accuracy, s.Metrics.MacroF1)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), embeddedModel) {
		t.Fatalf("retrained model (%d bytes) differs from model/sentiment.model.gz (%d bytes); run `go run ./cmd/mercato sentiment train` and commit the result", buf.Len(), len(embeddedModel))
	}
}
