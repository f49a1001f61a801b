package sentiment

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	ko "github.com/ikawaha/kagome-dict-ko"
	"github.com/ikawaha/kagome/v2/tokenizer"
)

// negPrefix marks a token inside a negation scope, so "안 좋아요" and "not
// good" become different features from "좋아요" and "good".
const negPrefix = "NEG_"

// maxFeatureRunes bounds the text a review contributes. Reviews are at most
// 5,000 characters; anything longer is cut rather than allowed to make one
// call arbitrarily slow.
const maxFeatureRunes = 8000

// koreanTokenizer loads the mecab-ko-dic dictionary once per process; it takes
// about a second and a few hundred MB of allocation, so only when Korean text
// is first seen. The kagome tokenizer is safe for concurrent use.
var koreanTokenizer = sync.OnceValues(func() (*tokenizer.Tokenizer, error) {
	t, err := tokenizer.New(ko.Dict(), tokenizer.OmitBosEos())
	if err != nil {
		return nil, fmt.Errorf("loading the Korean dictionary: %w", err)
	}
	return t, nil
})

// truncate cuts text to maxFeatureRunes runes and replaces invalid UTF-8.
func truncate(text string) string {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if utf8.RuneCountInString(text) <= maxFeatureRunes {
		return text
	}
	n := 0
	for i := range text {
		if n == maxFeatureRunes {
			return text[:i]
		}
		n++
	}
	return text
}

// koreanFeatures turns a Korean review into feature strings: morphemes
// (stem/POS) with negation scope, morpheme bigrams, Hangul character 2- and
// 3-grams over the text with spaces removed (so "배송빨라요" and "배송 빨라요"
// share most features) and emoticon tokens.
func koreanFeatures(text string) ([]string, error) {
	text = truncate(text)
	t, err := koreanTokenizer()
	if err != nil {
		return nil, err
	}
	feats := make([]string, 0, 64)
	feats = appendMorphemes(feats, t.Tokenize(text))
	feats = appendHangulNgrams(feats, text)
	feats = appendEmoticons(feats, text)
	return feats, nil
}

// morpheme is one analysed piece of a Korean review.
type morpheme struct {
	lemma, pos string
}

// contentPOS are the mecab-ko-dic tags whose lemmas carry sentiment: nouns,
// verbs, adjectives, adverbs, roots, interjections, determiners and foreign
// words. Particles and endings mostly carry grammar.
var contentPOS = map[string]bool{
	"NNG": true, "NNP": true, "VV": true, "VA": true, "VX": true, "MAG": true,
	"MM": true, "XR": true, "IC": true, "VCN": true, "SL": true, "XSA": true,
}

// predicatePOS are the tags a negation can apply to.
var predicatePOS = map[string]bool{"VV": true, "VA": true, "XR": true, "NNG": true, "VCN": true}

// splitMorphemes expands kagome tokens into morphemes, using the dictionary's
// decomposition of inflected forms ("빨라요" → 빠르/VA + 아요/EF) so a stem
// is the same however it is conjugated.
func splitMorphemes(tokens []tokenizer.Token) []morpheme {
	out := make([]morpheme, 0, len(tokens))
	for _, tok := range tokens {
		f := tok.Features()
		if len(f) == 0 {
			continue
		}
		pos := f[0]
		if pos == "SP" {
			continue
		}
		if len(f) > 7 && f[4] == "Inflect" && f[7] != "*" {
			for piece := range strings.SplitSeq(f[7], "+") {
				parts := strings.Split(piece, "/")
				if len(parts) >= 2 && parts[0] != "" {
					out = append(out, morpheme{lemma: parts[0], pos: parts[1]})
				}
			}
			continue
		}
		if i := strings.IndexByte(pos, '+'); i > 0 {
			pos = pos[:i]
		}
		out = append(out, morpheme{lemma: strings.ToLower(tok.Surface), pos: pos})
	}
	return out
}

// appendMorphemes adds morpheme features with negation scope:
//   - 안/못 before a predicate negate it ("안 좋아요" → NEG_좋);
//   - 지 않다 / 지 못하다 / 아니다 negate the predicate before them
//     ("좋지 않아요" → NEG_좋, "나쁘지 않아요" → NEG_나쁘);
//   - 없다 negates the noun before it ("문제 없어요" → NEG_문제).
//
// A sentence-final or clause-ending punctuation mark ends a pending scope.
func appendMorphemes(feats []string, tokens []tokenizer.Token) []string {
	ms := splitMorphemes(tokens)
	words := make([]string, 0, len(ms)) // content features, in order, for bigrams
	lastPredicate := -1                 // index in words of the last predicate
	lastNoun := -1                      // index in words of the last noun
	pendingNeg := false
	afterJi := false // a 지 ending seen since the last content morpheme
	for _, m := range ms {
		switch {
		case m.pos == "SF" || m.pos == "SC":
			pendingNeg = false
			lastPredicate, lastNoun = -1, -1
		case m.pos == "MAG" && (m.lemma == "안" || m.lemma == "못"):
			pendingNeg = true
			words = append(words, "neg")
		case (m.pos == "VX" || m.pos == "VV") && (m.lemma == "않" || m.lemma == "못하") && afterJi:
			if lastPredicate >= 0 && !strings.HasPrefix(words[lastPredicate], negPrefix) {
				words[lastPredicate] = negPrefix + words[lastPredicate]
			}
			words = append(words, "neg")
		case m.pos == "VCN":
			if lastPredicate >= 0 && !strings.HasPrefix(words[lastPredicate], negPrefix) {
				words[lastPredicate] = negPrefix + words[lastPredicate]
			}
			words = append(words, "neg")
		case m.pos == "VA" && m.lemma == "없":
			if lastNoun >= 0 && !strings.HasPrefix(words[lastNoun], negPrefix) {
				words[lastNoun] = negPrefix + words[lastNoun]
			}
			words = append(words, "없/VA")
		case m.pos == "XSV" || m.pos == "XSA":
			// 만족 + 스럽 / 하: the noun is the predicate a later 지 않다 negates.
			if lastNoun >= 0 && lastNoun == len(words)-1 {
				lastPredicate = lastNoun
			}
			if m.pos == "XSA" {
				words = append(words, m.lemma+"/XSA")
			}
		case contentPOS[m.pos]:
			w := m.lemma + "/" + m.pos
			if pendingNeg && predicatePOS[m.pos] {
				w = negPrefix + w
				pendingNeg = false
			}
			words = append(words, w)
			if m.pos == "NNG" || m.pos == "NNP" {
				lastNoun = len(words) - 1
			} else if predicatePOS[m.pos] {
				lastPredicate = len(words) - 1
			}
		}
		switch {
		case (m.pos == "EC" || m.pos == "EF") && strings.HasPrefix(m.lemma, "지"):
			afterJi = true
		case contentPOS[m.pos]:
			afterJi = false
		}
	}
	for i, w := range words {
		feats = append(feats, "m:"+w)
		if i > 0 {
			feats = append(feats, "b:"+words[i-1]+"|"+w)
		}
	}
	return feats
}

// isHangulSyllable reports whether r is a precomposed Hangul syllable.
func isHangulSyllable(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

// appendHangulNgrams adds character 2- and 3-grams of each run of Hangul
// syllables, with spaces inside the run ignored: spacing is the most common
// error in Korean reviews and should not change the features much.
//
// N-grams wholly inside a negated word are prefixed NEG_, like the morphemes:
// otherwise "좋아요" in "안 좋아요" would contribute its n-grams' positive
// weight unchanged and outvote the negation. A word is negated when it follows
// a separate 안 or 못, or when it ends in 지 (지는, 지도) and the next word
// starts with 않 or 못하/못해/못했.
func appendHangulNgrams(feats []string, text string) []string {
	negated := negatedWords(text)
	type char struct {
		r   rune
		neg bool
	}
	run := make([]char, 0, 64)
	flush := func() {
		for i := range run {
			for n := 2; n <= 3 && i+n <= len(run); n++ {
				gram := make([]rune, n)
				neg := true
				for k := range n {
					gram[k] = run[i+k].r
					neg = neg && run[i+k].neg
				}
				if neg {
					feats = append(feats, "c:"+negPrefix+string(gram))
				} else {
					feats = append(feats, "c:"+string(gram))
				}
			}
		}
		run = run[:0]
	}
	word, inWord := 0, false
	for _, r := range text {
		if unicode.IsSpace(r) {
			if inWord {
				word++
				inWord = false
			}
			continue
		}
		inWord = true
		if isHangulSyllable(r) {
			run = append(run, char{r, negated[word]})
		} else {
			flush()
		}
	}
	flush()
	return feats
}

// negatedWords marks which space-separated words of text are in a negation
// scope (see appendHangulNgrams).
func negatedWords(text string) []bool {
	words := strings.Fields(text)
	neg := make([]bool, len(words)+1)
	for i, w := range words {
		if i > 0 && (words[i-1] == "안" || words[i-1] == "못") {
			neg[i] = true
		}
		if i+1 < len(words) {
			next := words[i+1]
			if (strings.HasSuffix(w, "지") || strings.HasSuffix(w, "지는") || strings.HasSuffix(w, "지도")) &&
				(strings.HasPrefix(next, "않") || strings.HasPrefix(next, "못하") || strings.HasPrefix(next, "못해") || strings.HasPrefix(next, "못했")) {
				neg[i] = true
			}
		}
	}
	return neg
}

// emoticonClasses map characters that reviewers repeat to the token their
// run becomes: ㅋㅋㅋ, ㅎㅎ (laughing), ㅠㅠ/ㅜㅜ (crying), ㅡㅡ (annoyed),
// !!, ??, ^^ and ;;.
var emoticonClasses = map[rune]string{
	'ㅋ': "e:ㅋㅋ", 'ㅎ': "e:ㅎㅎ", 'ㅠ': "e:ㅠㅠ", 'ㅜ': "e:ㅠㅠ", 'ㅡ': "e:ㅡㅡ",
	'!': "e:!!", '?': "e:??", '^': "e:^^", ';': "e:;;", '.': "e:...",
}

// appendEmoticons adds one token per run of two or more emoticon characters
// of the same class (three for dots, since one or two are plain punctuation).
func appendEmoticons(feats []string, text string) []string {
	var cur string
	n := 0
	emit := func() {
		if cur == "" {
			return
		}
		if n >= 2 && (cur != "e:..." || n >= 3) {
			feats = append(feats, cur)
		} else if n == 1 && (cur == "e:ㅠㅠ" || cur == "e:ㅋㅋ") {
			feats = append(feats, cur)
		}
	}
	for _, r := range text {
		class := emoticonClasses[r]
		if class == cur && class != "" {
			n++
			continue
		}
		emit()
		cur, n = class, 1
	}
	emit()
	return feats
}

// englishNegators open a negation scope that lasts until punctuation or "but".
var englishNegators = map[string]bool{
	"not": true, "no": true, "never": true, "nothing": true, "nobody": true,
	"none": true, "nor": true, "neither": true, "cannot": true, "without": true,
	"hardly": true, "barely": true, "dont": true, "didnt": true, "doesnt": true,
	"isnt": true, "wasnt": true, "wont": true, "cant": true, "couldnt": true,
	"wouldnt": true, "shouldnt": true, "arent": true, "werent": true,
}

// englishFeatures turns an English review into lowercased words, their stems
// and their character 4-grams, with everything inside a negation scope
// (not/no/never/n't … up to punctuation or "but") prefixed NEG_, so "not
// good" is a different feature from "good".
//
// Word bigrams were measured and left out: with a few thousand English
// training sentences they cost a point of cross-validated shop accuracy
// (0.877 with, 0.886 without), while character 4-grams gained three
// (0.845 → 0.877) by relating unseen inflections and compounds to seen ones.
// The NEG_ prefix already carries what negation bigrams ("not good") would.
func englishFeatures(text string) []string {
	text = truncate(text)
	feats := make([]string, 0, 48)
	words := make([]string, 0, 32)
	flushClause := func() {
		for _, w := range words {
			feats = append(feats, "w:"+w)
			if plain, negated := strings.CutPrefix(w, negPrefix); negated {
				if st := englishStem(plain); st != plain {
					feats = append(feats, "s:"+negPrefix+st)
				}
			} else if st := englishStem(w); st != w {
				feats = append(feats, "s:"+st)
			}
			feats = appendWordNgrams(feats, w, englishCharN)
		}
		words = words[:0]
	}
	neg := false
	addWord := func(w string) {
		switch {
		case englishNegators[w]:
			words = append(words, w)
			neg = true
		case w == "but":
			words = append(words, w)
			neg = false
		case neg:
			words = append(words, negPrefix+w)
		default:
			words = append(words, w)
		}
	}
	var b strings.Builder
	endWord := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		b.Reset()
		// "didn't" → "did" + "not": the apostrophe form and the bare negator
		// open the same scope.
		if stem, ok := strings.CutSuffix(w, "n't"); ok {
			if stem == "ca" || stem == "wo" {
				stem += "n"
			}
			if stem != "" {
				addWord(stem)
			}
			addWord("not")
			return
		}
		addWord(strings.Trim(w, "'"))
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			b.WriteRune('\'')
		case unicode.IsSpace(r) || r == '-' || r == '/' || r == '"':
			endWord()
		default:
			endWord()
			if unicode.IsPunct(r) || unicode.IsSymbol(r) {
				flushClause()
				neg = false
			}
		}
	}
	endWord()
	flushClause()
	feats = appendEmoticons(feats, text)
	return feats
}

// hashFeatures maps feature strings to distinct indices in a 2^bits space
// with FNV-1a; collisions are the price of a fixed, small model.
func hashFeatures(feats []string, bits uint, dst []uint32) []uint32 {
	mask := uint32(1)<<bits - 1
	dst = dst[:0]
	for _, f := range feats {
		h := uint32(2166136261)
		for i := 0; i < len(f); i++ {
			h ^= uint32(f[i])
			h *= 16777619
		}
		dst = append(dst, h&mask)
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// englishSuffixes are stripped, longest first, so "ripped", "rips" and
// "ripping" share a feature: with a few thousand training sentences most
// inflected forms of a shop's words are never seen.
var englishSuffixes = []string{"ingly", "edly", "ness", "ment", "ing", "ies", "ed", "ly", "es", "s"}

// englishStem strips one common suffix, keeping at least three letters.
func englishStem(w string) string {
	for _, suf := range englishSuffixes {
		if stem, ok := strings.CutSuffix(w, suf); ok && len(stem) >= 3 && !strings.HasSuffix(w, "ss") {
			if suf == "ies" {
				return stem + "y"
			}
			if n := len(stem); suf != "s" && n >= 2 && stem[n-1] == stem[n-2] && stem[n-1] != 'l' && stem[n-1] != 's' {
				stem = stem[:n-1] // ripped -> rip
			}
			return stem
		}
	}
	return w
}

// englishCharN is the length of the character n-grams of English words.
const englishCharN = 4

// appendWordNgrams adds character n-grams of one word, marked at its edges.
func appendWordNgrams(feats []string, w string, n int) []string {
	neg := ""
	if rest, ok := strings.CutPrefix(w, negPrefix); ok {
		neg, w = negPrefix, rest
	}
	r := []rune("<" + w + ">")
	for i := 0; i+n <= len(r); i++ {
		feats = append(feats, "g:"+neg+string(r[i:i+n]))
	}
	return feats
}
