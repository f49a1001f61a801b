package sentiment

import (
	"strings"
	"unicode"

	porter "github.com/blevesearch/go-porterstemmer"
	"github.com/ikawaha/kagome/v2/tokenizer"
)

// TermWord is a search term with the word it came from, as written: a
// person reads "빨라요" or "quickly" where the index keeps 빠르 or quickli.
type TermWord struct {
	Term string
	Word string
}

// TermWords analyses text as SearchTerms does and gives each term the word
// it was written as. A Korean noun, adverb or foreign word is its own
// surface; a verb or adjective (or a root, as in 깔끔하다) is written with
// its suffixes and endings in the same word (좋았어요, 깔끔해요) but not its
// particles. An English word is its lowercase form before stemming.
func TermWords(text string) ([]TermWord, error) {
	text = truncate(text)
	if Detect(text) == LangKorean || hasHangul(text) {
		t, err := koreanTokenizer()
		if err != nil {
			return nil, err
		}
		return koreanTermWords(t.Tokenize(text)), nil
	}
	var out []TermWord
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		if w == "" || englishStopwords[w] {
			continue
		}
		out = append(out, TermWord{Term: porter.StemString(w), Word: w})
	}
	return out, nil
}

// koreanTermWords yields SearchTerms's Korean terms, each with its word.
func koreanTermWords(tokens []tokenizer.Token) []TermWord {
	var out []TermWord
	for _, u := range latinRuns(tokens) {
		if u.latin != "" {
			if w := strings.ToLower(u.latin); !englishStopwords[w] {
				out = append(out, TermWord{Term: porter.StemString(w), Word: w})
			}
			continue
		}
		i, tok := u.i, tokens[u.i]
		f := tok.Features()
		if len(f) == 0 || f[0] == "SP" {
			continue
		}
		// The token's morphemes, as splitMorphemes makes them.
		ms := splitMorphemes(tokens[i : i+1])
		for j, m := range ms {
			if !searchPOS[m.pos] {
				continue
			}
			term := strings.ToLower(m.lemma)
			word := tok.Surface
			// A predicate (or root) keeps what follows it in the token and
			// the suffixes and endings right after it in the same word.
			if predicateStem(m.pos) && j == 0 {
				word = tok.Surface + endings(tokens[i+1:], tok.End)
			} else if len(ms) > 1 && !predicateStem(m.pos) {
				word = m.lemma // a noun inside a compound token stands alone
			}
			out = append(out, TermWord{Term: term, Word: word})
		}
	}
	return out
}

func predicateStem(pos string) bool { return pos == "VV" || pos == "VA" || pos == "XR" }

// endings is the text of the tokens that continue a predicate's word right
// after end (no space between): derivational suffixes (하, 스럽), pre-final
// and final endings, and the copula's endings; a particle or anything else
// ends it.
func endings(tokens []tokenizer.Token, end int) string {
	var b strings.Builder
	for _, tok := range tokens {
		f := tok.Features()
		if tok.Start != end || len(f) == 0 {
			break
		}
		pos := f[0]
		if !(strings.HasPrefix(pos, "E") || strings.HasPrefix(pos, "XS") || strings.HasPrefix(pos, "VX") || strings.HasPrefix(pos, "VCP")) {
			break
		}
		b.WriteString(tok.Surface)
		end = tok.End
	}
	return b.String()
}
