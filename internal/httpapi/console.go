package httpapi

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/orders"
)

// OrderPage is one page of GET /v1/orders.
type OrderPage struct {
	Items      []orders.Order `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := orders.ListQuery{Status: orders.Status(q.Get("status"))}
	if lq.Status != "" && !orders.ValidStatus(lq.Status) {
		return apiErr(http.StatusBadRequest, "invalid_status", "status must be one of %v", orders.Statuses)
	}
	limit, err := limitParam(r, 50, orders.MaxPage)
	if err != nil {
		return err
	}
	lq.Limit = limit
	if c := q.Get("cursor"); c != "" {
		pos, ok := decodeOrderCursor(c)
		if !ok {
			return apiErr(http.StatusBadRequest, "invalid_cursor", "cursor is not one this API returned")
		}
		lq.After = &pos
	}
	items, next, err := s.o.Orders.List(r.Context(), lq)
	if err != nil {
		return err
	}
	page := OrderPage{Items: items}
	if next != nil {
		page.NextCursor = encodeOrderCursor(*next)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// encodeOrderCursor makes a listing position an opaque cursor: the last
// order's creation time (µs) and id.
func encodeOrderCursor(p orders.Position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.CreatedAt.UnixMicro(), 10) + ":" + p.ID))
}

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func decodeOrderCursor(c string) (orders.Position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return orders.Position{}, false
	}
	at, id, ok := strings.Cut(string(raw), ":")
	if !ok || !orderIDPattern.MatchString(id) {
		return orders.Position{}, false
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil || us < 0 {
		return orders.Position{}, false
	}
	return orders.Position{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, true
}

func (s *Server) orderTimeline(w http.ResponseWriter, r *http.Request) error {
	o, err := s.ownOrder(r)
	if err != nil {
		return err
	}
	t, err := s.o.Orders.Timeline(r.Context(), o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// seoul is Asia/Seoul, whose day the overview counts: KST is UTC+9 all
// year (no daylight saving), so a fixed zone needs no tz database.
var seoul = time.FixedZone("KST", 9*60*60)

// GroupLag is one consumer group's lag: records of its topics it has not
// committed yet.
type GroupLag struct {
	Group string `json:"group"`
	Lag   int64  `json:"lag"`
}

// MinutePoint is one minute of the overview's series.
type MinutePoint struct {
	Minute  time.Time `json:"minute"`
	Orders  int64     `json:"orders"`
	Revenue int64     `json:"revenue"`
}

// Overview is GET /v1/overview. Orders are those created today that were
// paid (cancelled since included); revenue is the total of those still
// paid; cost is their units at each product's reorder unit cost now.
type Overview struct {
	Timezone                string        `json:"timezone"`
	Day                     string        `json:"day"`
	OrdersToday             int64         `json:"orders_today"`
	RevenueToday            int64         `json:"revenue_today"`
	CostToday               int64         `json:"cost_today"`
	GrossMarginToday        *float64      `json:"gross_margin_today"`
	PaymentsFailedToday     int64         `json:"payments_failed_today"`
	PaymentFailureRate      float64       `json:"payment_failure_rate"`
	OutOfStockRefusalsToday int64         `json:"out_of_stock_refusals_today"`
	OutboxBacklog           int64         `json:"outbox_backlog"`
	ConsumerLag             []GroupLag    `json:"consumer_lag"`
	PerMinute               []MinutePoint `json:"per_minute"`
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := s.now().In(seoul)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, seoul)
	sales, err := s.o.Orders.Sales(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	// The last 60 minutes, the current one (still filling) last.
	to := now.UTC().Truncate(time.Minute).Add(time.Minute)
	series, err := s.o.Orders.SalesByMinute(ctx, to.Add(-60*time.Minute), to)
	if err != nil {
		return err
	}
	out := Overview{
		Timezone: "Asia/Seoul", Day: day.Format(time.DateOnly),
		OrdersToday: sales.Paid, RevenueToday: sales.Revenue, CostToday: sales.Cost,
		PaymentsFailedToday: sales.PaymentFailed, OutOfStockRefusalsToday: sales.OutOfStockRefusals,
		ConsumerLag: []GroupLag{}, PerMinute: make([]MinutePoint, len(series)),
	}
	if sales.CostedRevenue > 0 {
		m := float64(sales.CostedRevenue-sales.Cost) / float64(sales.CostedRevenue)
		out.GrossMarginToday = &m
	}
	if settled := sales.Paid + sales.PaymentFailed; settled > 0 {
		out.PaymentFailureRate = float64(sales.PaymentFailed) / float64(settled)
	}
	for i, m := range series {
		out.PerMinute[i] = MinutePoint{Minute: m.Minute, Orders: m.Orders, Revenue: m.Revenue}
	}
	if s.o.OutboxBacklog != nil {
		if out.OutboxBacklog, err = s.o.OutboxBacklog(ctx); err != nil {
			return err
		}
	}
	if s.o.ConsumerLag != nil {
		lag, err := s.o.ConsumerLag(ctx)
		if err != nil {
			return err
		}
		out.ConsumerLag = append(out.ConsumerLag, lag...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
