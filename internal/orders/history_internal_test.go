package orders

import (
	"fmt"
	"testing"
	"time"
)

// An order stored before its events were kept is told from its record.
func TestRecordTimeline(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		status Status
		want   string
	}{
		{StatusPending, "[created]"},
		{StatusReserved, "[created reserved]"},
		{StatusPaid, "[created reserved paid]"},
		{StatusPaymentFailed, "[created reserved payment_failed]"},
		{StatusCancelled, "[created reserved cancelled refunded]"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			o := Order{ID: "ord_1", Status: tt.status, Items: []Line{{SKU: "A", Quantity: 2, UnitPrice: 100}}, Total: 200,
				CreatedAt: created, UpdatedAt: created.Add(time.Second)}
			var types []string
			for _, e := range recordTimeline(o) {
				if e.Detail == "" || e.At.Before(created) {
					t.Errorf("entry %+v", e)
				}
				types = append(types, e.Type)
			}
			if fmt.Sprint(types) != tt.want {
				t.Errorf("timeline = %v, want %s", types, tt.want)
			}
		})
	}
}
