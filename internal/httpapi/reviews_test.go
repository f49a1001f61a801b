package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/bleveindex"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// newEnvOpts is newEnv with Options edited before the server is built,
// for the parts newEnv leaves out (reviews, reports, rules).
func newEnvOpts(t *testing.T, edit func(o *httpapi.Options, s *sqlstore.Store)) *env {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	gateway := payments.NewSimulated(payments.SimulatedOptions{})
	checkout := orders.NewService(s, prices{s}, s, gateway, orders.Options{PaymentTimeout: time.Second})
	o := httpapi.Options{AdminToken: token, Catalog: catalog.NewService(s, nil, nil),
		Inventory: inventory.NewService(s, s, nil, nil), Orders: checkout, Version: "test"}
	edit(&o, s)
	api := httpapi.New(o)
	// Cleanups run last first: background work ends before the store closes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := api.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{srv: srv, api: api, store: s, gateway: gateway}
}

// storeOrders looks orders up for the reviews service.
type storeOrders struct{ s *sqlstore.Store }

func (o storeOrders) OrderCustomer(ctx context.Context, id string) (string, bool, error) {
	ord, err := o.s.GetOrder(ctx, id)
	if errors.Is(err, orders.ErrNotFound) {
		return "", false, nil
	}
	return ord.CustomerID, err == nil, err
}

type positive struct{}

func (positive) Classify(string) sentiment.Result {
	return sentiment.Result{Lang: "en", Label: reviews.Positive, Score: 0.9}
}

func newReviewsEnv(t *testing.T) *env {
	return newEnvOpts(t, func(o *httpapi.Options, s *sqlstore.Store) {
		idx, err := bleveindex.OpenInMemory(bleveindex.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idx.Close() })
		o.Reviews = reviews.NewService(s, s, storeOrders{s}, func() (reviews.Classifier, error) { return positive{}, nil }, idx, reviews.Options{})
	})
}

func TestReviewSearchRefusesDatesOutsideTheSearchableYears(t *testing.T) {
	t.Parallel()
	e := newReviewsEnv(t)
	tests := []struct {
		query  string
		status int
		code   string
	}{
		{"to=9999-12-31", 400, "invalid_date_range"}, // beyond what Bleve's int64 nanoseconds hold
		{"from=0001-01-02", 400, "invalid_date_range"},
		{"from=1969-12-31", 400, "invalid_date_range"},
		{"to=2201-01-01", 400, "invalid_date_range"},
		{"from=2262-04-12T00:00:00Z&to=9999-01-01T00:00:00Z", 400, "invalid_date_range"},
		{"from=2026-12-01&to=2026-11-01", 400, "invalid_date_range"},
		{"from=x", 400, "invalid_from"},
		{"from=1970-01-01&to=2200-12-31", 200, ""},
		{"from=2026-11-25T00:00:00%2B09:00&to=2026-11-25", 200, ""},
		{"from=2026-11-25&to=2026-11-25", 200, ""}, // empty, not inverted
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			status, body := e.do(t, "GET", "/v1/reviews/search?"+tt.query, "")
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
}

func TestReviewOrderMustBeTheAuthorsOwn(t *testing.T) {
	t.Parallel()
	e := newReviewsEnv(t)
	e.product(t, "SKU-1", 1000, 10)
	status, raw, _ := e.order(t, "c1", "k1", orderBody("tok_ok", "SKU-1", 1))
	var placed struct{ ID string }
	if err := json.Unmarshal(raw, &placed); status != 201 || err != nil || placed.ID == "" {
		t.Fatalf("order: %d %s", status, raw)
	}
	review := func(orderID string) string {
		b, _ := json.Marshal(map[string]any{"sku": "SKU-1", "rating": 5, "text": "great", "order_id": orderID})
		return string(b)
	}
	tests := []struct {
		name, customer, body string
		status               int
		code                 string
	}{
		{"own order", "c1", review(placed.ID), 201, ""},
		{"no order", "c2", `{"sku":"SKU-1","rating":4,"text":"fine"}`, 201, ""},
		{"another customer's order", "c2", review(placed.ID), 404, "order_not_found"},
		{"no such order", "c1", review("ord_nope"), 404, "order_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.do(t, "POST", "/v1/reviews", tt.body, "X-Customer-ID", tt.customer)
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
}
