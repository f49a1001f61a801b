package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mercato-platform/mercato/"

// domain packages hold the platform's rules. They see ports (their own
// interfaces), event contracts and each other, never an engine.
var domain = []string{
	"internal/catalog", "internal/dedup", "internal/event", "internal/idempotency", "internal/inventory",
	"internal/lake", "internal/money", "internal/orders", "internal/outbox", "internal/payments",
	"internal/pricing", "internal/replenishment", "internal/reports", "internal/retry",
	"internal/reviews", "internal/sentiment",
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; run from internal/archtest", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(path, module) }

// TestOnlyBusImportsKafkaClient: every Kafka client Mercato opens is built in
// internal/bus, so connection settings (TLS, SASL) and topic prefixes live in
// one place.
func TestOnlyBusImportsKafkaClient(t *testing.T) {
	for _, p := range list(t) {
		if rel(p.ImportPath) == "internal/bus" {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/twmb/franz-go") {
				t.Errorf("%s imports %s; only internal/bus may", rel(p.ImportPath), imp)
			}
		}
	}
}

// TestDomainPackagesImportNoEngine: domain packages import no adapter, no
// wiring (app), no HTTP layer and no Kafka client. (They may use bus's
// Record and headers: the outbox relay hands records to a Producer port.)
func TestDomainPackagesImportNoEngine(t *testing.T) {
	isDomain := map[string]bool{}
	for _, d := range domain {
		isDomain[d] = true
	}
	found := 0
	for _, p := range list(t) {
		name := rel(p.ImportPath)
		if !isDomain[name] {
			continue
		}
		found++
		for _, imp := range p.Imports {
			r := rel(imp)
			switch {
			case strings.HasPrefix(r, "internal/adapters/"), r == "internal/app", r == "internal/httpapi",
				strings.HasPrefix(imp, "github.com/twmb/franz-go"):
				t.Errorf("domain package %s imports %s", name, r)
			}
		}
	}
	if found != len(domain) {
		t.Errorf("found %d of the %d domain packages; update the list in this test", found, len(domain))
	}
}
