package sentiment

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClassify checks that any bytes, valid UTF-8 or not, get a well-formed
// result and never a panic. Seeds are committed under testdata/fuzz.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"", "배송이 빨라요", "안 좋아요", "나쁘지 않아요ㅋㅋㅋ", "not good!!", "Didn't", "n't", "'",
		"ㅠㅠㅠㅠ", "!!!!", "\xff\xfe\xfd", "지 않", "않", "안", "없", "좋지는않아요못하다",
		"🙂🙂", "とても良い", "a\x00b", "...", "아니", "이게 아니에요",
		strings.Repeat("배송빨라요", 30), // a long run without spaces
	} {
		f.Add([]byte(s))
	}
	m, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := m.Classify(string(b))
		if r.Label != Positive && r.Label != Negative {
			t.Fatalf("label %q", r.Label)
		}
		if !(r.Score >= 0.5 && r.Score <= 1) {
			t.Fatalf("score %v", r.Score)
		}
		if r.Lang != LangKorean && r.Lang != LangEnglish && r.Lang != LangOther {
			t.Fatalf("lang %q", r.Lang)
		}
		if utf8.Valid(b) && r.Lang == LangOther && Detect(string(b)) != LangOther {
			t.Fatal("Classify and Detect disagree")
		}
	})
}
