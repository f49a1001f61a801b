package sentiment

import (
	"fmt"
	"slices"
	"testing"
)

func TestTermWordsAreSearchTermsWithTheirWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want map[string]string // term -> word, for the terms checked
	}{
		{"배송이 정말 빨라요. 포장도 깔끔해요! 음질이 좋았어요", map[string]string{"배송": "배송", "빠르": "빨라요", "깔끔": "깔끔해요", "음질": "음질", "좋": "좋았어요"}},
		{"Arrived quickly, and the batteries last for days", map[string]string{"arriv": "arrived", "quickli": "quickly", "batteri": "batteries", "dai": "days"}},
		{"소리가 작고 배터리가 금방 닳아요. Bluetooth 끊김", map[string]string{"작": "작고", "닳": "닳아요", "끊기": "끊김", "bluetooth": "bluetooth"}},
		{"음질 great 배송 빨라요", map[string]string{"great": "great", "음질": "음질"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			tws, err := TermWords(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			terms, err := SearchTerms(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(tws))
			words := map[string]string{}
			for i, tw := range tws {
				got[i] = tw.Term
				if tw.Word == "" {
					t.Errorf("term %q has no word", tw.Term)
				}
				words[tw.Term] = tw.Word
			}
			if !slices.Equal(got, terms) {
				t.Fatalf("terms %v, SearchTerms %v", got, terms)
			}
			for term, word := range tt.want {
				if words[term] != word {
					t.Errorf("word of %q = %q, want %q (all: %v)", term, words[term], word, fmt.Sprint(tws))
				}
			}
		})
	}
}
