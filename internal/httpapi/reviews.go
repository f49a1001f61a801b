package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
)

// ReviewView is what POST /v1/reviews answers.
type ReviewView struct {
	ID        string            `json:"id"`
	SKU       string            `json:"sku"`
	Rating    int               `json:"rating"`
	Lang      string            `json:"lang"`
	Sentiment reviews.Sentiment `json:"sentiment"`
	CreatedAt time.Time         `json:"created_at"`
}

func (s *Server) createReview(w http.ResponseWriter, r *http.Request) error {
	var req reviews.Request
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	rev, err := s.o.Reviews.Create(r.Context(), CustomerID(r), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ReviewView{ID: rev.ID, SKU: rev.SKU, Rating: rev.Rating, Lang: rev.Lang, Sentiment: rev.Sentiment, CreatedAt: rev.CreatedAt})
	return nil
}

func (s *Server) searchReviews(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := reviews.Query{Text: v.Get("q"), SKU: v.Get("sku"), Sentiment: v.Get("sentiment")}
	var err error
	if q.MinRating, err = intParam(v.Get("min_rating"), 0, 1, 5, "min_rating"); err != nil {
		return err
	}
	if q.Limit, err = intParam(v.Get("limit"), 20, 1, 100, "limit"); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if raw := v.Get(p.name); raw != "" {
			t, err := parseTimeParam(raw)
			if err != nil {
				return apiErr(http.StatusBadRequest, "invalid_"+p.name, "%s must be a date (2026-11-25) or an RFC 3339 time", p.name)
			}
			*p.dst = t
		}
	}
	res, err := s.o.Reviews.Search(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func parseTimeParam(raw string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, raw)
}

func intParam(raw string, def, lo, hi int, name string) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, apiErr(http.StatusBadRequest, "invalid_"+name, "%s must be an integer %d-%d", name, lo, hi)
	}
	return n, nil
}

func (s *Server) reviewSummary(w http.ResponseWriter, r *http.Request) error {
	sum, err := s.o.Reviews.Summarize(r.Context(), r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

func (s *Server) similarReviews(w http.ResponseWriter, r *http.Request) error {
	k, err := intParam(r.URL.Query().Get("k"), 5, 1, 50, "k")
	if err != nil {
		return err
	}
	ns, err := s.o.Reviews.Similar(r.Context(), r.PathValue("id"), k)
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []reviews.Neighbour{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "items": ns})
	return nil
}
