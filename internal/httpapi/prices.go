package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
)

// PriceBook is the api role's view of dynamic prices.
type PriceBook interface {
	Current(sku string, base int64, updated time.Time) pricing.PriceRecord
	History(ctx context.Context, sku string, limit int) ([]pricing.PriceRecord, error)
}

// RulePublisher sends a pricing rule to every pricing instance.
type RulePublisher interface {
	PublishRule(ctx context.Context, rule pricing.Rule) error
}

// currentPrice is the dynamic price, or the base price until the pricing
// role has priced the SKU.
func (s *Server) currentPrice(r *http.Request, sku string) (pricing.PriceRecord, error) {
	cur, err := s.o.Catalog.Get(r.Context(), sku)
	if err != nil {
		return pricing.PriceRecord{}, err
	}
	p := cur.Product
	if s.o.Prices == nil {
		return pricebook.Base(sku, p.BasePrice, p.UpdatedAt), nil
	}
	return s.o.Prices.Current(sku, p.BasePrice, p.UpdatedAt), nil
}

func (s *Server) getPrice(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.currentPrice(r, r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) getPriceHistory(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if _, err := s.o.Catalog.Get(r.Context(), sku); err != nil {
		return err
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	items := []pricing.PriceRecord{}
	if s.o.Prices != nil {
		var err error
		if items, err = s.o.Prices.History(r.Context(), sku, limit); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sku": sku, "items": items})
	return nil
}

func (s *Server) putPricingRule(w http.ResponseWriter, r *http.Request) error {
	category := r.PathValue("category")
	if !catalog.ValidCategory(category) {
		return apiErr(http.StatusBadRequest, "invalid_category", "category must be 1-%d printable characters of valid UTF-8", catalog.MaxCategoryRunes)
	}
	rule := pricing.DefaultRule()
	if err := decodeJSON(w, r, &rule); err != nil {
		return err
	}
	if rule.Category != "" && rule.Category != category {
		return apiErr(http.StatusBadRequest, "invalid_category", "body category %q differs from the path's %q", rule.Category, category)
	}
	rule.Category = category
	if rule.ID == "" || rule.ID == "default" {
		rule.ID = category + "@" + strconv.FormatInt(s.now().UnixMilli(), 10)
	}
	if err := rule.Validate(); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_rule", "%s", err.Error())
	}
	if s.o.Rules == nil {
		return apiErr(http.StatusServiceUnavailable, "pricing_unavailable", "this instance cannot publish pricing rules")
	}
	if err := s.o.Rules.PublishRule(r.Context(), rule); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}
