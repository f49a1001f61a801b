package httpapi

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/mercato-platform/mercato/internal/money"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// OpenAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		path := strings.ReplaceAll(rt.Path, "{$}", "")
		if path == "" {
			path = "/"
		}
		op := map[string]any{"summary": rt.Summary, "operationId": strings.ToLower(rt.Method) + opName(path)}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		switch rt.Access {
		case Admin, AdminOnly:
			op["security"] = []any{map[string]any{"adminToken": []any{}}}
		case Customer:
			op["security"] = []any{map[string]any{"customerId": []any{}}, map[string]any{"adminToken": []any{}}}
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": jsonContent(ref(rt.Body))}
		}
		ok := map[string]any{"description": "success"}
		if rt.Result != "" {
			ok["content"] = jsonContent(ref(rt.Result))
		}
		if rt.Path == "/v1/events/stream" {
			ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": ref(rt.Result)}}
			op["parameters"] = append(params, map[string]any{"name": "Last-Event-ID", "in": "header", "required": false, "schema": str})
		}
		responses := map[string]any{strconv.Itoa(rt.Status): ok}
		if rt.Path == "/v1/orders" && rt.Method == "POST" {
			params = append(params,
				map[string]any{"name": "Idempotency-Key", "in": "header", "required": true, "schema": map[string]any{"type": "string", "maxLength": 255}},
				map[string]any{"name": "X-Customer-ID", "in": "header", "required": true, "schema": str})
			op["parameters"] = params
		}
		if rt.Method == "PUT" && rt.Path == "/v1/products/{sku}" {
			responses["201"] = map[string]any{"description": "created", "content": jsonContent(ref(rt.Result))}
		}
		if rt.Method == "POST" && rt.Path == "/v1/reports/sales/runs" {
			responses["202"] = map[string]any{
				"description": "the run goes on in the background; poll the Location until its status is succeeded or failed",
				"headers": map[string]any{
					"Location":    map[string]any{"description": "GET /v1/reports/sales/runs/{id} of the run", "schema": str},
					"Retry-After": map[string]any{"description": "seconds to wait before polling", "schema": i64},
				},
				"content": jsonContent(ref(rt.Result)),
			}
		}
		responses["default"] = map[string]any{"description": "error", "content": jsonContent(ref("Error"))}
		op["responses"] = responses
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	paths["/metrics"] = map[string]any{"get": map[string]any{
		"summary": "Prometheus metrics.", "operationId": "getMetrics",
		"responses": map[string]any{"200": map[string]any{"description": "Prometheus text format"}},
	}}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Mercato API", "version": s.o.Version},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"adminToken": map[string]any{"type": "http", "scheme": "bearer"},
				"customerId": map[string]any{"type": "apiKey", "in": "header", "name": "X-Customer-ID"},
			},
			"schemas": schemas(),
		},
	}
}

func opName(path string) string {
	var b strings.Builder
	up := true
	for _, c := range path {
		switch {
		case c == '/' || c == '{' || c == '}' || c == '.' || c == '-' || c == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func obj(required []string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	str   = map[string]any{"type": "string"}
	i64   = map[string]any{"type": "integer", "format": "int64"}
	num   = map[string]any{"type": "number"}
	stamp = map[string]any{"type": "string", "format": "date-time"}
)

func schemas() map[string]any {
	reorder := obj(nil, map[string]any{
		"lead_time_days": num, "service_level": num, "order_cost": i64, "unit_cost": i64, "supplier": str,
		"pack_size": i64, "min_order_qty": i64,
	})
	product := map[string]any{
		"sku": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "name": str, "category": str,
		"base_price": i64, "price_floor": i64, "price_ceiling": i64, "low_stock_threshold": i64,
		"reorder": reorder, "version": i64, "created_at": stamp, "updated_at": stamp,
	}
	price := map[string]any{"type": "integer", "format": "int64", "minimum": 1, "maximum": money.MaxAmount}
	quantity := map[string]any{"type": "integer", "format": "int64", "minimum": 0, "maximum": money.MaxStock}
	stock := obj(nil, map[string]any{"on_hand": i64, "reserved": i64, "available": i64, "on_order": i64})
	view := map[string]any{"stock": stock}
	for k, v := range product {
		view[k] = v
	}
	priceProps := map[string]any{
		"sku": str, "price": i64, "base_price": i64, "updated_at": stamp,
		"reason": obj(nil, map[string]any{
			"rule_id": str, "demand_ratio": num, "units_in_window": i64, "short_rate_per_hour": num, "baseline_rate_per_hour": num,
			"stock_cover_hours": num, "available": i64, "target_price": i64, "previous_price": i64,
			"clipped_by": map[string]any{"type": "string", "enum": []string{"", "floor", "ceiling", "step"}},
			"learn": obj(nil, map[string]any{
				"elasticity": num, "elasticity_sd": num, "sampled_elasticity": num, "prior_elasticity": num,
				"expected_units_per_hour_old": num, "expected_units_per_hour_new": num, "objective_per_hour_old": num, "objective_per_hour_new": num,
				"objective": str, "shock_factor": num, "horizon_hours": num, "stock_bound": map[string]any{"type": "boolean"}, "evidence_units": i64,
			}),
		}),
		"why":             map[string]any{"type": "string", "description": "the reason written for a person"},
		"demand_estimate": map[string]any{"type": "number", "description": "learned demand at this price, units per hour (learn policy decisions only)"},
	}
	priceItem := map[string]any{"name": str, "category": str, "available": i64, "threshold": i64,
		"recent": map[string]any{"type": "array", "maxItems": 24, "description": "the latest prices, oldest first",
			"items": obj([]string{"at", "price"}, map[string]any{"at": stamp, "price": i64})},
	}
	for k, v := range priceProps {
		priceItem[k] = v
	}
	return map[string]any{
		"Error": obj([]string{"error"}, map[string]any{
			"error": obj([]string{"code", "message"}, map[string]any{"code": str, "message": str}),
		}),
		"Status": map[string]any{"type": "object"},
		"EventStreamEvent": obj([]string{"id", "event", "data"}, map[string]any{
			"id":    map[string]any{"type": "string", "description": "cursor: Kafka positions, valid on every api process; send it back as Last-Event-ID"},
			"event": map[string]any{"type": "string", "description": "the envelope type (order.created, price.changed, ...) or reset"},
			"data":  map[string]any{"type": "string", "description": "the event envelope {id,type,source,time,subject,data,schema_version} as JSON on one line; for reset {\"reason\"}"},
		}),
		"ProductPut": obj([]string{"name", "category", "base_price", "price_floor", "price_ceiling"}, map[string]any{
			"name": str, "category": str, "base_price": price, "price_floor": price, "price_ceiling": price,
			"stock": quantity, "low_stock_threshold": quantity, "reorder": reorder,
		}),
		"Product": obj(nil, product),
		"Levels": obj(nil, map[string]any{
			"sku": str, "on_hand": i64, "reserved": i64, "available": i64, "on_order": i64, "low_stock_threshold": i64,
		}),
		"OrderRequest": obj([]string{"items", "payment"}, map[string]any{
			"items": map[string]any{"type": "array", "minItems": 1, "maxItems": 50, "items": obj([]string{"sku", "quantity"}, map[string]any{
				"sku": str, "quantity": map[string]any{"type": "integer", "minimum": 1, "maximum": 1000}})},
			"payment": obj([]string{"method", "token"}, map[string]any{"method": map[string]any{"type": "string", "enum": []string{"card"}}, "token": str}),
		}),
		"Order": obj(nil, map[string]any{
			"id": str, "customer_id": str,
			"status": map[string]any{"type": "string", "enum": []string{"pending", "reserved", "paid", "failing", "payment_failed", "cancelled"}},
			"items":  map[string]any{"type": "array", "items": obj(nil, map[string]any{"sku": str, "quantity": i64, "unit_price": i64, "base_price": i64, "category": str})},
			"total":  i64, "payment_id": str, "failure_reason": str, "created_at": stamp, "updated_at": stamp,
		}),
		"Price":           obj(nil, priceProps),
		"PriceHistory":    obj([]string{"items"}, map[string]any{"sku": str, "items": map[string]any{"type": "array", "items": ref("Price")}}),
		"PricePage":       obj([]string{"items"}, map[string]any{"next_cursor": str, "items": map[string]any{"type": "array", "items": obj(nil, priceItem)}}),
		"PricingRuleList": obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": ref("PricingRule")}}),
		"PricingRule": obj(nil, map[string]any{
			"id": str, "category": str, "demand_weight": num, "max_demand_adjust": num, "smoothing_units": num,
			"scarcity_weight": num, "target_cover_hours": num, "overstock_weight": num, "overstock_cover_hours": num,
			"step_limit": num, "cooldown_seconds": i64, "price_unit": i64, "frozen": map[string]any{"type": "boolean"},
			"policy":    map[string]any{"type": "string", "enum": []string{"rule", "learn"}},
			"objective": map[string]any{"type": "string", "enum": []string{"margin", "revenue"}},
			"learn": obj(nil, map[string]any{
				"prior_elasticity": num, "prior_elasticity_sd": num, "memory_hours": num, "decision_seconds": i64,
				"horizon_hours": num, "min_units": i64,
				"demand_by_hour":    map[string]any{"type": "array", "minItems": 24, "maxItems": 24, "items": num},
				"demand_by_weekday": map[string]any{"type": "array", "minItems": 7, "maxItems": 7, "items": num},
			}),
		}),
		"ReviewRequest": obj([]string{"sku", "rating", "text"}, map[string]any{
			"sku": str, "rating": map[string]any{"type": "integer", "minimum": 1, "maximum": 5},
			"text": map[string]any{"type": "string", "minLength": 1, "maxLength": 5000}, "order_id": str,
		}),
		"Sentiment":     obj(nil, map[string]any{"label": map[string]any{"type": "string", "enum": []string{"positive", "negative"}}, "score": num}),
		"ReviewCreated": obj(nil, map[string]any{"id": str, "sku": str, "rating": i64, "lang": str, "sentiment": ref("Sentiment"), "created_at": stamp}),
		"ReviewSearch": obj(nil, map[string]any{"total": i64,
			"hits": map[string]any{"type": "array", "items": obj(nil, map[string]any{
				"id": str, "sku": str, "rating": i64, "text": str, "lang": str, "sentiment": ref("Sentiment"), "created_at": stamp,
				"score": num, "highlights": map[string]any{"type": "array", "items": str}})},
			"aggregations": obj(nil, map[string]any{"sentiment": map[string]any{"type": "object"}, "rating": map[string]any{"type": "object"},
				"by_day": map[string]any{"type": "array", "items": obj(nil, map[string]any{"date": str, "count": i64, "positive": i64, "negative": i64})}}),
		}),
		"ReviewSummary": obj(nil, map[string]any{"sku": str, "count": i64, "positive": i64, "negative": i64, "positive_ratio": num, "avg_rating": num,
			"top_positive_terms": map[string]any{"type": "array", "items": str}, "top_negative_terms": map[string]any{"type": "array", "items": str},
			"top_positive_words": map[string]any{"type": "array", "items": ref("TermWord")}, "top_negative_words": map[string]any{"type": "array", "items": ref("TermWord")},
			"trend": map[string]any{"type": "array", "items": obj(nil, map[string]any{"date": str, "count": i64, "positive": i64, "negative": i64})}}),
		"SimilarReviews": obj(nil, map[string]any{"id": str, "items": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}),
		"Transition":     obj([]string{"to"}, map[string]any{"to": map[string]any{"type": "string", "enum": []string{"confirmed", "shipped", "received", "cancelled"}}}),
		"PurchaseOrder": obj(nil, map[string]any{
			"id": str, "sku": str, "quantity": i64, "supplier": str, "urgent": map[string]any{"type": "boolean"},
			"status":     map[string]any{"type": "string", "enum": []string{"requested", "confirmed", "shipped", "received", "cancelled"}},
			"created_at": stamp, "expected_at": stamp, "updated_at": stamp, "trigger_event": str,
			"justification": obj(nil, map[string]any{"d": num, "sigma": num, "lead_time_days": num, "z": num, "rop": num, "eoq": num, "position": i64, "quantity": i64}),
		}),
		"PurchaseOrderList": obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": ref("PurchaseOrder")}}),
		"Adjustment":        obj([]string{"delta", "reason"}, map[string]any{"delta": i64, "reason": str, "ref": str}),
		"ReportRunRequest": obj([]string{"date"}, map[string]any{"date": map[string]any{"type": "string", "format": "date"},
			"to": map[string]any{"type": "string", "format": "date", "description": "last day of a range (default: date)"}}),
		"ReportRun": obj(nil, map[string]any{"id": str, "report": str, "from": str, "to": str, "engine": str, "trigger": str,
			"attempt": i64, "status": map[string]any{"type": "string", "enum": []string{"running", "succeeded", "failed"}},
			"started_at": stamp, "finished_at": stamp, "duration_ms": i64, "fingerprint": str, "error": str, "stale": map[string]any{"type": "boolean"},
			"inputs": map[string]any{"type": "array", "items": ref("ReportInput")}}),
		"ReportInput":   obj(nil, map[string]any{"table": str, "date": str, "rows": i64}),
		"ReportRunList": obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": ref("ReportRun")}}),
		"SalesReport": obj(nil, map[string]any{"report": str, "from": str, "to": str, "currency": str, "engine": str, "generated_at": stamp,
			"stale": map[string]any{"type": "boolean"}, "run_id": str,
			"summary": obj(nil, map[string]any{"orders": i64, "lines": i64, "units": i64, "gross_revenue": i64, "net_revenue": i64,
				"average_order_value": num, "payments_authorized": i64, "payments_declined": i64, "payment_failure_rate": num,
				"cancellations": i64, "cancelled_amount": i64, "refunds": i64, "refunded_amount": i64,
				"rejected_lines": i64, "rejected_events": i64}),
			"by_category": map[string]any{"type": "array", "items": obj(nil, map[string]any{"category": str, "units": i64, "revenue": i64, "revenue_share": num})},
			"top_skus": map[string]any{"type": "array", "items": obj(nil, map[string]any{"rank": i64, "sku": str, "category": str, "units": i64,
				"revenue": i64, "avg_price": num, "avg_base_price": num, "price_index": num})},
			"hourly": map[string]any{"type": "array", "items": obj(nil, map[string]any{"hour": i64, "units": i64, "revenue": i64})},
			"inputs": map[string]any{"type": "array", "items": ref("ReportInput")}}),
		"AlertList": obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": obj(nil, map[string]any{
			"id": str, "type": map[string]any{"type": "string", "enum": []string{"low_stock", "out_of_stock"}},
			"sku": str, "available": i64, "threshold": i64, "at": stamp,
		})}, "next_cursor": str}),
		"Overview": obj(nil, map[string]any{"timezone": str, "day": map[string]any{"type": "string", "format": "date"},
			"orders_today": i64, "revenue_today": i64, "cost_today": i64,
			"gross_margin_today":          map[string]any{"type": []string{"number", "null"}, "description": "(revenue − cost) / revenue over the paid lines whose product has a reorder unit cost; null when none has"},
			"payments_failed_today":       i64,
			"payment_failure_rate":        map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"out_of_stock_refusals_today": i64, "outbox_backlog": i64,
			"consumer_lag": map[string]any{"type": "array", "items": obj([]string{"group", "lag"}, map[string]any{"group": str, "lag": i64})},
			"per_minute": map[string]any{"type": "array", "items": obj([]string{"minute", "orders", "revenue"}, map[string]any{
				"minute": stamp, "orders": i64, "revenue": i64})}}),
		"TermWord":  obj([]string{"term", "word"}, map[string]any{"term": str, "word": map[string]any{"type": "string", "description": "the word written most often for the term (its stem or lemma)"}}),
		"OrderPage": obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": ref("Order")}, "next_cursor": str}),
		"OrderTimeline": obj([]string{"order_id", "events"}, map[string]any{"order_id": str, "events": map[string]any{"type": "array", "items": obj([]string{"at", "type", "detail"}, map[string]any{
			"at": stamp, "type": map[string]any{"type": "string", "enum": []string{"created", "reserved", "paid", "payment_failed", "cancelled", "refunded"}}, "detail": str,
		})}}),
		"ProductView": obj(nil, view),
		"ProductPage": obj([]string{"items"}, map[string]any{
			"items": map[string]any{"type": "array", "items": ref("Product")}, "next_cursor": str,
		}),
	}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, s.OpenAPI())
	return nil
}
