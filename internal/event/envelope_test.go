package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 10, 0, 0, 123000, time.FixedZone("KST", 9*3600))
	e, err := event.New("purchase", "mercato/orders", "SKU-1", at, map[string]any{"qty": 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Type != "purchase" || !got.Time.Equal(at) || got.Subject != "SKU-1" || string(got.Data) != `{"qty":2}` || got.SchemaVersion != 1 {
		t.Errorf("round trip = %+v", got)
	}
	var data struct{ Qty int }
	if err := got.DecodeData(&data); err != nil || data.Qty != 2 {
		t.Errorf("DecodeData = %+v, %v", data, err)
	}
}

func TestIDsAreUniqueAndSortable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := event.NewID()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if len(id) != 26 {
			t.Fatalf("id %q is not a ULID", id)
		}
		if id[:10] < prev {
			t.Fatalf("id time prefix went backwards: %s < %s", id[:10], prev)
		}
		prev = id[:10]
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := `{"id":"01J","type":"t","source":"s","time":"2026-11-25T10:00:00Z","subject":"SKU-1","data":{},"schema_version":1}`
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "EOF"},
		{"not json", `hello`, "invalid character"},
		{"array", `[]`, "cannot unmarshal"},
		{"unknown field", strings.Replace(valid, `"id"`, `"extra":1,"id"`, 1), "unknown field"},
		{"missing id", strings.Replace(valid, `"id":"01J",`, ``, 1), "id must be"},
		{"missing type", strings.Replace(valid, `"type":"t",`, ``, 1), "type must be"},
		{"missing time", strings.Replace(valid, `"time":"2026-11-25T10:00:00Z",`, ``, 1), "time is required"},
		{"bad time", strings.Replace(valid, `2026-11-25T10:00:00Z`, `yesterday`, 1), "cannot parse"},
		{"missing subject", strings.Replace(valid, `"subject":"SKU-1",`, ``, 1), "subject must be"},
		{"missing data", strings.Replace(valid, `"data":{},`, ``, 1), "data must be"},
		{"null data", strings.Replace(valid, `"data":{}`, `"data":null`, 1), "data must be"},
		{"future schema", strings.Replace(valid, `"schema_version":1`, `"schema_version":2`, 1), "not supported"},
		{"zero schema", strings.Replace(valid, `"schema_version":1`, `"schema_version":0`, 1), "not supported"},
		{"wrong type", strings.Replace(valid, `"schema_version":1`, `"schema_version":"1"`, 1), "cannot unmarshal"},
		{"trailing", valid + `{}`, "trailing data"},
		{"huge", `{"id":"` + strings.Repeat("x", event.MaxSize) + `"}`, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Decode([]byte(tt.in))
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := event.Decode([]byte(valid)); err != nil {
		t.Fatalf("valid envelope rejected: %v", err)
	}
}

func TestTopicsHaveDLQs(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, s := range event.Topics() {
		names[s.Name] = true
	}
	for _, s := range event.Topics() {
		if !strings.HasSuffix(s.Name, event.DLQSuffix) && !names[s.Name+event.DLQSuffix] {
			t.Errorf("topic %s has no dead-letter topic", s.Name)
		}
	}
	for _, want := range []string{event.TopicPurchases, event.TopicInventory, event.TopicOrders, event.TopicPayments, event.TopicPrices,
		event.TopicPricingRules, event.TopicAlerts, event.TopicPurchaseOrders, event.TopicReviews} {
		if !names[want] {
			t.Errorf("architecture topic %s missing", want)
		}
	}
}

func TestDecodeDataIgnoresNewFields(t *testing.T) {
	t.Parallel()
	e, _ := event.New("purchase", "s", "SKU-1", time.Now(), map[string]any{"qty": 2, "added_later": "x"})
	var d struct{ Qty int }
	if err := e.DecodeData(&d); err != nil || d.Qty != 2 {
		t.Fatalf("DecodeData = %+v, %v", d, err)
	}
	var wrong struct{ Qty string }
	if err := e.DecodeData(&wrong); !errors.Is(err, event.ErrMalformed) {
		t.Fatalf("wrong type: %v", err)
	}
}

func BenchmarkEncode(b *testing.B) {
	e, err := event.New("order.paid", "mercato/orders", "ord_01J", time.Now(), map[string]any{
		"order_id": "ord_01J", "customer_id": "c-42", "total": 129000, "currency": "KRW",
		"items": []map[string]any{{"sku": "SKU-1", "quantity": 2, "unit_price": 64500}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
