package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/livefeed"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/web"
)

// Access says who may call a route.
type Access int

// Access levels.
const (
	Public   Access = iota
	Admin           // Authorization: Bearer <admin token>
	Customer        // X-Customer-ID, or the admin token
	// AdminOnly is Admin for data about every customer: a caller who is
	// a customer (X-Customer-ID, no token) is told 403 forbidden.
	AdminOnly
)

// Route is one entry of the API: what the mux serves and what OpenAPI says.
type Route struct {
	Method  string
	Path    string // Go 1.22 pattern path, e.g. /v1/products/{sku}
	Summary string
	Access  Access
	Query   []string // documented query parameters
	Body    string   // OpenAPI schema name of the request body, if any
	Result  string   // OpenAPI schema name of the success body
	Status  int      // success status
	handler func(w http.ResponseWriter, r *http.Request) error
}

// ReadyCheck is one dependency /readyz waits for.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options build a Server.
type Options struct {
	AdminToken string
	Catalog    *catalog.Service
	Inventory  *inventory.Service
	Orders     *orders.Service
	Purchasing *replenishment.Service
	Prices     PriceBook
	Reviews    *reviews.Service
	Rules      RulePublisher
	// RuleReader serves GET /v1/pricing/rules; nil answers 503.
	RuleReader RuleReader
	Reports    Reports
	// ReportWait is how long POST /v1/reports/sales/runs waits for a run
	// before answering 202 with where to poll (default 10 s). Keep it well
	// below the http.Server's WriteTimeout, or the answer is lost.
	ReportWait time.Duration
	Ready      []ReadyCheck
	// OutboxBacklog counts events not relayed yet, and ConsumerLag reads
	// each consumer group's lag, for GET /v1/overview (left nil, the
	// overview shows 0 and no groups).
	OutboxBacklog func(ctx context.Context) (int64, error)
	ConsumerLag   func(ctx context.Context) ([]GroupLag, error)
	// Events is the live event feed of GET /v1/events/stream; nil answers
	// 503 unavailable.
	Events *livefeed.Hub
	// EventsHeartbeat is how often an idle event stream gets a ": ping"
	// comment (default 15 s).
	EventsHeartbeat time.Duration
	// OpsOnly serves only /healthz, /readyz and /metrics: the HTTP face of a
	// process that runs worker roles and no api.
	OpsOnly  bool
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Version  string
}

// Server is the HTTP API.
type Server struct {
	o          Options
	background *background
	now        func() time.Time
	log        *slog.Logger
	mux        *http.ServeMux
	routes     []Route
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	checkouts  *prometheus.CounterVec
	// draining is set once the process is stopping: /readyz fails so load
	// balancers stop sending traffic, while every route still answers.
	draining atomic.Bool
}

// New builds the API's handler.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.ReportWait <= 0 {
		o.ReportWait = 10 * time.Second
	}
	s := &Server{
		o: o, log: o.Logger, mux: http.NewServeMux(), now: time.Now, background: newBackground(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mercato_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	o.Registry.MustRegister(s.requests, s.latency)
	if !o.OpsOnly {
		s.checkouts = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_checkout_outcomes_total", Help: "POST /v1/orders by outcome: created, replayed, or the error code answered.",
		}, []string{"code"})
		for _, c := range checkoutOutcomes {
			s.checkouts.WithLabelValues(c)
		}
		o.Registry.MustRegister(s.checkouts)
	}
	s.routes = s.table()
	if o.OpsOnly {
		s.routes = slices.DeleteFunc(s.routes, func(rt Route) bool { return rt.Path != "/healthz" && rt.Path != "/readyz" })
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	if !o.OpsOnly {
		s.mux.Handle("GET /static/", s.instrument("/static/", "GET", http.FileServerFS(web.Static)))
	}
	s.mux.Handle("GET /metrics", s.instrument("/metrics", "GET", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry})))
	s.mux.Handle("/", s.instrument("unmatched", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiErr(http.StatusNotFound, "not_found", "no route for %s %s", r.Method, r.URL.Path))
	})))
	return s
}

// Drain makes /readyz answer 503 from now on, while every other route keeps
// serving: the first step of a graceful stop.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops the work requests left running (report runs: each is
// recorded as failed, to be run again) and waits until it has ended or
// ctx is done. Call it after the http.Server's Shutdown.
func (s *Server) Shutdown(ctx context.Context) error { return s.background.shutdown(ctx) }

// Routes returns the route table (for tests and the OpenAPI document).
func (s *Server) Routes() []Route { return s.routes }

// Request header limits. Go's server answers requests over its
// MaxHeaderBytes itself, in plain text, before any handler runs; so the
// http.Server gets ServerMaxHeaderBytes, well above what the API accepts,
// and ServeHTTP refuses headers over MaxHeaderBytes with the API's JSON
// error. Requests beyond ServerMaxHeaderBytes (plus the 4 KiB slack
// net/http adds) still get Go's plain-text 431.
const (
	MaxHeaderBytes       = 64 << 10
	ServerMaxHeaderBytes = 1 << 20
)

// headerBytes is the size of r's header fields as sent: each "name: value\r\n"
// (Host included, which net/http moves out of r.Header).
func headerBytes(r *http.Request) int {
	n := 0
	if r.Host != "" {
		n += len("Host: \r\n") + len(r.Host)
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + len(": \r\n")
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, apiErr(http.StatusInternalServerError, "internal", "internal error"))
		}
	}()
	if n := headerBytes(r); n > MaxHeaderBytes {
		// The body is not read: close the connection rather than drain it.
		w.Header().Set("Connection", "close")
		s.writeError(w, r, apiErr(http.StatusRequestHeaderFieldsTooLarge, "headers_too_large", "request headers are %d bytes, more than the %d accepted", n, MaxHeaderBytes))
		return
	}
	s.mux.ServeHTTP(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of event streams).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) instrument(route, method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		m := method
		if m == "" {
			m = "other"
		}
		s.requests.WithLabelValues(route, m, strconv.Itoa(max(rec.status, 200))).Inc()
		s.latency.WithLabelValues(route, m).Observe(time.Since(start).Seconds())
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "dur", time.Since(start))
		}
	})
}

func (s *Server) wrap(rt Route) http.Handler {
	return s.instrument(rt.Path, rt.Method, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorize(r, rt.Access); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := rt.handler(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// IsAdmin reports whether r carries the admin token.
func (s *Server) IsAdmin(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.AdminToken)) == 1
}

var customerPattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// CustomerID returns the caller's X-Customer-ID.
func CustomerID(r *http.Request) string { return r.Header.Get("X-Customer-ID") }

func (s *Server) authorize(r *http.Request, a Access) error {
	switch a {
	case Admin, AdminOnly:
		if a == AdminOnly && r.Header.Get("Authorization") == "" && CustomerID(r) != "" {
			return apiErr(http.StatusForbidden, "forbidden", "this call needs the admin token; a customer may not make it")
		}
		if r.Header.Get("Authorization") == "" {
			return apiErr(http.StatusUnauthorized, "unauthorized", "this call needs Authorization: Bearer <admin token>")
		}
		if !s.IsAdmin(r) {
			return apiErr(http.StatusUnauthorized, "unauthorized", "the admin token is not valid")
		}
	case Customer:
		if s.IsAdmin(r) {
			return nil
		}
		if r.Header.Get("Authorization") != "" {
			return apiErr(http.StatusUnauthorized, "unauthorized", "the admin token is not valid")
		}
		id := CustomerID(r)
		if id == "" {
			return apiErr(http.StatusUnauthorized, "missing_customer_id", "this call needs an X-Customer-ID header")
		}
		if !customerPattern.MatchString(id) {
			return apiErr(http.StatusBadRequest, "invalid_customer_id", "X-Customer-ID must match [A-Za-z0-9._:@-]{1,128}")
		}
	}
	return nil
}

func (s *Server) table() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Summary: "Liveness: the process is serving.", Result: "Status", Status: 200, handler: s.healthz},
		{Method: "GET", Path: "/readyz", Summary: "Readiness: broker, store and consumers are up.", Result: "Status", Status: 200, handler: s.readyz},
		{Method: "GET", Path: "/openapi.json", Summary: "This document.", Status: 200, handler: s.openapi},
		{Method: "GET", Path: "/{$}", Summary: "The live dashboard.", Status: 200, handler: s.dashboard},
		{Method: "PUT", Path: "/v1/products/{sku}", Summary: "Create or update a product; its stock is recorded in the inventory ledger.", Access: Admin, Body: "ProductPut", Result: "ProductView", Status: 200, handler: s.putProduct},
		{Method: "GET", Path: "/v1/products/{sku}", Summary: "Read a product.", Result: "ProductView", Status: 200, handler: s.getProduct},
		{Method: "GET", Path: "/v1/products", Summary: "List products by SKU, optionally of one category.", Query: []string{"category", "limit", "cursor"}, Result: "ProductPage", Status: 200, handler: s.listProducts},
		{Method: "GET", Path: "/v1/prices", Summary: "Every SKU's price by SKU (paged; q searches SKU and name, category filters) with its reason for a person, stock and its last 24 prices.", Query: []string{"q", "category", "limit", "cursor"}, Result: "PricePage", Status: 200, handler: s.listPrices},
		{Method: "GET", Path: "/v1/prices/{sku}", Summary: "A SKU's current price with the reason it moved (its base price until pricing has priced it).", Result: "Price", Status: 200, handler: s.getPrice},
		{Method: "GET", Path: "/v1/prices/{sku}/history", Summary: "A SKU's recent price changes with reasons, newest first.", Query: []string{"limit"}, Result: "PriceHistory", Status: 200, handler: s.getPriceHistory},
		{Method: "PUT", Path: "/v1/pricing/rules/{category}", Summary: "Set a category's pricing rule (coefficients, step limit, cooldown, target cover, kill switch); takes effect without restart.", Access: Admin, Body: "PricingRule", Result: "PricingRule", Status: 200, handler: s.putPricingRule},
		{Method: "GET", Path: "/v1/pricing/rules", Summary: "The categories' own pricing rules in force, by category (a PUT shows within seconds).", Result: "PricingRuleList", Status: 200, handler: s.listPricingRules},
		{Method: "GET", Path: "/v1/pricing/rules/{category}", Summary: "A category's own pricing rule in force; 404 rule_not_found when the default rule prices it.", Result: "PricingRule", Status: 200, handler: s.getPricingRule},
		{Method: "POST", Path: "/v1/reviews", Summary: "Post a review: stored, classified (language, sentiment), published on commerce.reviews for indexing.", Access: Customer, Body: "ReviewRequest", Result: "ReviewCreated", Status: 201, handler: s.createReview},
		{Method: "GET", Path: "/v1/reviews/search", Summary: "Full-text review search with filters and aggregations (sentiment, rating, by day).", Query: []string{"q", "sku", "sentiment", "min_rating", "from", "to", "limit"}, Result: "ReviewSearch", Status: 200, handler: s.searchReviews},
		{Method: "GET", Path: "/v1/products/{sku}/review-summary", Summary: "A product's review counts, ratio, rating, significant positive and negative terms, and daily trend.", Result: "ReviewSummary", Status: 200, handler: s.reviewSummary},
		{Method: "GET", Path: "/v1/reviews/{id}/similar", Summary: "The k reviews nearest to a review (cosine of review vectors).", Query: []string{"k"}, Result: "SimilarReviews", Status: 200, handler: s.similarReviews},
		{Method: "GET", Path: "/v1/inventory/{sku}", Summary: "A SKU's stock: on hand, reserved, available, on order, threshold.", Result: "Levels", Status: 200, handler: s.getInventory},
		{Method: "POST", Path: "/v1/inventory/{sku}/adjustments", Summary: "Change on-hand stock (receiving, counts, damage); never below reserved.", Access: Admin, Body: "Adjustment", Result: "Levels", Status: 200, handler: s.adjustInventory},
		{Method: "POST", Path: "/v1/orders", Summary: "Check out: reserve stock, authorize payment, commit. Needs Idempotency-Key and X-Customer-ID.", Access: Customer, Body: "OrderRequest", Result: "Order", Status: 201, handler: s.placeOrder},
		{Method: "GET", Path: "/v1/orders/{id}", Summary: "An order; only its customer or an admin sees it.", Access: Customer, Result: "Order", Status: 200, handler: s.getOrder},
		{Method: "GET", Path: "/v1/orders", Summary: "Orders, newest first, optionally of one status; admin only (a customer gets 403).", Access: AdminOnly, Query: []string{"status", "limit", "cursor"}, Result: "OrderPage", Status: 200, handler: s.listOrders},
		{Method: "GET", Path: "/v1/orders/{id}/timeline", Summary: "An order's life from its stored events, oldest first: created, reserved, paid or payment_failed, cancelled, refunded; only its customer or an admin sees it.", Access: Customer, Result: "OrderTimeline", Status: 200, handler: s.orderTimeline},
		{Method: "POST", Path: "/v1/orders/{id}/cancel", Summary: "Cancel a paid order: refund and return its stock. Idempotent.", Access: Customer, Result: "Order", Status: 200, handler: s.cancelOrder},
		{Method: "GET", Path: "/v1/overview", Summary: "Today's numbers (Asia/Seoul day): orders, revenue, cost and gross margin, payment failures, out-of-stock refusals; outbox backlog, consumer lag, and the last 60 minutes per minute. Admin only.", Access: AdminOnly, Result: "Overview", Status: 200, handler: s.overview},
		{Method: "GET", Path: "/v1/purchase-orders", Summary: "Purchase orders, newest first.", Query: []string{"status", "sku", "limit"}, Result: "PurchaseOrderList", Status: 200, handler: s.listPurchaseOrders},
		{Method: "GET", Path: "/v1/purchase-orders/{id}", Summary: "A purchase order with the numbers that justified it (d, σ, L, z, ROP, EOQ, position).", Result: "PurchaseOrder", Status: 200, handler: s.getPurchaseOrder},
		{Method: "POST", Path: "/v1/purchase-orders/{id}/transitions", Summary: "Move a purchase order: confirmed, shipped, received (adds stock once) or cancelled.", Access: Admin, Body: "Transition", Result: "PurchaseOrder", Status: 200, handler: s.transitionPurchaseOrder},
		{Method: "GET", Path: "/v1/alerts", Summary: "Stock alerts, oldest first from since; or, with order=newest, newest first paged by cursor.", Query: []string{"type", "since", "limit", "order", "cursor"}, Result: "AlertList", Status: 200, handler: s.listAlerts},
		{Method: "GET", Path: "/v1/events/stream", Summary: "Live events as Server-Sent Events: id is a cursor (send it back as Last-Event-ID, or ?last_event_id=, to resume with nothing missed), event the envelope type, data the envelope JSON. topics is a comma-separated list of orders, payments (both admin only), prices, inventory, alerts, purchase-orders, reviews, pricing-rules, products; none means all the caller may see. A gap too long to replay starts with an event: reset. sample=N (1-1000) asks for a sampled stream, for screens: at most N events of each type per write (one every 250 ms at most), the rest counted in an event: skipped whose data is {type: count}; its ids move past the skipped events too.", Query: []string{"topics", "last_event_id", "sample"}, Result: "EventStreamEvent", Status: 200, handler: s.streamEvents},
		{Method: "POST", Path: "/v1/reports/sales/runs", Summary: "Run the daily sales report for a date (or from..to) now; replaces that date's report. 201 with the finished run record; 202 with the running record and a Location to poll when the run takes longer than a few seconds.", Access: Admin, Body: "ReportRunRequest", Result: "ReportRun", Status: 201, handler: s.runReport},
		{Method: "GET", Path: "/v1/reports/sales/runs", Summary: "Report run history, newest first, each marked stale when its lake data changed since.", Query: []string{"limit"}, Result: "ReportRunList", Status: 200, handler: s.listReportRuns},
		{Method: "GET", Path: "/v1/reports/sales/runs/{id}", Summary: "One report run: status running, succeeded or failed, timings, error; where a 202 from POST /v1/reports/sales/runs points.", Result: "ReportRun", Status: 200, handler: s.getReportRun},
		{Method: "GET", Path: "/v1/reports/sales/{date}", Summary: "The sales report of a day (YYYY-MM-DD, or FROM_TO for a range) as JSON; add .csv or .html for a spreadsheet or a page with charts.", Result: "SalesReport", Status: 200, handler: s.getReport},
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.o.Version})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "checks": map[string]string{"shutdown": "the process is stopping"}})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for _, c := range s.o.Ready {
		if err := c.Check(ctx); err != nil {
			checks[c.Name] = err.Error()
			ready = false
		} else {
			checks[c.Name] = "ok"
		}
	}
	status, word := http.StatusOK, "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "not_ready"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": checks})
	return nil
}

// RunningCheck adapts a component's Running method to a readiness check.
func RunningCheck(name string, running func() bool) ReadyCheck {
	return ReadyCheck{Name: name, Check: func(context.Context) error {
		if !running() {
			return fmt.Errorf("%s is not running", name)
		}
		return nil
	}}
}
