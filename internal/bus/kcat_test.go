package bus_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// TestKcatSeesTopicsAndRecords checks the embedded broker with a Kafka
// client that is not franz-go: Debian's kcat (librdkafka).
func TestKcatSeesTopicsAndRecords(t *testing.T) {
	t.Parallel()
	kcat := testenv.RequireBinary(t, "kcat")
	b := testenv.Kafka(t, 2)
	c := testenv.BusClient(t, b.Addr(), "")
	if err := c.Publish(context.Background(), msg(t, event.TopicPurchases, "SKU-KCAT", 42)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", b.Addr(), "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	for _, s := range event.Topics() {
		if !strings.Contains(string(out), `topic "`+s.Name+`"`) {
			t.Errorf("kcat -L does not list %s", s.Name)
		}
	}
	out, err = exec.CommandContext(ctx, kcat, "-b", b.Addr(), "-C", "-t", event.TopicPurchases, "-o", "beginning", "-e", "-q", "-f", "%k %s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SKU-KCAT {") || !strings.Contains(string(out), `"n":42`) {
		t.Errorf("kcat consumed %q", out)
	}
}
