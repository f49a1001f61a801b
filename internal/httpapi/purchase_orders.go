package httpapi

import (
	"net/http"

	"github.com/mercato-platform/mercato/internal/replenishment"
)

func (s *Server) listPurchaseOrders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := replenishment.Status(q.Get("status"))
	if status != "" && !validPOStatus(status) {
		return apiErr(http.StatusBadRequest, "invalid_status", "status must be requested, confirmed, shipped, received or cancelled")
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	pos, err := s.o.Purchasing.List(r.Context(), status, q.Get("sku"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": pos})
	return nil
}

func validPOStatus(st replenishment.Status) bool {
	for _, s := range replenishment.Statuses {
		if s == st {
			return true
		}
	}
	return false
}

func (s *Server) getPurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	po, err := s.o.Purchasing.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, po)
	return nil
}

// TransitionRequest is the body of POST /v1/purchase-orders/{id}/transitions.
type TransitionRequest struct {
	To replenishment.Status `json:"to"`
}

func (s *Server) transitionPurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	var req TransitionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !validPOStatus(req.To) || req.To == replenishment.StatusRequested {
		return apiErr(http.StatusBadRequest, "invalid_status", "to must be confirmed, shipped, received or cancelled")
	}
	po, err := s.o.Purchasing.Transition(r.Context(), r.PathValue("id"), req.To)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, po)
	return nil
}
