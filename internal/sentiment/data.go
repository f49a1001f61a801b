package sentiment

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Example is one labelled review, in the shape of the project's JSONL files:
// {"text": ..., "label": "positive"|"negative", "split": "train"|"test"}.
type Example struct {
	Text  string `json:"text"`
	Label string `json:"label"`
	Split string `json:"split,omitempty"`
}

// Splits of a labelled set. Test examples are frozen: never trained or tuned on.
const (
	SplitTrain = "train"
	SplitTest  = "test"
)

//go:embed data/shop-reviews-ko.jsonl data/shop-reviews-en.jsonl
var shopReviews embed.FS

// ShopReviews returns the project's own shop reviews for a language (LangKorean
// or LangEnglish), both splits.
func ShopReviews(lang Lang) ([]Example, error) {
	name := "data/shop-reviews-" + string(lang) + ".jsonl"
	b, err := shopReviews.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	ex, err := ReadExamples(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return ex, nil
}

// ReadExamples reads labelled JSONL, one example a line; blank lines are
// skipped. An error names the line it is about.
func ReadExamples(r io.Reader) ([]Example, error) {
	var out []Example
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Example
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if e.Label != Positive && e.Label != Negative {
			return nil, fmt.Errorf("line %d: label %q is neither %q nor %q", n, e.Label, Positive, Negative)
		}
		if e.Split != "" && e.Split != SplitTrain && e.Split != SplitTest {
			return nil, fmt.Errorf("line %d: split %q is neither %q nor %q", n, e.Split, SplitTrain, SplitTest)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading examples: %w", err)
	}
	return out, nil
}

// ReadNSMC reads one file of the NSMC sample: a header, then tab-separated
// id, document, label (1 = positive) lines. Documents are taken as they are
// (they contain bare quotes, so this is not read as CSV); rows with an empty
// document are skipped.
func ReadNSMC(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening NSMC file: %w", err)
	}
	defer f.Close()
	var out []Example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue // header
		}
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if len(fields) != 3 || (fields[2] != "0" && fields[2] != "1") {
			return nil, fmt.Errorf("reading %s: line %d is not id, document, 0|1", path, n)
		}
		text := strings.TrimSpace(fields[1])
		if text == "" {
			continue
		}
		label := Negative
		if fields[2] == "1" {
			label = Positive
		}
		out = append(out, Example{Text: text, Label: label})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// uciPackage is the npm package that ships the UCI Sentiment Labelled
// Sentences (Amazon, Yelp, IMDB; 3,000 sentences, CC BY 4.0) as test fixtures.
const uciPackage = "sentiment@5.0.2"

// uciFixtures are the fixture files inside the package.
var uciFixtures = []string{"amazon.json", "imdb.json", "yelp.json"}

// EnsureUCI makes sure the npm package with the UCI sentences is installed in
// cacheDir, running `npm install --prefix cacheDir sentiment@5.0.2` when it is
// not, and returns the directory holding the fixture files.
func EnsureUCI(ctx context.Context, cacheDir string) (string, error) {
	dir := filepath.Join(cacheDir, "node_modules", "sentiment", "test", "fixtures")
	if haveFiles(dir, uciFixtures) {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating npm cache dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", cacheDir, "--no-audit", "--no-fund", "--ignore-scripts", uciPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s: %w: %s", uciPackage, err, bytes.TrimSpace(out))
	}
	if !haveFiles(dir, uciFixtures) {
		return "", fmt.Errorf("npm install %s did not provide %s", uciPackage, dir)
	}
	return dir, nil
}

func haveFiles(dir string, names []string) bool {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// ReadUCI reads the UCI sentences from the fixture directory and assigns each
// a split: a sentence is test when the FNV-1a hash of its text is 0 mod 5,
// about 20 %, the same on every machine. Duplicated sentences thus land in the
// same split.
func ReadUCI(dir string) ([]Example, error) {
	var out []Example
	for _, name := range uciFixtures {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading UCI fixture: %w", err)
		}
		var rows []struct {
			Text  string `json:"text"`
			Class int    `json:"class"`
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, fmt.Errorf("decoding UCI fixture %s: %w", name, err)
		}
		for _, r := range rows {
			text := strings.TrimSpace(r.Text)
			if text == "" {
				continue
			}
			e := Example{Text: text, Label: Negative, Split: SplitTrain}
			if r.Class == 1 {
				e.Label = Positive
			}
			if textHash(text)%5 == 0 {
				e.Split = SplitTest
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func textHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// splitOf filters examples by split.
func splitOf(ex []Example, split string) []Example {
	var out []Example
	for _, e := range ex {
		if e.Split == split {
			out = append(out, e)
		}
	}
	return out
}

// DefaultNPMCacheDir is where training installs the npm package with the UCI
// sentences when no directory is given: $MERCATO_NPM_CACHE, or mercato/npm in
// the user's cache directory.
func DefaultNPMCacheDir() string {
	if d := os.Getenv("MERCATO_NPM_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mercato", "npm")
	}
	return filepath.Join(os.TempDir(), "mercato-npm")
}
