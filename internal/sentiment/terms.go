package sentiment

import (
	"strings"
	"unicode"

	porter "github.com/blevesearch/go-porterstemmer"
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
		for _, m := range splitMorphemes(t.Tokenize(text)) {
			if !searchPOS[m.pos] {
				continue
			}
			lemma := strings.ToLower(m.lemma)
			if m.pos == "SL" {
				if englishStopwords[lemma] {
					continue
				}
				lemma = porter.StemString(lemma)
			}
			out = append(out, lemma)
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

func hasHangul(s string) bool {
	for _, r := range s {
		if isHangulSyllable(r) {
			return true
		}
	}
	return false
}
