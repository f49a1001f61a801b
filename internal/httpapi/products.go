package httpapi

import (
	"encoding/base64"
	"net/http"

	"github.com/mercato-platform/mercato/internal/catalog"
)

// ProductView is a product as the API shows it.
type ProductView struct {
	catalog.Product
	Stock StockView `json:"stock"`
}

// StockView is a SKU's stock levels.
type StockView struct {
	OnHand    int64 `json:"on_hand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
	OnOrder   int64 `json:"on_order"`
}

func view(c catalog.Current) ProductView {
	return ProductView{Product: c.Product, Stock: StockView{
		OnHand: c.Stock.OnHand, Reserved: c.Stock.Reserved, Available: c.Stock.OnHand - c.Stock.Reserved, OnOrder: c.Stock.OnOrder,
	}}
}

func (s *Server) putProduct(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if !catalog.ValidSKU(sku) {
		return apiErr(http.StatusBadRequest, "invalid_sku", "SKU must match [A-Za-z0-9._-]{1,64}")
	}
	var req catalog.PutRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cur, created, err := s.o.Catalog.Put(r.Context(), sku, req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, view(cur))
	return nil
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.o.Catalog.Get(r.Context(), r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view(cur))
	return nil
}

// ProductPage is one page of GET /v1/products.
type ProductPage struct {
	Items      []catalog.Product `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := catalog.ListQuery{Category: q.Get("category")}
	limit, err := limitParam(r, 0, catalog.MaxPage)
	if err != nil {
		return err
	}
	lq.Limit = limit
	if lq.AfterSKU, err = skuCursor(r); err != nil {
		return err
	}
	items, next, err := s.o.Catalog.List(r.Context(), lq)
	if err != nil {
		return err
	}
	page := ProductPage{Items: items}
	if next != "" {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// skuCursor is the SKU a catalogue page's ?cursor= continues after ("" for
// the first page): the base64url SKU a previous page returned.
func skuCursor(r *http.Request) (string, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !catalog.ValidSKU(string(raw)) {
		return "", apiErr(http.StatusBadRequest, "invalid_cursor", "cursor is not one this API returned")
	}
	return string(raw), nil
}
