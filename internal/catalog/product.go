package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/money"
)

// Sentinel errors; the HTTP layer maps them to status codes in one place.
var (
	ErrNotFound        = errors.New("product not found")
	ErrInvalid         = errors.New("invalid product")
	ErrWouldGoNegative = errors.New("stock change would leave on-hand below reserved")
)

// ValidationError names the field that is wrong.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }
func (e *ValidationError) Unwrap() error { return ErrInvalid }

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidSKU reports whether s is a well-formed SKU.
func ValidSKU(s string) bool { return skuPattern.MatchString(s) }

// MaxCategoryRunes bounds a category's length.
const MaxCategoryRunes = 100

// ValidCategory reports whether s is a well-formed category: 1-100
// characters of valid UTF-8, all printable (letters of any script, digits,
// punctuation, symbols, spaces), not only spaces. U+FFFD is refused too: it
// is what undecodable bytes turn into, never a name someone chose.
func ValidCategory(s string) bool {
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return false
	}
	n := 0
	for _, r := range s {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return false
		}
		n++
	}
	return n <= MaxCategoryRunes
}

// ReorderPolicy is how replenishment orders this SKU.
type ReorderPolicy = event.ReorderPolicy

// Product is a SKU in the catalogue. Money is in integer minor units. Its
// fields are the product.upserted contract (event.Product).
type Product event.Product

// Validate checks the product's own invariants.
func (p Product) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &ValidationError{Field: field, Message: fmt.Sprintf(format, a...)})
	}
	if !ValidSKU(p.SKU) {
		bad("sku", "must match [A-Za-z0-9._-]{1,64}")
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(p.Name)); n < 1 || n > 200 {
		bad("name", "must be 1-200 characters")
	}
	if !utf8.ValidString(p.Name) {
		bad("name", "must be valid UTF-8")
	}
	if !ValidCategory(p.Category) {
		bad("category", "must be 1-%d printable characters of valid UTF-8", MaxCategoryRunes)
	}
	pricesInRange := true
	for _, f := range []struct {
		name  string
		price int64
	}{{"base_price", p.BasePrice}, {"price_floor", p.PriceFloor}, {"price_ceiling", p.PriceCeiling}} {
		if f.price < 1 || f.price > money.MaxAmount {
			bad(f.name, "must be 1-%d minor units, got %d", money.MaxAmount, f.price)
			pricesInRange = false
		}
	}
	if pricesInRange && (p.PriceFloor > p.BasePrice || p.BasePrice > p.PriceCeiling) {
		bad("base_price", "need price_floor <= base_price <= price_ceiling, got %d <= %d <= %d", p.PriceFloor, p.BasePrice, p.PriceCeiling)
	}
	if p.LowStockThreshold < 0 || p.LowStockThreshold > money.MaxStock {
		bad("low_stock_threshold", "must be 0-%d, got %d", money.MaxStock, p.LowStockThreshold)
	}
	r := p.Reorder
	if r.LeadTimeDays < 0 || r.LeadTimeDays > 365 {
		bad("reorder.lead_time_days", "must be 0-365")
	}
	if r.ServiceLevel != 0 && (r.ServiceLevel <= 0.5 || r.ServiceLevel >= 1) {
		bad("reorder.service_level", "must be in (0.5, 1), e.g. 0.95")
	}
	if r.OrderCost < 0 || r.UnitCost < 0 || r.OrderCost > money.MaxAmount || r.UnitCost > money.MaxAmount {
		bad("reorder", "order_cost and unit_cost must be 0-%d minor units", money.MaxAmount)
	}
	if r.PackSize < 0 || r.PackSize > 1_000_000 || r.MinOrderQty < 0 || r.MinOrderQty > 1_000_000_000 {
		bad("reorder", "pack_size and min_order_qty must be 0 or positive")
	}
	if len(r.Supplier) > 200 {
		bad("reorder.supplier", "must be at most 200 characters")
	}
	return errors.Join(errs...)
}
