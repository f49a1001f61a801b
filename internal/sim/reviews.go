package sim

import (
	"math/rand/v2"
	"strings"
)

// The simulator's review phrases, written for Mercato's demo: a review is
// two or three of them in one language and one sentiment, so the
// simulator knows the sentiment it wrote.
var phrases = map[string]map[bool][]string{
	"ko": {
		true: {
			"배송이 정말 빨라요", "포장이 꼼꼼하게 잘 되어 왔어요", "가격 대비 품질이 아주 좋아요",
			"생각했던 것보다 훨씬 만족스러워요", "디자인이 예쁘고 마음에 들어요", "재구매 의사 있어요",
			"부모님도 좋아하셨어요", "사이즈가 딱 맞아요", "성능이 기대 이상이에요", "강력 추천합니다",
			"튼튼하고 오래 쓸 것 같아요", "색상이 사진이랑 똑같아요",
		},
		false: {
			"배송이 너무 늦었어요", "포장이 찢어져서 왔어요", "가격에 비해 품질이 별로예요",
			"생각했던 것과 너무 달라요", "금방 고장 났어요", "다시는 안 살 것 같아요",
			"냄새가 심하게 나요", "사이즈가 전혀 안 맞아요", "불량품이 왔어요 실망입니다",
			"환불하고 싶어요", "마감이 엉망이에요", "사진과 색상이 완전히 달라요",
		},
	},
	"en": {
		true: {
			"Arrived quickly and well packed.", "Great quality for the price.", "Works even better than I expected.",
			"Looks lovely and feels solid.", "I would definitely buy this again.", "The fit is perfect.",
			"My family loves it.", "Excellent value, highly recommended.", "Exactly as described, very happy.",
		},
		false: {
			"Delivery was very late.", "The box arrived damaged.", "Poor quality for the price.",
			"Broke after two days.", "Nothing like the photos.", "I want a refund.",
			"Cheap material and a bad smell.", "The size is completely wrong.", "Disappointed, would not buy again.",
		},
	},
}

// Review is a review the simulator writes, with the truth about it.
type Review struct {
	Lang     string
	Positive bool
	Rating   int
	Text     string
}

// WriteReview writes a review: Korean four times in five, positive with
// probability positiveRate, rated 4-5 when positive and 1-2 otherwise.
func WriteReview(rng *rand.Rand, positiveRate float64) Review {
	r := Review{Lang: "ko", Positive: rng.Float64() < positiveRate}
	if rng.IntN(5) == 4 {
		r.Lang = "en"
	}
	pool := phrases[r.Lang][r.Positive]
	n := 2 + rng.IntN(2)
	picked := make([]string, 0, n)
	for _, i := range rng.Perm(len(pool))[:n] {
		picked = append(picked, pool[i])
	}
	r.Text = strings.Join(picked, " ")
	if r.Positive {
		r.Rating = 4 + rng.IntN(2)
	} else {
		r.Rating = 1 + rng.IntN(2)
	}
	return r
}
