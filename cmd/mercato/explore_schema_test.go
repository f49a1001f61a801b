package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mercato-platform/mercato/internal/event"
)

// schemas are the event contracts of docs/events, compiled.
type schemas map[string]*jsonschema.Schema

func loadSchemas() (schemas, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := schemas{}
	for _, ct := range event.Contracts() {
		path := filepath.Join("..", "..", "docs", "events", ct.Type+".schema.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the %s schema: %w", ct.Type, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
		url := "file:///events/" + ct.Type + ".schema.json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
		if out[ct.Type], err = c.Compile(url); err != nil {
			return nil, fmt.Errorf("compiling %s: %w", path, err)
		}
	}
	return out, nil
}

// check validates one record of type typ against its schema.
func (s schemas) check(typ string, value []byte) error {
	sch, ok := s[typ]
	if !ok {
		return fmt.Errorf("event type %q has no contract in internal/event", typ)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s breaks its schema: %v", typ, err)
	}
	return nil
}

// TestSchemasRefuseABrokenRecord: the check the explorer runs on the live
// log fails a record that breaks its contract.
func TestSchemasRefuseABrokenRecord(t *testing.T) {
	t.Parallel()
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	good, err := event.New(event.TypePurchase, "test", "SKU-1", time.Now(), event.Purchase{SKU: "SKU-1", Quantity: 1, UnitPrice: 100, OrderID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := good.Encode()
	if err := s.check(event.TypePurchase, raw); err != nil {
		t.Fatalf("a valid purchase: %v", err)
	}
	for name, v := range map[string]string{
		"quantity as a string":        `{"sku":"SKU-1","quantity":"1","unit_price":100,"order_id":"o"}`,
		"no order id":                 `{"sku":"SKU-1","quantity":1,"unit_price":100}`,
		"a field not in the contract": `{"sku":"SKU-1","quantity":1,"unit_price":100,"order_id":"o","coupon":"x"}`,
	} {
		bad := good
		bad.Data = []byte(v)
		raw, _ := bad.Encode()
		if err := s.check(event.TypePurchase, raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := s.check("purchase.v2", raw); err == nil {
		t.Error("an unknown type was accepted")
	}
}
