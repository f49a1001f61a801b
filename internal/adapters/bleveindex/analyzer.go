package bleveindex

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/registry"
	porter "github.com/blevesearch/go-porterstemmer"

	"github.com/mercato-platform/mercato/internal/sentiment"
)

// AnalyzerName is the Bleve analyzer (and tokenizer) that analyses review
// text and queries with sentiment.SearchTerms. Bleve keeps analyzers in a
// process-wide registry and records their names in the index mapping, so it
// is registered once at init and found again when an index is reopened.
const AnalyzerName = "mercato"

func init() {
	if err := registry.RegisterTokenizer(AnalyzerName, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return tokenizer{}, nil
	}); err != nil {
		panic(err) // a second registration under our name is a programming error
	}
}

// analyzerConfig is the custom analyzer added to every index mapping: our
// tokenizer alone, since SearchTerms already lowercases, stems and drops
// stopwords.
var analyzerConfig = map[string]any{"type": custom.Name, "tokenizer": AnalyzerName}

// tokenizer emits exactly the terms of sentiment.SearchTerms, each with the
// byte span of the word it came from so Bleve's highlighter can mark it.
type tokenizer struct{}

func (tokenizer) Tokenize(input []byte) analysis.TokenStream {
	return tokenize(string(input))
}

// tokenize analyses text. SearchTerms only fails when the Korean dictionary
// cannot load, which Open checks up front; should it fail anyway the text is
// indexed without terms rather than taking the process down.
func tokenize(text string) analysis.TokenStream {
	if !utf8.ValidString(text) {
		// SearchTerms repairs invalid UTF-8 the same way, so offsets stay
		// in step with the stored (repaired) text.
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	terms, err := sentiment.SearchTerms(text)
	if err != nil {
		return nil
	}
	// The same test SearchTerms makes to choose its Korean branch.
	if sentiment.Detect(text) != sentiment.LangKorean && !hasHangul(text) {
		// Exact word offsets for English. SearchTerms also cuts very long
		// text; should the replay ever disagree, the canonical terms win.
		if toks := englishTokens(text); len(toks) >= len(terms) && sameTerms(toks[:len(terms)], terms) {
			return toks[:len(terms)]
		}
	}
	return alignTerms(text, terms)
}

func sameTerms(toks analysis.TokenStream, terms []string) bool {
	for i, t := range toks {
		if string(t.Term) != terms[i] {
			return false
		}
	}
	return true
}

func hasHangul(s string) bool {
	for _, r := range s {
		if r >= 0xAC00 && r <= 0xD7A3 {
			return true
		}
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' }

// englishTokens replays SearchTerms' English branch (words of letters,
// digits and apostrophes, lowercased, stopwords dropped, Porter-stemmed)
// while keeping each word's offsets.
func englishTokens(text string) analysis.TokenStream {
	var out analysis.TokenStream
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		word := text[start:end]
		s, e := start, end
		start = -1
		// SearchTerms trims apostrophes after lowercasing; trim the span too.
		for s < e && text[s] == '\'' {
			s++
		}
		for e > s && text[e-1] == '\'' {
			e--
		}
		w := strings.Trim(strings.ToLower(word), "'")
		if w == "" || isStopword(w) {
			return
		}
		out = append(out, &analysis.Token{
			Term: []byte(porter.StemString(w)), Start: s, End: e,
			Position: len(out) + 1, Type: analysis.AlphaNumeric,
		})
	}
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(text))
	return out
}

// isStopword asks SearchTerms itself, so the stopword list lives in one place.
func isStopword(w string) bool {
	terms, err := sentiment.SearchTerms(w)
	return err == nil && len(terms) == 0
}

// span is a word of the text: its bytes and, lazily, its own terms.
type span struct {
	start, end int
	terms      []string
	analysed   bool
}

// alignTerms gives each of SearchTerms' terms for the whole text (the
// canonical analysis, used as is) the span of the word it came from, in
// order. Most terms are written in their word as is (배송 in 배송이, 좋 in
// 좋아요, shoe in shoes) and are found by a plain search; only the rest
// (빠르 in 빨라요) cost a kagome analysis of the nearby words, one at a time.
// Where even that fails the term keeps the current word's span: a highlight
// can then be a word off, a term is never wrong.
func alignTerms(text string, terms []string) analysis.TokenStream {
	words := splitWords(text)
	lower := make([]string, len(words))
	for i, ws := range words {
		lower[i] = strings.ToLower(text[ws.start:ws.end])
	}
	out := make(analysis.TokenStream, 0, len(terms))
	w, j := 0, 0 // current word, next unconsumed analysed term in it
	const lookahead = 3
	for _, term := range terms {
		found := -1
		for cw := w; cw < len(words) && cw <= w+lookahead; cw++ {
			if strings.Contains(lower[cw], term) {
				found = cw
				break
			}
		}
		if found >= 0 {
			if found != w {
				j = 0
			}
			w = found
		} else if cw, k := analysedMatch(text, words, w, j, lookahead, term); cw >= 0 {
			w, j = cw, k+1
		}
		s, e := len(text), len(text)
		if w < len(words) {
			s, e = narrow(text, words[w], term)
		}
		out = append(out, &analysis.Token{
			Term: []byte(term), Start: s, End: e,
			Position: len(out) + 1, Type: analysis.Ideographic,
		})
	}
	return out
}

// analysedMatch finds term among the analysed terms of words w..w+lookahead
// (from term j on in word w), analysing each word alone on first need.
func analysedMatch(text string, words []span, w, j, lookahead int, term string) (int, int) {
	for cw := w; cw < len(words) && cw <= w+lookahead; cw++ {
		ws := &words[cw]
		if !ws.analysed {
			ws.terms, _ = sentiment.SearchTerms(text[ws.start:ws.end])
			ws.analysed = true
		}
		from := 0
		if cw == w {
			from = j
		}
		for k := from; k < len(ws.terms); k++ {
			if ws.terms[k] == term {
				return cw, k
			}
		}
	}
	return -1, -1
}

// narrow marks just the term inside a Korean word when it is written there
// as is (배송 in 배송이, so the particle stays unmarked); otherwise the word
// without surrounding punctuation (빨라요 for 빠르).
func narrow(text string, ws span, term string) (int, int) {
	word := text[ws.start:ws.end]
	if hasHangul(term) {
		if i := strings.Index(word, term); i >= 0 {
			return ws.start + i, ws.start + i + len(term)
		}
	}
	s, e := 0, len(word)
	for s < e {
		r, n := utf8.DecodeRuneInString(word[s:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		s += n
	}
	for e > s {
		r, n := utf8.DecodeLastRuneInString(word[:e])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		e -= n
	}
	if s == e {
		return ws.start, ws.end
	}
	return ws.start + s, ws.start + e
}

// splitWords cuts text at white space.
func splitWords(text string) []span {
	var out []span
	start := -1
	for i, r := range text {
		if unicode.IsSpace(r) {
			if start >= 0 {
				out = append(out, span{start: start, end: i})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, span{start: start, end: len(text)})
	}
	return out
}
