package searchtest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// Dims is the length of the vectors HashVector makes.
const Dims = 64

// corpusStart is the first review's time; reviews follow every four hours
// (plus a few minutes so no two share a timestamp), spanning ten UTC days.
var corpusStart = time.Date(2026, 11, 10, 1, 0, 0, 0, time.UTC)

// entry is one project-written review of the fixture corpus.
type entry struct {
	sku    string
	rating int
	label  string
	text   string
}

const (
	skuShoe   = "SHOE-RUN-270"
	skuEar    = "EAR-BT-500"
	skuKimchi = "KIMCHI-5KG"
	skuTee    = "TEE-COT-100"
	skuMug    = "MUG-CER-350"
	pos       = reviews.Positive
	neg       = reviews.Negative
)

// corpus is written for this suite: realistic shop reviews in Korean and
// English over five products, with HTML in two of them (it must come back
// escaped in highlights) and 배송 in many inflected and particle-bearing forms.
var corpus = []entry{
	{skuShoe, 5, pos, "배송이 빨라요. 신발 사이즈도 딱 맞고 쿠션이 좋아요"},
	{skuShoe, 5, pos, "These running shoes are so comfortable, arrived in two days."},
	{skuShoe, 2, neg, "The shoes squeak on every step and the sole started peeling after a week."},
	{skuShoe, 1, neg, "한 치수 작게 나왔어요. 발볼이 좁아서 반품합니다"},
	{skuShoe, 4, pos, "정말 빠른 배송 감사합니다. 색상도 사진이랑 같아요"},
	{skuShoe, 4, pos, "Shoe fits true to size, great grip on wet roads."},
	{skuShoe, 2, neg, "배송은 빨랐는데 밑창 접착이 불량이에요"},
	{skuShoe, 1, neg, "Wrong size shipped and customer service never answered."},
	{skuShoe, 5, pos, "가볍고 통기성이 좋아서 매일 신어요 ㅎㅎ"},
	{skuShoe, 3, pos, "Decent shoes for the price, laces are a bit short."},

	{skuEar, 5, pos, "음질이 깨끗하고 노이즈 캔슬링 성능이 좋아요"},
	{skuEar, 1, neg, "한쪽 이어폰이 연결이 자꾸 끊겨요 ㅠㅠ"},
	{skuEar, 5, pos, "Battery lasts all day and pairing was instant."},
	{skuEar, 2, neg, "The left earbud stopped charging after three days."},
	{skuEar, 2, neg, "배송이 너무 늦었어요. 일주일 넘게 걸렸습니다"},
	{skuEar, 4, pos, "Great sound, the case feels cheap though."},
	{skuEar, 4, pos, "가격 대비 만족합니다. 배송도 빠르고 포장도 꼼꼼해요"},
	{skuEar, 1, neg, "<script>alert('x')</script> Fake product, the serial number does not exist."},
	{skuEar, 5, pos, "통화 품질이 좋고 귀가 아프지 않아요"},
	{skuEar, 2, neg, "Delivery was late and the box was crushed."},

	{skuKimchi, 5, pos, "김치가 아삭하고 맛있어요. 배송도 하루 만에 왔어요"},
	{skuKimchi, 1, neg, "아이스팩이 다 녹아서 왔어요. 김치가 시었어요"},
	{skuKimchi, 4, pos, "엄마가 담근 김치 맛이에요 재구매 의사 있어요"},
	{skuKimchi, 2, neg, "너무 짜고 양념이 적어요"},
	{skuKimchi, 5, pos, "Authentic taste, packed very well with ice packs."},
	{skuKimchi, 5, pos, "포장이 꼼꼼하고 배송이 빨라서 신선했어요"},
	{skuKimchi, 1, neg, "배송 중에 국물이 새서 박스가 엉망이었어요"},
	{skuKimchi, 2, neg, "Too sour for my taste and the jar leaked during delivery."},
	{skuKimchi, 4, pos, "적당히 익어서 바로 먹기 좋아요"},
	{skuKimchi, 3, neg, "맛은 괜찮은데 가격이 비싸요"},

	{skuTee, 5, pos, "Soft cotton, did not shrink after washing."},
	{skuTee, 1, neg, "Shrank two sizes after the first wash."},
	{skuTee, 5, pos, "재질이 부드럽고 핏이 예뻐요"},
	{skuTee, 2, neg, "세탁 후에 목이 늘어났어요"},
	{skuTee, 4, pos, "Nice colour, shipping was quick."},
	{skuTee, 4, pos, "배송 빠르고 옷도 두께감이 적당해요"},
	{skuTee, 2, neg, "Stitching came loose on the sleeve."},
	{skuTee, 1, neg, "사진과 색이 완전히 달라요. 환불 요청합니다"},
	{skuTee, 5, pos, `Bought three, great value & "fits" perfectly.`},
	{skuTee, 3, pos, "무난하게 입기 좋아요"},

	{skuMug, 5, pos, "Beautiful mug, keeps coffee warm for a long time."},
	{skuMug, 1, neg, "Arrived broken, the handle snapped off in the box."},
	{skuMug, 5, pos, "머그컵이 예쁘고 선물용으로 좋아요"},
	{skuMug, 1, neg, "포장이 부실해서 깨져서 왔어요"},
	{skuMug, 4, pos, "Dishwasher safe and the glaze still looks new."},
	{skuMug, 2, neg, "<b>주의</b> 손잡이에 금이 가 있었어요 <script>alert(1)</script>"},
	{skuMug, 2, neg, "Mugs are smaller than the pictures suggest."},
	{skuMug, 5, pos, "배송이 빨랐고 포장도 안전했어요"},
	{skuMug, 4, pos, "Good mug for the price, shipping was slow though."},
	{skuMug, 3, neg, "디자인은 예쁜데 커피가 금방 식어요"},

	{skuShoe, 5, pos, "Best running shoes I have owned, my knees thank me."},
	{skuEar, 5, pos, "배송 빠르고 음질 최고예요"},
	{skuKimchi, 1, neg, "The kimchi arrived warm and smelled off."},
	{skuTee, 2, neg, "배송이 느려서 행사에 못 입었어요"},
	{skuMug, 4, pos, "색감이 고급스럽고 크기도 적당해요"},
	{skuShoe, 2, neg, "신발 냄새가 심하게 나요"},
	{skuEar, 5, pos, "Noise cancelling is impressive at this price."},
	{skuKimchi, 5, pos, "배송 받자마자 먹었는데 너무 맛있어요"},
	{skuTee, 1, neg, "Received a used shirt with a stain, disgusting."},
	{skuMug, 5, pos, "Shipped fast and wrapped in bubble wrap, no damage."},
}

// Corpus returns the suite's fixture reviews (ids r01…r60) with Terms from
// sentiment.SearchTerms and Vector from HashVector, as the domain would fill
// them. Each call returns fresh slices the caller may change.
func Corpus() ([]reviews.Review, error) {
	out := make([]reviews.Review, 0, len(corpus))
	for i, e := range corpus {
		created := corpusStart.Add(time.Duration(i)*4*time.Hour + time.Duration(i*7%60)*time.Minute)
		r, err := NewReview(fmt.Sprintf("r%02d", i+1), e.sku, e.rating, e.label, e.text, created)
		if err != nil {
			return nil, err
		}
		r.OrderID = fmt.Sprintf("ord-%04d", 1000+i)
		r.CustomerID = fmt.Sprintf("cust-%03d", i%17)
		out = append(out, r)
	}
	return out, nil
}

// NewReview builds a review the way the domain does: language detected,
// Terms analysed by sentiment.SearchTerms and Vector from HashVector. The
// sentiment score is a fixed plausible value; the suite never ranks by it.
func NewReview(id, sku string, rating int, label, text string, created time.Time) (reviews.Review, error) {
	terms, err := sentiment.SearchTerms(text)
	if err != nil {
		return reviews.Review{}, fmt.Errorf("analysing review %s: %w", id, err)
	}
	return reviews.Review{
		ID: id, SKU: sku, Rating: rating, Text: text,
		Lang:      string(sentiment.Detect(text)),
		Sentiment: reviews.Sentiment{Label: label, Score: 0.5 + float64(rating%3+1)/8},
		CreatedAt: created,
		Terms:     terms,
		Vector:    HashVector(terms, text),
	}, nil
}

// HashVector is a stand-in embedding: each term is hashed to one of Dims
// dimensions with a hashed sign, and the sum is scaled to unit length, so
// reviews that share terms point the same way. A review without terms is
// hashed from its text so that no vector is zero. The suite relies on
// nothing but unit length and cosine similarity, as the real embedding will.
func HashVector(terms []string, text string) []float32 {
	v := make([]float32, Dims)
	add := func(s string) {
		h := fnv.New64a()
		h.Write([]byte(s))
		x := h.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%Dims] += sign
		// A second, weaker dimension per term keeps unrelated reviews from
		// being exactly orthogonal, so cosine orderings rarely tie.
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
		v[h.Sum64()%Dims] += sign / 2
	}
	for _, t := range terms {
		add(t)
	}
	if len(terms) == 0 {
		add(text)
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		v[0], n = 1, 1
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}
