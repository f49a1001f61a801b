package bleveindex

import (
	"slices"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/searchtest"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// The analyzer must produce exactly SearchTerms' terms, and every span must
// lie inside the text, in order.
func TestTokenizeEqualsSearchTerms(t *testing.T) {
	t.Parallel()
	rs, err := searchtest.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"", "   ", "the a an", "'quoted' don't", "ÉCOLE Straße", "배송", "빨라요!!", "invalid \xff utf8 배송이", "ㅋㅋㅋㅋㅋ ok", strings.Repeat("shoes ", 9000)}
	for _, r := range rs {
		texts = append(texts, r.Text)
	}
	for _, text := range texts {
		want, err := sentiment.SearchTerms(text)
		if err != nil {
			t.Fatal(err)
		}
		toks := tokenize(text)
		var got []string
		valid := strings.ToValidUTF8(text, "\uFFFD")
		for i, tok := range toks {
			got = append(got, string(tok.Term))
			if tok.Start < 0 || tok.End > len(valid) || tok.Start > tok.End || tok.Position != i+1 {
				t.Errorf("%q: token %v out of range", text, tok)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("tokenize(%q) = %q, want SearchTerms' %q", text, got, want)
		}
	}
}

func TestTokenizeSpans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want []string // surface of each token
	}{
		{"배송이 빨라요.", []string{"배송", "빨라요"}},
		{"These shoes, really!", []string{"These", "shoes", "really"}},
		{"김치가 맛있어요", []string{"김치", "맛있"}}, // a stem written as is is marked alone
	} {
		var got []string
		for _, tok := range tokenize(tc.text) {
			got = append(got, tc.text[tok.Start:tok.End])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("spans of %q = %q, want %q", tc.text, got, tc.want)
		}
	}
}
