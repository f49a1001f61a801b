package sentiment

import "testing"

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       Lang
	}{
		{"korean", "배송이 빨라요", LangKorean},
		{"korean spacing error", "배송빨라요", LangKorean},
		{"korean jamo only", "ㅋㅋㅋㅋ", LangKorean},
		{"korean with brand", "아이폰 15 Pro Max 케이스 잘 맞아요", LangKorean},
		{"english", "Great value for money.", LangEnglish},
		{"english with one korean word", "The 김치 was great and the delivery fast", LangEnglish},
		{"mixed, korean majority", "good 좋아요 최고예요 배송도 빨라요", LangKorean},
		{"japanese", "とても良い商品です", LangOther},
		{"chinese", "质量很好，物流很快", LangOther},
		{"russian", "Отличный товар", LangOther},
		{"digits and emoji only", "10/10 👍👍", LangOther},
		{"empty", "", LangOther},
		{"invalid utf-8", "\xff\xfe", LangOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Detect(tt.text); got != tt.want {
				t.Errorf("Detect(%q) = %s, want %s", tt.text, got, tt.want)
			}
		})
	}
}
