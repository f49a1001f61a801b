package esindex

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The client's root package and typed API cost minutes of cold build; the
// adapter speaks esapi over elastictransport only.
func TestNoTypedAPI(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "github.com/elastic/go-elasticsearch/v8" || strings.Contains(path, "/typedapi") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
