package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mercato-platform/mercato/internal/atomicfile"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// maxClassifyLine bounds one JSONL input line of `sentiment classify`. Reviews
// are at most 5,000 characters; a longer line is reported, not buffered.
const maxClassifyLine = 1 << 20

// runSentiment is `mercato sentiment train|eval|classify`.
func runSentiment(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		sentimentUsage(stderr)
		return exitConfig
	}
	switch args[0] {
	case "train":
		return runSentimentTrain(ctx, args[1:], stdout, stderr)
	case "eval":
		return runSentimentEval(args[1:], stdout, stderr)
	case "classify":
		return runSentimentClassify(ctx, args[1:], os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		sentimentUsage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "mercato sentiment: unknown subcommand %q\n", args[0])
	sentimentUsage(stderr)
	return exitConfig
}

func sentimentUsage(w io.Writer) {
	fmt.Fprintln(w, `Usage: mercato sentiment <subcommand> [flags]

Subcommands:
  train     rebuild the model from the NSMC sample, the UCI sentences (installed
            with npm into --npm-cache) and the project's shop reviews
  eval      print accuracy, macro-F1 and a confusion matrix per language for a
            labelled JSONL file ({"text","label"[,"split"]} lines)
  classify  read {"text": ...} JSONL lines on stdin, write
            {"text","lang","label","score"} lines on stdout, one per input line

Run 'mercato sentiment <subcommand> -h' for its flags.`)
}

// newSentimentFlags returns a flag set that reports to stderr and a --model
// flag shared by eval and classify.
func newSentimentFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mercato sentiment "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseSentimentFlags parses args; it returns the exit code to stop with, or
// -1 to go on.
func parseSentimentFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitConfig
	}
	return -1
}

func runSentimentTrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newSentimentFlags("train", stderr)
	nsmc := fs.String("nsmc", filepath.Join("..", "shared", "data", "nsmc-sample"), "directory with the NSMC sample's train.tsv and test.tsv")
	out := fs.String("out", filepath.Join("internal", "sentiment", "model", "sentiment.model.gz"), "model file to write")
	npmCache := fs.String("npm-cache", sentiment.DefaultNPMCacheDir(), "directory npm installs the UCI sentences package into, reused when present ($MERCATO_NPM_CACHE)")
	seed := fs.Uint64("seed", sentiment.DefaultSeed, "seed of the example order")
	method := fs.String("method", sentiment.MethodLogReg, "logreg or nb")
	if code := parseSentimentFlags(fs, args); code >= 0 {
		return code
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	m, rep, err := sentiment.Train(ctx, sentiment.TrainOptions{
		NSMCDir: *nsmc, NPMCacheDir: *npmCache, Seed: *seed, Method: *method, Logf: logf,
	})
	if err != nil {
		fmt.Fprintf(stderr, "mercato sentiment train: %v\n", err)
		return exitRuntime
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		fmt.Fprintf(stderr, "mercato sentiment train: %v\n", err)
		return exitRuntime
	}
	if err := atomicfile.Write(*out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		fmt.Fprintf(stderr, "mercato sentiment train: %v\n", err)
		return exitRuntime
	}
	fmt.Fprintf(stdout, "method %s; Korean fitted on %d, calibrated on %d; English fitted on %d, calibrated on %d\n",
		rep.Method, rep.TrainKorean, rep.CalibKorean, rep.TrainEnglish, rep.CalibEnglish)
	for _, s := range rep.Sets {
		fmt.Fprintf(stdout, "%-30s n=%-6d accuracy=%.4f macro-F1=%.4f ECE=%.4f\n", s.Name, s.Metrics.N, s.Metrics.Accuracy, s.Metrics.MacroF1, s.Metrics.ECE)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes) in %s\n", *out, buf.Len(), rep.Duration.Round(1e8))
	return exitOK
}

// loadSentimentModel returns the model in path, or the embedded one.
func loadSentimentModel(path string) (*sentiment.Model, error) {
	if path == "" {
		return sentiment.Default()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening model: %w", err)
	}
	defer f.Close()
	m, err := sentiment.Load(f)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", path, err)
	}
	return m, nil
}

func runSentimentEval(args []string, stdout, stderr io.Writer) int {
	fs := newSentimentFlags("eval", stderr)
	data := fs.String("data", "", "labelled JSONL file: {\"text\",\"label\"[,\"split\"]} lines (required)")
	split := fs.String("split", "", "evaluate only lines of this split (train or test); empty means every line")
	modelPath := fs.String("model", "", "model file (default: the embedded model)")
	if code := parseSentimentFlags(fs, args); code >= 0 {
		return code
	}
	if *data == "" {
		fmt.Fprintln(stderr, "mercato sentiment eval: --data is required")
		return exitConfig
	}
	if *split != "" && *split != sentiment.SplitTrain && *split != sentiment.SplitTest {
		fmt.Fprintf(stderr, "mercato sentiment eval: --split must be %s or %s\n", sentiment.SplitTrain, sentiment.SplitTest)
		return exitConfig
	}
	f, err := os.Open(*data)
	if err != nil {
		fmt.Fprintf(stderr, "mercato sentiment eval: %v\n", err)
		return exitRuntime
	}
	examples, err := sentiment.ReadExamples(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "mercato sentiment eval: %s: %v\n", *data, err)
		return exitRuntime
	}
	if *split != "" {
		kept := examples[:0]
		for _, e := range examples {
			if e.Split == *split {
				kept = append(kept, e)
			}
		}
		examples = kept
	}
	if len(examples) == 0 {
		fmt.Fprintf(stderr, "mercato sentiment eval: %s has no examples to evaluate\n", *data)
		return exitRuntime
	}
	m, err := loadSentimentModel(*modelPath)
	if err != nil {
		fmt.Fprintf(stderr, "mercato sentiment eval: %v\n", err)
		return exitRuntime
	}
	sentiment.Eval(m, examples).Print(stdout)
	return exitOK
}

// classifyOutput is one line of `sentiment classify` output.
type classifyOutput struct {
	Text  string  `json:"text"`
	Lang  string  `json:"lang"`
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// classifyError stands in for the output of a line that could not be read, so
// output line N always answers input line N.
type classifyError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// runSentimentClassify answers every input line with one output line, in
// order. A malformed line (not a JSON object with a string "text") gets an
// {"line":N,"error":"..."} line in its place and processing goes on; the exit
// code is then 1, with a count on stderr, so pipelines keep their alignment
// and scripts still notice.
func runSentimentClassify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newSentimentFlags("classify", stderr)
	modelPath := fs.String("model", "", "model file (default: the embedded model)")
	if code := parseSentimentFlags(fs, args); code >= 0 {
		return code
	}
	m, err := loadSentimentModel(*modelPath)
	if err != nil {
		fmt.Fprintf(stderr, "mercato sentiment classify: %v\n", err)
		return exitRuntime
	}
	in := bufio.NewReaderSize(stdin, 64*1024)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	bad := 0
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "mercato sentiment classify: stopped at line %d: %v\n", n, err)
			return exitRuntime
		}
		line, readErr := readLine(in, maxClassifyLine)
		if errors.Is(readErr, io.EOF) && line == nil {
			break
		}
		if readErr != nil && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, errLineTooLong) {
			out.Flush()
			fmt.Fprintf(stderr, "mercato sentiment classify: reading line %d: %v\n", n, readErr)
			return exitRuntime
		}
		var res any
		if errors.Is(readErr, errLineTooLong) {
			res = classifyError{Line: n, Error: fmt.Sprintf("line longer than %d bytes", maxClassifyLine)}
		} else if text, err := decodeClassifyLine(line); err != nil {
			res = classifyError{Line: n, Error: err.Error()}
		} else {
			r := m.Classify(text)
			res = classifyOutput{Text: text, Lang: string(r.Lang), Label: r.Label, Score: r.Score}
		}
		if _, isErr := res.(classifyError); isErr {
			bad++
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "mercato sentiment classify: writing line %d: %v\n", n, err)
			return exitRuntime
		}
		if errors.Is(readErr, io.EOF) {
			break
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "mercato sentiment classify: writing output: %v\n", err)
		return exitRuntime
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "mercato sentiment classify: %d malformed input line(s), answered with {\"line\",\"error\"} lines\n", bad)
		return exitRuntime
	}
	return exitOK
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its newline. A line longer than max is
// skipped to its end and reported as errLineTooLong. At the end of input it
// returns the last unterminated line with io.EOF, or nil and io.EOF.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 {
			line = nil
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return []byte{}, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimRight(line, "\r"), io.EOF
		case err != nil:
			return nil, err
		}
		return bytes.TrimRight(line[:len(line)-1], "\r"), nil
	}
}

// decodeClassifyLine reads {"text": "..."} from one line; other fields are
// ignored so the output of another tool can be piped in as it is.
func decodeClassifyLine(line []byte) (string, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return "", errors.New("empty line; expected a JSON object with a \"text\" string")
	}
	var in struct {
		Text *string `json:"text"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&in); err != nil {
		return "", fmt.Errorf("not a JSON object with a \"text\" string: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return "", errors.New("trailing data after the JSON object")
	}
	if in.Text == nil {
		return "", errors.New("missing \"text\" string")
	}
	return *in.Text, nil
}
