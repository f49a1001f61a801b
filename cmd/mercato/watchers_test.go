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
	var n, sample, events, skipped, reconnects, failed int
	if k, _ := fmt.Sscanf(lines[len(lines)-1], "watchers: %d event streams (sample %d) received %d events and %d counted as skipped (%d reconnects after the server dropped a stream, %d failed connects)",
		&n, &sample, &events, &skipped, &reconnects, &failed); k != 6 || n != 3 || sample != 10 || events < 3 || failed != 0 {
		t.Fatalf("bench printed:\n%s", out.String())
	}
	errb.Reset()
	for _, bad := range [][]string{{"--watchers", "-1"}, {"--watchers", "2", "--watch-sample", "1001"}} {
		errb.Reset()
		if code := run(context.Background(), append([]string{"bench", "orders"}, bad...), &out, &errb); code != exitConfig || !strings.Contains(errb.String(), bad[len(bad)-2]) {
			t.Errorf("%v: exit %d, %s", bad, code, errb.String())
		}
	}
}
