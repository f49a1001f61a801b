package sentiment

import (
	"slices"
	"testing"
)

func TestKoreanNegationScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text         string
		want, unwant []string
	}{
		{"좋아요", []string{"m:좋/VA"}, []string{"m:NEG_좋/VA"}},
		{"안 좋아요", []string{"m:NEG_좋/VA"}, []string{"m:좋/VA"}},
		{"별로 안 좋아요", []string{"m:NEG_좋/VA", "m:별로/MAG"}, []string{"m:좋/VA"}},
		{"좋지 않아요", []string{"m:NEG_좋/VA"}, []string{"m:좋/VA"}},
		{"좋지는 않아요", []string{"m:NEG_좋/VA"}, []string{"m:좋/VA"}},
		{"나쁘지 않아요", []string{"m:NEG_나쁘/VA"}, []string{"m:나쁘/VA"}},
		{"품질이 좋지 못하다", []string{"m:NEG_좋/VA"}, []string{"m:좋/VA"}},
		{"기대 안 했는데 좋네요", []string{"m:좋/VA", "m:NEG_하/VV"}, []string{"m:NEG_좋/VA"}},
		{"문제 없어요", []string{"m:NEG_문제/NNG"}, []string{"m:문제/NNG"}},
		{"만족스럽지 않아요", []string{"m:NEG_만족/NNG"}, []string{"m:만족/NNG"}},
		// Character n-grams of a negated word are negated too.
		{"안 좋아요", []string{"c:NEG_좋아요", "c:안좋"}, []string{"c:좋아요"}},
		{"좋지 않아요", []string{"c:NEG_좋지"}, []string{"c:좋지"}},
		// A sentence end closes the scope: the second 좋 is not negated.
		{"안 좋아요. 좋아요", []string{"m:NEG_좋/VA", "m:좋/VA"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := koreanFeatures(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("features of %q lack %s; got %q", tt.text, w, got)
				}
			}
			for _, u := range tt.unwant {
				if slices.Contains(got, u) {
					t.Errorf("features of %q contain %s; got %q", tt.text, u, got)
				}
			}
		})
	}
}

func TestKoreanSpacingAndEmoticons(t *testing.T) {
	t.Parallel()
	spaced, err := koreanFeatures("배송 빨라요 ㅋㅋㅋ")
	if err != nil {
		t.Fatal(err)
	}
	joined, err := koreanFeatures("배송빨라요ㅠㅠ")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"c:배송", "c:송빨", "c:빨라요"} {
		if !slices.Contains(spaced, want) || !slices.Contains(joined, want) {
			t.Errorf("both spellings should have %s: %q / %q", want, spaced, joined)
		}
	}
	if !slices.Contains(spaced, "e:ㅋㅋ") || !slices.Contains(joined, "e:ㅠㅠ") {
		t.Errorf("emoticons missing: %q / %q", spaced, joined)
	}
}

func TestEnglishNegationScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text         string
		want, unwant []string
	}{
		{"good", []string{"w:good"}, []string{"w:NEG_good"}},
		{"not good", []string{"w:NEG_good", "g:NEG_good"}, []string{"w:good", "g:good"}},
		{"Never ripped", []string{"w:NEG_ripped", "s:NEG_rip"}, []string{"w:ripped", "s:rip"}},
		{"It isn't good", []string{"w:NEG_good", "w:not"}, []string{"w:good"}},
		{"Didn’t work", []string{"w:NEG_work"}, []string{"w:work"}},
		{"never again, great seller", []string{"w:NEG_again", "w:great"}, []string{"w:NEG_great"}},
		{"not cheap but great", []string{"w:NEG_cheap", "w:great"}, []string{"w:NEG_great"}},
		{"GREAT!!", []string{"w:great", "e:!!"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got := englishFeatures(tt.text)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("features of %q lack %s; got %q", tt.text, w, got)
				}
			}
			for _, u := range tt.unwant {
				if slices.Contains(got, u) {
					t.Errorf("features of %q contain %s; got %q", tt.text, u, got)
				}
			}
		})
	}
}
