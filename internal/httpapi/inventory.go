package httpapi

import (
	"net/http"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
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

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
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
