package catalog_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/money"
)

func valid() catalog.Product {
	return catalog.Product{SKU: "SKU-1", Name: "사과 1kg", Category: "fresh", BasePrice: 1000, PriceFloor: 900, PriceCeiling: 1200,
		Reorder: catalog.ReorderPolicy{LeadTimeDays: 2, ServiceLevel: 0.95}}
}

func TestProductValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*catalog.Product)
		field string
	}{
		{"valid", func(*catalog.Product) {}, ""},
		{"floor equals base equals ceiling", func(p *catalog.Product) { p.PriceFloor, p.PriceCeiling = 1000, 1000 }, ""},
		{"sku chars", func(p *catalog.Product) { p.SKU = "a/b" }, "sku"},
		{"sku long", func(p *catalog.Product) { p.SKU = strings.Repeat("a", 65) }, "sku"},
		{"sku 64", func(p *catalog.Product) { p.SKU = strings.Repeat("a", 64) }, ""},
		{"blank name", func(p *catalog.Product) { p.Name = " " }, "name"},
		{"long name", func(p *catalog.Product) { p.Name = strings.Repeat("가", 201) }, "name"},
		{"no category", func(p *catalog.Product) { p.Category = "" }, "category"},
		{"category invalid utf8", func(p *catalog.Product) { p.Category = "\xff" }, "category"},
		{"category replacement char", func(p *catalog.Product) { p.Category = "\ufffd" }, "category"},
		{"category control char", func(p *catalog.Product) { p.Category = "fresh\n" }, "category"},
		{"category spaces only", func(p *catalog.Product) { p.Category = "  " }, "category"},
		{"category long", func(p *catalog.Product) { p.Category = strings.Repeat("가", 101) }, "category"},
		{"category 100 hangul", func(p *catalog.Product) { p.Category = strings.Repeat("가", 100) }, ""},
		{"category words", func(p *catalog.Product) { p.Category = "home & kitchen" }, ""},
		{"zero price", func(p *catalog.Product) { p.BasePrice = 0 }, "base_price"},
		{"floor above base", func(p *catalog.Product) { p.PriceFloor = 1001 }, "base_price"},
		{"base above ceiling", func(p *catalog.Product) { p.PriceCeiling = 999 }, "base_price"},
		{"negative threshold", func(p *catalog.Product) { p.LowStockThreshold = -1 }, "low_stock_threshold"},
		{"threshold above max stock", func(p *catalog.Product) { p.LowStockThreshold = money.MaxStock + 1 }, "low_stock_threshold"},
		{"threshold at max stock", func(p *catalog.Product) { p.LowStockThreshold = money.MaxStock }, ""},
		{"prices at max amount", func(p *catalog.Product) {
			p.BasePrice, p.PriceFloor, p.PriceCeiling = money.MaxAmount, money.MaxAmount, money.MaxAmount
		}, ""},
		{"base above max amount", func(p *catalog.Product) { p.BasePrice, p.PriceCeiling = math.MaxInt64, math.MaxInt64 }, "base_price"},
		{"ceiling above max amount", func(p *catalog.Product) { p.PriceCeiling = money.MaxAmount + 1 }, "price_ceiling"},
		{"floor above max amount", func(p *catalog.Product) { p.PriceFloor = money.MaxAmount + 1 }, "price_floor"},
		{"zero floor", func(p *catalog.Product) { p.PriceFloor = 0 }, "price_floor"},
		{"negative ceiling", func(p *catalog.Product) { p.PriceCeiling = -1 }, "price_ceiling"},
		{"unit cost above max amount", func(p *catalog.Product) { p.Reorder.UnitCost = money.MaxAmount + 1 }, "reorder"},
		{"lead time", func(p *catalog.Product) { p.Reorder.LeadTimeDays = 400 }, "reorder.lead_time_days"},
		{"service level 1", func(p *catalog.Product) { p.Reorder.ServiceLevel = 1 }, "reorder.service_level"},
		{"service level percent", func(p *catalog.Product) { p.Reorder.ServiceLevel = 95 }, "reorder.service_level"},
		{"negative cost", func(p *catalog.Product) { p.Reorder.UnitCost = -1 }, "reorder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			tt.edit(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *catalog.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field || !errors.Is(err, catalog.ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tt.field)
			}
		})
	}
}

func TestValidCategory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		category string
		ok       bool
	}{
		{"audio", true},
		{"식품", true},
		{"home & kitchen", true},
		{"+1-555 & other \"", true},
		{"", false},
		{" ", false},
		{"\xff", false},            // %FF in a path
		{"\ufffd", false},          // what undecodable bytes become
		{"a\x00b", false},          // NUL
		{"tab\there", false},       // control character
		{"zero\u200bwidth", false}, // invisible format character
		{strings.Repeat("x", catalog.MaxCategoryRunes), true},
		{strings.Repeat("x", catalog.MaxCategoryRunes+1), false},
	}
	for _, tt := range tests {
		if got := catalog.ValidCategory(tt.category); got != tt.ok {
			t.Errorf("ValidCategory(%q) = %v, want %v", tt.category, got, tt.ok)
		}
	}
}
