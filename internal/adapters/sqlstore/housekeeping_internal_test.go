package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Housekeeping's deletes find their rows through an index: a table scan on
// the one SQLite writer would stop every write for as long as it reads.
func TestHousekeepingQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, "sqlite", filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for query, index := range map[string]string{
		`SELECT scope, key FROM idempotency_keys WHERE expires_at < ? LIMIT ?`:                            "idempotency_keys_expiry",
		`SELECT id FROM reservations WHERE state <> 'held' AND updated_at < ? LIMIT ?`:                    "reservations_closed_updated",
		`SELECT event_id FROM demand_events WHERE at < ? LIMIT ?`:                                         "demand_events_at",
		`SELECT id FROM checkout_refusals WHERE at < ? LIMIT ?`:                                           "checkout_refusals_at",
		`SELECT id FROM reservations WHERE state = 'held' AND expires_at < ? ORDER BY expires_at LIMIT ?`: "reservations_held_expiry",
	} {
		rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query, time.Now().UnixMicro(), 1000)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX "+index) && !strings.Contains(got, "USING COVERING INDEX "+index) {
			t.Errorf("%s: plan %q does not use %s", query, got, index)
		}
	}
}
