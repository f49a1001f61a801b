package event_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mercato-platform/mercato/internal/event"
)

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes to an
// envelope that decodes to the same value.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"01J","type":"t","source":"s","time":"2026-11-25T10:00:00Z","subject":"SKU-1","data":{},"schema_version":1}`))
	f.Add([]byte(`{"id":"a","type":"purchase","time":"2026-11-25T10:00:00+09:00","subject":"무선","data":[1,2,{"x":null}],"schema_version":1}`))
	f.Add([]byte(`{"id":"x\"<1>","type":"t&","source":"\u0001","time":"2026-11-25T10:00:00.123456789Z","subject":"s","data":{ "a" : "<b>&\u2028", "n": 1.50 },"schema_version":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := event.Decode(b)
		if err != nil {
			return
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatalf("accepted envelope does not encode: %v", err)
		}
		e2, err := event.Decode(out)
		if err != nil {
			t.Fatalf("re-encoded envelope rejected: %v\n%s", err, out)
		}
		out2, _ := e2.Encode()
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
		}
		// Encode writes what json.Marshal writes, except that it does not
		// HTML-escape inside the data (the same JSON value either way).
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		if !bytes.ContainsAny(e.Data, "<>&\u2028\u2029") && !bytes.Equal(out, want) {
			t.Fatalf("Encode differs from json.Marshal:\n%s\n%s", out, want)
		}
		var got, exp any
		if json.Unmarshal(out, &got) != nil || json.Unmarshal(want, &exp) != nil || !reflect.DeepEqual(got, exp) {
			t.Fatalf("Encode and json.Marshal disagree:\n%s\n%s", out, want)
		}
	})
}
