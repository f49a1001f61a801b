package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func postReview(t *testing.T, base, customer, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/reviews", strings.NewReader(body))
	req.Header.Set("X-Customer-ID", customer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, v)
	return resp.StatusCode
}

// TestReviewsAreClassifiedIndexedAndSearchable drives reviews through the
// API, the commerce.reviews topic, the reviews role and the Bleve index.
func TestReviewsAreClassifiedIndexedAndSearchable(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t))
	base := "http://" + a.HTTPAddr()
	if code := call(t, a, "PUT", "/v1/products/SOCKS", `{"name":"울 양말","category":"fashion","base_price":9900,"price_floor":8900,"price_ceiling":12900,"stock":100}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	reviewsIn := []struct {
		rating int
		text   string
		label  string
		lang   string
	}{
		{5, "배송이 빨라요 양말도 따뜻하고 좋아요", "positive", "ko"},
		{5, "배송 빠르고 포장도 꼼꼼해요 재구매 의사 있어요", "positive", "ko"},
		{1, "한 번 신었는데 구멍이 났어요 품질 별로예요 ㅠㅠ", "negative", "ko"},
		{2, "Arrived late and the socks have a <script>alert(1)</script> smell", "negative", "en"},
		{5, "Warm socks, fast delivery, great value", "positive", "en"},
	}
	var firstID string
	for i, r := range reviewsIn {
		body, _ := json.Marshal(map[string]any{"sku": "SOCKS", "rating": r.rating, "text": r.text})
		code, out := postReview(t, base, "c1", string(body))
		if code != 201 || out["lang"] != r.lang {
			t.Fatalf("review %d: %d %v", i, code, out)
		}
		if s := out["sentiment"].(map[string]any); s["label"] != r.label {
			t.Errorf("review %q classified %v, want %s", r.text, s, r.label)
		}
		if i == 0 {
			firstID = out["id"].(string)
		}
	}
	var res struct {
		Total int
		Hits  []struct {
			ID, Text   string
			CustomerID string `json:"customer_id"`
			Highlights []string
		}
		Aggregations struct {
			Sentiment map[string]int
			Rating    map[string]int
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for res.Total < 5 && time.Now().Before(deadline) {
		getJSON(t, base+"/v1/reviews/search?sku=SOCKS", &res)
		time.Sleep(50 * time.Millisecond)
	}
	if res.Total != 5 || res.Aggregations.Sentiment["positive"] != 3 || res.Aggregations.Rating["5"] != 3 {
		t.Fatalf("all reviews: %+v", res)
	}
	getJSON(t, base+"/v1/reviews/search?q="+url.QueryEscape("배송"), &res)
	if res.Total != 2 {
		t.Errorf("q=배송 found %d, want the 2 Korean delivery reviews: %+v", res.Total, res.Hits)
	}
	getJSON(t, base+"/v1/reviews/search?q=smell&sentiment=negative", &res)
	if res.Total != 1 || len(res.Hits) != 1 || res.Hits[0].CustomerID != "" {
		t.Fatalf("q=smell: %+v", res)
	}
	for _, h := range res.Hits[0].Highlights {
		if strings.Contains(h, "<script>") {
			t.Errorf("highlight not escaped: %q", h)
		}
	}
	var sum struct {
		Count         int
		Positive      int
		PositiveRatio float64 `json:"positive_ratio"`
		AvgRating     float64 `json:"avg_rating"`
		Trend         []any
	}
	if code := getJSON(t, base+"/v1/products/SOCKS/review-summary", &sum); code != 200 || sum.Count != 5 || sum.Positive != 3 || sum.PositiveRatio != 0.6 || sum.AvgRating != 3.6 || len(sum.Trend) != 1 {
		t.Errorf("summary: %d %+v", code, sum)
	}
	var sim struct {
		Items []struct {
			ID         string
			Similarity float64
		}
	}
	if code := getJSON(t, base+"/v1/reviews/"+firstID+"/similar?k=2", &sim); code != 200 || len(sim.Items) != 2 || sim.Items[0].ID == firstID {
		t.Errorf("similar: %d %+v", code, sim)
	}
	// Bad input changes nothing.
	for _, bad := range []struct {
		body string
		code int
	}{
		{`{"sku":"SOCKS","rating":6,"text":"x"}`, 400},
		{`{"sku":"SOCKS","rating":3,"text":""}`, 400},
		{`{"sku":"SOCKS","rating":3,"text":"` + strings.Repeat("가", 5001) + `"}`, 400},
		{`{"sku":"NOPE","rating":3,"text":"좋아요"}`, 404},
		{`{"sku":"SOCKS","rating":"5","text":"x"}`, 400},
		{"{\"sku\":\"SOCKS\",\"rating\":3,\"text\":\"\xff\"}", 400},
	} {
		if code, out := postReview(t, base, "c1", bad.body); code != bad.code {
			t.Errorf("%.40q: %d %v, want %d", bad.body, code, out, bad.code)
		}
	}
	if code := getJSON(t, base+"/v1/reviews/rev_nope/similar", &sim); code != 404 {
		t.Errorf("similar of unknown review = %d", code)
	}
	if code := getJSON(t, base+"/v1/products/NOPE/review-summary", &sum); code != 404 {
		t.Errorf("summary of unknown sku = %d", code)
	}
	time.Sleep(200 * time.Millisecond)
	getJSON(t, base+"/v1/reviews/search?sku=SOCKS", &res)
	if res.Total != 5 {
		t.Errorf("bad reviews were indexed: total %d", res.Total)
	}
}
