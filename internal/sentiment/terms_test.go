package sentiment

import (
	"slices"
	"testing"
)

func TestSearchTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string // must all be present
	}{
		{"배송이 빨라요", []string{"배송"}},
		{"배송", []string{"배송"}},
		{"포장이 꼼꼼하고 배송도 빨랐어요", []string{"포장", "배송"}},
		{"Arrived quickly, great packaging", []string{"arriv", "great", "packag"}},
		{"The shoes are too small", []string{"shoe", "small"}},
		// An English word inside Korean text stays one word: the analyser
		// would cut "great" into grea + t.
		{"배송 빠르고 소리 great, 가성비 best", []string{"배송", "great", "best"}},
		{"블루투스 window 연결", []string{"window"}},
	}
	for _, tt := range tests {
		got, err := SearchTerms(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("SearchTerms(%q) = %v, want %q among them", tt.text, got, w)
			}
		}
	}
	if got, _ := SearchTerms("the and of"); len(got) != 0 {
		t.Errorf("stopwords kept: %v", got)
	}
}

// A query analysed alone must produce the terms of the same words in a review.
func TestSearchTermsAreConsistent(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{{"배송", "배송이 정말 빨라요"}, {"shoe", "These shoes pinch"}, {"packaging", "Packaged well"}, {"포장", "포장상태가 좋아요"}}
	for _, p := range pairs {
		q, _ := SearchTerms(p[0])
		doc, _ := SearchTerms(p[1])
		for _, w := range q {
			if !slices.Contains(doc, w) {
				t.Errorf("query %q term %q not among %q's terms %v", p[0], w, p[1], doc)
			}
		}
	}
}
