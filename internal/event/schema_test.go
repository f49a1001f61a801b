package event_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"

	"github.com/mercato-platform/mercato/internal/event"
)

// The JSON Schemas in docs/events/ are generated from event.Contracts();
// `go test ./internal/event -run TestSchemas -update` writes them.
var update = flag.Bool("update", false, "rewrite docs/events/ from event.Contracts()")

const schemaDir = "../../docs/events"

// schemaOf is the schema of a whole record of type c.Type: the envelope with
// c's payload as data.
func schemaOf(c event.Contract) ([]byte, error) {
	r := jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true}
	data := r.Reflect(c.Data)
	data.Version, data.ID = "", ""
	doc := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://mercato-platform.github.io/mercato/events/" + c.Type + ".schema.json",
		"title":                c.Type,
		"description":          fmt.Sprintf("A %s record on %s: the envelope every topic carries, with this type's data.", c.Type, c.Topic),
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id", "type", "source", "time", "subject", "data", "schema_version"},
		"properties": map[string]any{
			"id":             map[string]any{"type": "string", "minLength": 1, "description": "unique per event; consumers deduplicate on it"},
			"type":           map[string]any{"const": c.Type},
			"source":         map[string]any{"type": "string", "minLength": 1},
			"time":           map[string]any{"type": "string", "format": "date-time", "description": "event time"},
			"subject":        map[string]any{"type": "string", "minLength": 1, "description": "the Kafka key"},
			"schema_version": map[string]any{"const": event.SchemaVersion},
			"data":           data,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func index() []byte {
	var b strings.Builder
	b.WriteString("# Event contracts\n\n")
	b.WriteString("Every record on a Mercato topic is a JSON envelope (`id`, `type`, `source`, `time`, `subject`, `data`, `schema_version`).\n")
	b.WriteString("The payload types are defined once, in `internal/event/payloads.go`; the schemas here are generated from them by\n")
	b.WriteString("`go test ./internal/event -run TestSchemas -update`, and `internal/app` checks records written by a running platform against them.\n\n")
	b.WriteString("| type | topic | schema |\n|---|---|---|\n")
	for _, c := range event.Contracts() {
		fmt.Fprintf(&b, "| `%s` | `%s` | [%s.schema.json](%s.schema.json) |\n", c.Type, c.Topic, c.Type, c.Type)
	}
	return []byte(b.String())
}

func TestSchemasUpToDate(t *testing.T) {
	want := map[string][]byte{"README.md": index()}
	for _, c := range event.Contracts() {
		b, err := schemaOf(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		want[c.Type+".schema.json"] = b
	}
	if *update {
		if err := os.MkdirAll(schemaDir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(schemaDir, "*"))
		for _, f := range old {
			if _, ok := want[filepath.Base(f)]; !ok {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(schemaDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	have, _ := filepath.Glob(filepath.Join(schemaDir, "*"))
	if len(have) != len(want) {
		t.Errorf("docs/events has %d files, the contracts make %d; run go test ./internal/event -run TestSchemas -update", len(have), len(want))
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(schemaDir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("docs/events/%s is stale; run go test ./internal/event -run TestSchemas -update", name)
		}
	}
}

func TestContractsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range event.Contracts() {
		if seen[c.Type] {
			t.Errorf("type %s listed twice", c.Type)
		}
		seen[c.Type] = true
		if got, ok := event.ContractOf(c.Type); !ok || got.Topic != c.Topic {
			t.Errorf("ContractOf(%s) = %+v, %v", c.Type, got, ok)
		}
	}
}
