package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// The embedded chart library is the version package.json pins, and its
// licence travels with it.
func TestVendoredAssetsMatchPackageJSON(t *testing.T) {
	raw, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	version := pkg.Dependencies["uplot"]
	if version == "" {
		t.Fatal("package.json pins no uplot version")
	}
	js, err := fs.ReadFile(Static, "static/vendor/uplot/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js[:min(len(js), 200)]), "(v"+version+")") {
		t.Errorf("embedded uPlot is not v%s (run make web-vendor): %.80s", version, js)
	}
	lic, err := fs.ReadFile(Static, "static/vendor/uplot/LICENSE")
	if err != nil || !strings.Contains(string(lic), "MIT License") {
		t.Errorf("uPlot licence not embedded: %v", err)
	}
	for _, f := range []string{"static/index.html", "static/console.js", "static/console.css", "static/vendor/uplot/uPlot.min.css"} {
		if _, err := fs.Stat(Static, f); err != nil {
			t.Error(err)
		}
	}
}
