package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// bench orders --watchers holds event streams open during the run and
// reports what they received: here the products it creates and the orders,
// relayed from the outbox.
func TestBenchOrdersWatchers(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	// Three seconds: under a loaded CI machine with -race the first events
	// reach the streams a second or more after the process starts (relay,
	// then the live feed's reader); a one-second run once saw none.
	args := []string{"bench", "orders", "--clients", "2", "--duration", "3s", "--skus", "5", "--roles", "api,outbox-relay", "--watchers", "3"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("bench exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var n, events, reconnects, failed int
	if k, _ := fmt.Sscanf(lines[len(lines)-1], "watchers: %d event streams received %d events (%d reconnects after the server dropped a stream, %d failed connects)",
		&n, &events, &reconnects, &failed); k != 4 || n != 3 || events < 3 || failed != 0 {
		t.Fatalf("bench printed:\n%s", out.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"bench", "orders", "--watchers", "-1"}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "--watchers") {
		t.Errorf("--watchers -1: exit %d, %s", code, errb.String())
	}
}
