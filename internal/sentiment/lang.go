package sentiment

import "unicode"

// Lang is the language of a review as far as the classifier is concerned.
type Lang string

// Languages the classifier tells apart. Everything that is neither Korean nor
// written in Latin letters is LangOther and is scored as best effort.
const (
	LangKorean  Lang = "ko"
	LangEnglish Lang = "en"
	LangOther   Lang = "other"
)

// hangulSyllableWeight is what one Hangul syllable counts against one Latin
// letter. A syllable carries two or three letters' worth of text, so a Korean
// review that names a brand ("아이폰 15 Pro Max 케이스 잘 맞아요") must still
// count as Korean.
const hangulSyllableWeight = 2

// Detect tells the language of a text by its script: Hangul against Latin
// letters against letters of any other script, the majority deciding.
// Digits, punctuation, spaces and emoji do not vote; a text with no letters is
// LangOther.
func Detect(text string) Lang {
	var hangul, latin, other int
	for _, r := range text {
		switch {
		case r >= 0xAC00 && r <= 0xD7A3: // precomposed syllables
			hangul += hangulSyllableWeight
		case r >= 0x1100 && r <= 0x11FF, r >= 0x3130 && r <= 0x318F, r >= 0xA960 && r <= 0xA97F, r >= 0xD7B0 && r <= 0xD7FF:
			// Loose jamo: ㅋㅋ, ㅠㅠ and typos still say "Korean".
			hangul++
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.IsLetter(r):
			other++
		}
	}
	switch {
	case hangul == 0 && latin == 0 && other == 0:
		return LangOther
	case hangul >= latin && hangul > other:
		return LangKorean
	case latin > hangul && latin > other:
		return LangEnglish
	default:
		return LangOther
	}
}
