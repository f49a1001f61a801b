package sentiment

import (
	"bytes"
	"errors"
	"testing"
)

func defaultModel(t testing.TB) *Model {
	t.Helper()
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The goal of the classifier is at least 90 % accuracy on held-out shop
// reviews in each language; the committed model reaches 91.2 % (Korean) and
// 90.5 % (English; see docs/sentiment.md). The test splits are frozen and
// never trained on, so the committed model's score on them is fixed: a
// retrained model must keep the goal.
const shopAccuracyFloor = 0.90

func TestEmbeddedModelShopAccuracy(t *testing.T) {
	t.Parallel()
	for _, lang := range []Lang{LangKorean, LangEnglish} {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			ex, err := ShopReviews(lang)
			if err != nil {
				t.Fatal(err)
			}
			test := splitOf(ex, SplitTest)
			if len(test) < 60 {
				t.Fatalf("only %d test reviews", len(test))
			}
			got := Eval(defaultModel(t), test)
			lm := got.ByLang[lang]
			if lm == nil || lm.N != len(test) {
				t.Fatalf("detected languages of the %s test split: %+v", lang, got.ByLang)
			}
			t.Logf("%s shop test split: n=%d accuracy=%.4f macro-F1=%.4f ECE=%.4f", lang, lm.N, lm.Accuracy, lm.MacroF1, lm.ECE)
			if lm.Accuracy < shopAccuracyFloor {
				t.Errorf("accuracy %.4f on the %s shop test split, want >= %.2f", lm.Accuracy, lang, shopAccuracyFloor)
			}
		})
	}
}

func TestClassifyNegationFlips(t *testing.T) {
	t.Parallel()
	m := defaultModel(t)
	tests := []struct {
		text, want string
	}{
		{"좋아요", Positive},
		{"안 좋아요", Negative},
		{"별로 안 좋아요", Negative},
		{"만족스러워요", Positive},
		{"만족스럽지 않아요", Negative},
		{"good", Positive},
		{"not good", Negative},
		{"I would recommend it", Positive},
		{"I would not recommend it", Negative},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			r := m.Classify(tt.text)
			if r.Label != tt.want {
				t.Errorf("Classify(%q) = %+v, want %s", tt.text, r, tt.want)
			}
			if r.Score < 0.5 || r.Score > 1 {
				t.Errorf("Classify(%q) score %v outside 0.5..1", tt.text, r.Score)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	m := defaultModel(t)
	var a, b bytes.Buffer
	if err := m.Save(&a); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), embeddedModel) {
		t.Error("saving the embedded model does not reproduce the embedded file")
	}
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Save(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("save, load, save changed the file")
	}
	for _, text := range []string{"배송이 빨라요", "The strap broke in a day."} {
		if r1, r2 := m.Classify(text), m2.Classify(text); r1 != r2 {
			t.Errorf("Classify(%q): %+v before, %+v after a round trip", text, r1, r2)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	var good bytes.Buffer
	if err := defaultModel(t).Save(&good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not gzip", []byte("hello")},
		{"truncated", good.Bytes()[:good.Len()/2]},
		{"gzip of something else", gz(t, []byte("MSENT1\n\x99"))},
		{"bad magic", gz(t, []byte("NOTAMODEL\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(bytes.NewReader(tt.in)); !errors.Is(err, ErrBadModel) {
				t.Errorf("Load = %v, want ErrBadModel", err)
			}
		})
	}
}

func TestZeroModelDoesNotPanic(t *testing.T) {
	t.Parallel()
	var m Model
	if r := m.Classify("좋아요"); r.Score != 0.5 || r.Lang != LangKorean {
		t.Errorf("zero Model: %+v", r)
	}
}
