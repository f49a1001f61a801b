package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
)

func (s *Server) getInventory(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if !catalog.ValidSKU(sku) {
		return apiErr(http.StatusNotFound, "unknown_sku", "unknown sku %q", sku)
	}
	l, err := s.o.Inventory.Levels(r.Context(), sku)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// AdjustmentRequest is the body of POST /v1/inventory/{sku}/adjustments.
// Ref, when given, makes the adjustment idempotent (e.g. a delivery note id).
type AdjustmentRequest struct {
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"`
	Ref    string `json:"ref"`
}

func (s *Server) adjustInventory(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if !catalog.ValidSKU(sku) {
		return apiErr(http.StatusNotFound, "unknown_sku", "unknown sku %q", sku)
	}
	var req AdjustmentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	l, err := s.o.Inventory.Adjust(r.Context(), sku, req.Delta, req.Reason, req.Ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// AlertPage is one page of GET /v1/alerts?order=newest.
type AlertPage struct {
	Items      []inventory.Alert `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	switch q.Get("order") {
	case "", "oldest":
		if q.Get("cursor") != "" {
			return apiErr(http.StatusBadRequest, "invalid_cursor", "cursor pages order=newest; oldest first pages by since")
		}
	case "newest":
		return s.listNewestAlerts(w, r)
	default:
		return apiErr(http.StatusBadRequest, "invalid_sort_order", "order must be oldest (the default) or newest")
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return apiErr(http.StatusBadRequest, "invalid_since", "since must be an RFC 3339 time, e.g. 2026-11-25T09:00:00Z")
		}
		since = t
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	alerts, err := s.o.Inventory.Alerts(r.Context(), q.Get("type"), since, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": alerts})
	return nil
}

// listNewestAlerts answers GET /v1/alerts?order=newest: newest first, paged
// by an opaque cursor (the store's position of the page's last alert).
func (s *Server) listNewestAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("since") != "" {
		return apiErr(http.StatusBadRequest, "invalid_since", "since goes with the oldest-first order; newest first pages by cursor")
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	var before int64
	if c := q.Get("cursor"); c != "" {
		if before, err = decodePosition(c); err != nil {
			return err
		}
	}
	page, err := s.o.Inventory.NewestAlerts(r.Context(), q.Get("type"), before, limit)
	if err != nil {
		return err
	}
	out := AlertPage{Items: page.Items}
	if page.Next > 0 {
		out.NextCursor = encodePosition(page.Next)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// encodePosition makes a store position an opaque cursor.
func encodePosition(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(pos, 10)))
}

// decodePosition reads a cursor encodePosition made.
func decodePosition(c string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		var pos int64
		if pos, err = strconv.ParseInt(string(raw), 10, 64); err == nil && pos > 0 {
			return pos, nil
		}
	}
	return 0, apiErr(http.StatusBadRequest, "invalid_cursor", "cursor is not one this API returned")
}
