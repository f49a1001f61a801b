package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/catalog"
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
		{"zero price", func(p *catalog.Product) { p.BasePrice = 0 }, "base_price"},
		{"floor above base", func(p *catalog.Product) { p.PriceFloor = 1001 }, "base_price"},
		{"base above ceiling", func(p *catalog.Product) { p.PriceCeiling = 999 }, "base_price"},
		{"negative threshold", func(p *catalog.Product) { p.LowStockThreshold = -1 }, "low_stock_threshold"},
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
