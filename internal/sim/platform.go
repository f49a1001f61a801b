package sim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// pageLimit is the most items one list call of the API returns.
const pageLimit = 1000

// Count is a number read from a list endpoint; AtLeast says the list was
// cut at a page and there may be more.
type Count struct {
	N       int
	AtLeast bool
}

func (c Count) String() string {
	if c.AtLeast {
		return fmt.Sprintf("%d+", c.N)
	}
	return fmt.Sprint(c.N)
}

// Platform is what Mercato itself did during a run, read back from its API.
type Platform struct {
	LowStockAlerts Count
	// PurchaseOrdersRaised were created during the run,
	// PurchaseOrdersReceived delivered during it (Deliveries, by SKU).
	PurchaseOrdersRaised, PurchaseOrdersReceived Count
	Deliveries                                   map[string][]Delivery
}

type purchaseOrder struct {
	SKU       string    `json:"sku"`
	Quantity  int64     `json:"quantity"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Platform reads the low-stock alerts, purchase orders and deliveries of
// [from, to) from the API.
func (r *Runner) Platform(ctx context.Context, from, to time.Time) (Platform, error) {
	pl := Platform{Deliveries: map[string][]Delivery{}}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }

	var alerts struct {
		Items []struct {
			At time.Time `json:"at"`
		} `json:"items"`
	}
	q := url.Values{"type": {"low_stock"}, "since": {from.UTC().Format(time.RFC3339Nano)}, "limit": {fmt.Sprint(pageLimit)}}
	if err := r.list(ctx, "/v1/alerts?"+q.Encode(), &alerts); err != nil {
		return pl, fmt.Errorf("reading low-stock alerts: %w", err)
	}
	for _, a := range alerts.Items {
		if in(a.At) {
			pl.LowStockAlerts.N++
		}
	}
	pl.LowStockAlerts.AtLeast = len(alerts.Items) >= pageLimit

	// Newest first: a full page whose oldest order is still in the run may
	// have cut some off.
	var all struct {
		Items []purchaseOrder `json:"items"`
	}
	if err := r.list(ctx, fmt.Sprintf("/v1/purchase-orders?limit=%d", pageLimit), &all); err != nil {
		return pl, fmt.Errorf("reading purchase orders: %w", err)
	}
	for _, po := range all.Items {
		if in(po.CreatedAt) {
			pl.PurchaseOrdersRaised.N++
		}
	}
	pl.PurchaseOrdersRaised.AtLeast = len(all.Items) >= pageLimit && in(all.Items[len(all.Items)-1].CreatedAt)

	// A received order is final, so its updated_at is when it arrived.
	received, err := r.received(ctx, "")
	if err != nil {
		return pl, err
	}
	if len(received) >= pageLimit {
		// One page does not hold them all: ask SKU by SKU.
		received = received[:0]
		for _, p := range r.Model.Products {
			pos, err := r.received(ctx, p.SKU)
			if err != nil {
				return pl, err
			}
			pl.PurchaseOrdersReceived.AtLeast = pl.PurchaseOrdersReceived.AtLeast || len(pos) >= pageLimit
			received = append(received, pos...)
		}
	}
	for _, po := range received {
		if in(po.UpdatedAt) {
			pl.PurchaseOrdersReceived.N++
			pl.Deliveries[po.SKU] = append(pl.Deliveries[po.SKU], Delivery{At: po.UpdatedAt, Units: po.Quantity})
		}
	}
	return pl, nil
}

func (r *Runner) received(ctx context.Context, sku string) ([]purchaseOrder, error) {
	q := url.Values{"status": {"received"}, "limit": {fmt.Sprint(pageLimit)}}
	if sku != "" {
		q.Set("sku", sku)
	}
	var list struct {
		Items []purchaseOrder `json:"items"`
	}
	if err := r.list(ctx, "/v1/purchase-orders?"+q.Encode(), &list); err != nil {
		return nil, fmt.Errorf("reading received purchase orders: %w", err)
	}
	return list.Items, nil
}

func (r *Runner) list(ctx context.Context, path string, v any) error {
	status, err := r.Get(ctx, path, v)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, status)
	}
	return nil
}
