package sentiment

import (
	"strings"
	"unicode"

	porter "github.com/blevesearch/go-porterstemmer"
	"github.com/ikawaha/kagome/v2/tokenizer"
)

// searchPOS are the Korean tags whose lemmas make good search terms: nouns,
// verbs, adjectives, roots, general adverbs and foreign words.
var searchPOS = map[string]bool{"NNG": true, "NNP": true, "VV": true, "VA": true, "XR": true, "MAG": true, "SL": true, "SN": true}

// englishStopwords are too common to search for.
var englishStopwords = map[string]bool{
	"a": true, "an": true, "the": true, "and": true, "or": true, "but": true, "is": true, "are": true, "was": true, "were": true,
	"be": true, "been": true, "it": true, "its": true, "this": true, "that": true, "to": true, "of": true, "in": true, "on": true,
	"for": true, "with": true, "as": true, "at": true, "by": true, "i": true, "my": true, "me": true, "we": true, "you": true,
	"they": true, "he": true, "she": true, "so": true, "very": true, "too": true, "just": true, "have": true, "has": true, "had": true,
}

// SearchTerms analyses text into the terms reviews are indexed and searched
// by: Korean lemmas from kagome's mecab-ko-dic analysis ("배송이 빨라요" →
// 배송, 빠르), so a search for 배송 finds every inflection and particle;
// English lowercase Porter stems without stopwords ("Arrived quickly" →
// arriv, quickli). Order follows the text; duplicates are kept (term frequency).
func SearchTerms(text string) ([]string, error) {
	text = truncate(text)
	var out []string
	if Detect(text) == LangKorean || hasHangul(text) {
		t, err := koreanTokenizer()
		if err != nil {
			return nil, err
		}
		tokens := t.Tokenize(text)
		for _, u := range latinRuns(tokens) {
			if u.latin != "" {
				if w := strings.ToLower(u.latin); !englishStopwords[w] {
					out = append(out, porter.StemString(w))
				}
				continue
			}
			for _, m := range splitMorphemes(tokens[u.i : u.i+1]) {
				if searchPOS[m.pos] {
					out = append(out, strings.ToLower(m.lemma))
				}
			}
		}
		return out, nil
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		if w == "" || englishStopwords[w] {
			continue
		}
		out = append(out, porter.StemString(w))
	}
	return out, nil
}

// unit is one token of a Korean analysis, or a whole run of adjacent
// foreign-letter (SL) tokens: mecab-ko-dic cuts an unknown Latin word at
// letters it knows ("great" → grea + t), and a search term is the word.
type unit struct {
	i     int    // the token, when latin is empty
	latin string // the joined run
}

func latinRuns(tokens []tokenizer.Token) []unit {
	isSL := func(t tokenizer.Token) bool {
		f := t.Features()
		return len(f) > 0 && f[0] == "SL"
	}
	var out []unit
	for i := 0; i < len(tokens); i++ {
		if !isSL(tokens[i]) {
			out = append(out, unit{i: i})
			continue
		}
		var b strings.Builder
		b.WriteString(tokens[i].Surface)
		for i+1 < len(tokens) && isSL(tokens[i+1]) && tokens[i+1].Start == tokens[i].End {
			i++
			b.WriteString(tokens[i].Surface)
		}
		out = append(out, unit{i: i, latin: b.String()})
	}
	return out
}

func hasHangul(s string) bool {
	for _, r := range s {
		if isHangulSyllable(r) {
			return true
		}
	}
	return false
}
