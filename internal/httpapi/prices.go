package httpapi

import (
	"context"
	"encoding/base64"
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
	// Recent returns up to n of each SKU's latest prices, oldest first, in
	// one read.
	Recent(ctx context.Context, skus []string, n int) (map[string][]pricebook.Point, error)
}

// RulePublisher sends a pricing rule to every pricing instance.
type RulePublisher interface {
	PublishRule(ctx context.Context, rule pricing.Rule) error
}

// RuleReader reads the pricing rules in force. It follows the rules topic,
// so a rule PUT a moment ago shows once it reached the topic.
type RuleReader interface {
	// Rules returns every category's own rule, sorted by category.
	Rules() []pricing.Rule
	Rule(category string) (pricing.Rule, bool)
}

// PriceView is a price record as the API shows it: with its reason written
// for a person and, for a learn policy decision, the demand it expects.
type PriceView struct {
	pricing.PriceRecord
	Why string `json:"why"`
	// DemandEstimate is the learned demand at this price, units per hour.
	DemandEstimate *float64 `json:"demand_estimate,omitempty"`
}

func priceView(rec pricing.PriceRecord) PriceView {
	v := PriceView{PriceRecord: rec, Why: pricing.Explain(rec)}
	if d, ok := pricing.DemandEstimate(rec.Reason); ok {
		v.DemandEstimate = &d
	}
	return v
}

// PriceItem is one SKU of GET /v1/prices: its price, what it is, its stock
// and its recent prices.
type PriceItem struct {
	PriceView
	Name      string            `json:"name"`
	Category  string            `json:"category"`
	Available int64             `json:"available"`
	Threshold int64             `json:"threshold"`
	Recent    []pricebook.Point `json:"recent"`
}

// PricePage is one page of GET /v1/prices.
type PricePage struct {
	Items      []PriceItem `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// recentPrices is how many of a SKU's latest prices a listing shows.
const recentPrices = 24

// listPrices serves a page of SKUs with their prices from one catalogue
// query (products with stock) and one price history query for the page.
func (s *Server) listPrices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := catalog.ListQuery{Category: q.Get("category"), Search: q.Get("q")}
	limit, err := limitParam(r, 25, 200)
	if err != nil {
		return err
	}
	lq.Limit = limit
	if lq.AfterSKU, err = skuCursor(r); err != nil {
		return err
	}
	page, next, err := s.o.Catalog.ListCurrent(r.Context(), lq)
	if err != nil {
		return err
	}
	skus := make([]string, len(page))
	for i, c := range page {
		skus[i] = c.Product.SKU
	}
	recent := map[string][]pricebook.Point{}
	if s.o.Prices != nil {
		if recent, err = s.o.Prices.Recent(r.Context(), skus, recentPrices); err != nil {
			return err
		}
	}
	out := PricePage{Items: make([]PriceItem, 0, len(page))}
	for _, c := range page {
		p := c.Product
		rec := pricebook.Base(p.SKU, p.BasePrice, p.UpdatedAt)
		if s.o.Prices != nil {
			rec = s.o.Prices.Current(p.SKU, p.BasePrice, p.UpdatedAt)
		}
		points := recent[p.SKU]
		if points == nil {
			points = []pricebook.Point{}
		}
		out.Items = append(out.Items, PriceItem{
			PriceView: priceView(rec), Name: p.Name, Category: p.Category,
			Available: c.Stock.OnHand - c.Stock.Reserved, Threshold: p.LowStockThreshold, Recent: points,
		})
	}
	if next != "" {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listPricingRules(w http.ResponseWriter, _ *http.Request) error {
	if s.o.RuleReader == nil {
		return apiErr(http.StatusServiceUnavailable, "pricing_unavailable", "this instance does not read pricing rules")
	}
	rules := s.o.RuleReader.Rules()
	if rules == nil {
		rules = []pricing.Rule{} // an empty list, not null
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rules})
	return nil
}

func (s *Server) getPricingRule(w http.ResponseWriter, r *http.Request) error {
	category := r.PathValue("category")
	if !catalog.ValidCategory(category) {
		return apiErr(http.StatusBadRequest, "invalid_category", "category must be 1-%d printable characters of valid UTF-8", catalog.MaxCategoryRunes)
	}
	if s.o.RuleReader == nil {
		return apiErr(http.StatusServiceUnavailable, "pricing_unavailable", "this instance does not read pricing rules")
	}
	rule, ok := s.o.RuleReader.Rule(category)
	if !ok {
		return apiErr(http.StatusNotFound, "rule_not_found", "category %q has no pricing rule of its own (the default rule prices it)", category)
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
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
	writeJSON(w, http.StatusOK, priceView(rec))
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
	items := []PriceView{}
	if s.o.Prices != nil {
		recs, err := s.o.Prices.History(r.Context(), sku, limit)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			items = append(items, priceView(rec))
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
