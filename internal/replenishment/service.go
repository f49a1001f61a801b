package replenishment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// Catalog reads products (their reorder policy). Product is read for
// every SKU whose stock moved, so a store may answer it from a cache that
// learns of every change (sqlstore's quote cache).
type Catalog interface {
	Product(ctx context.Context, sku string) (catalog.Product, error)
}

// Stock is the inventory port as receiving uses it.
type Stock interface {
	Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (inventory.Levels, error)
}

// Options tune replenishment.
type Options struct {
	Prior       Prior
	HoldingRate float64       // per year, share of unit cost; default 0.25
	Horizon     time.Duration // demand history used; default 28 days
	Urgent      UrgentRule
	Now         func() time.Time
	Logger      *slog.Logger
	Committed   func()
	// StatusCache, when set, is told every order's new status after the
	// system of record has it (Redis in the distributed profile).
	StatusCache StatusCache
}

// StatusCache mirrors purchase-order statuses for fast reads.
type StatusCache interface {
	SetStatus(ctx context.Context, po PurchaseOrder) error
}

func (s *Service) cache(ctx context.Context, po PurchaseOrder) {
	if s.o.StatusCache == nil {
		return
	}
	if err := s.o.StatusCache.SetStatus(ctx, po); err != nil {
		s.o.Logger.Warn("caching purchase order status", "po", po.ID, "err", err)
	}
}

// Service decides and tracks purchase orders.
type Service struct {
	store   Store
	catalog Catalog
	stock   Stock
	o       Options
}

// NewService builds the service.
func NewService(store Store, cat Catalog, stock Stock, o Options) *Service {
	if o.Prior.MinDays == 0 {
		o.Prior = Prior{Daily: 1, StdDev: 1, MinDays: 7}
	}
	if o.HoldingRate <= 0 {
		o.HoldingRate = 0.25
	}
	if o.Horizon <= 0 {
		o.Horizon = 28 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Committed == nil {
		o.Committed = func() {}
	}
	return &Service{store: store, catalog: cat, stock: stock, o: o}
}

// lenient decodes event data ignoring fields replenishment does not need,
// so producers can add fields without breaking it.
func lenient(env event.Envelope, v any) error {
	if err := json.Unmarshal(env.Data, v); err != nil {
		return fmt.Errorf("%w: %s data: %v", event.ErrMalformed, env.Type, err)
	}
	return nil
}

// Consider decides whether sku needs a purchase order now. triggerKey makes
// the decision idempotent: the same event never raises two orders.
func (s *Service) Consider(ctx context.Context, sku string, onHand, reserved, onOrder int64, triggerKey string, at time.Time) (*PurchaseOrder, error) {
	product, err := s.catalog.Product(ctx, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil // not a SKU this shop replenishes
	}
	if err != nil {
		return nil, err
	}
	r := product.Reorder
	if r.LeadTimeDays <= 0 {
		return nil, nil // no reorder policy configured
	}
	p := Policy{LeadTimeDays: r.LeadTimeDays, ServiceLevel: r.ServiceLevel, OrderCost: float64(r.OrderCost), UnitCost: float64(r.UnitCost),
		HoldingRate: s.o.HoldingRate, PackSize: r.PackSize, MinOrderQty: r.MinOrderQty}
	// History starts when the SKU did: days before it existed are not zero-sale days.
	day := at.UTC().Truncate(24 * time.Hour)
	from := day.Add(-s.o.Horizon + 24*time.Hour)
	if created := product.CreatedAt.UTC().Truncate(24 * time.Hour); created.After(from) {
		from = created
	}
	daily, err := s.store.DailyDemand(ctx, sku, from, day.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	d, sigma := Stats(daily, s.o.Prior)
	open, err := s.store.OpenPurchaseOrders(ctx, sku)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	po := PurchaseOrder{ID: "po_" + event.NewID(), SKU: sku, Status: StatusRequested, Supplier: r.Supplier,
		CreatedAt: now, UpdatedAt: now, TriggerEvent: triggerKey}
	switch {
	case len(open) == 0:
		j, need, err := Decide(onHand-reserved+onOrder, d, sigma, p)
		if err != nil || !need {
			return nil, err
		}
		po.Quantity, po.Reason = j.Quantity, j
		po.ExpectedAt = now.Add(time.Duration(r.LeadTimeDays * float64(24*time.Hour)))
	default:
		for _, o := range open {
			if o.Urgent {
				return nil, nil
			}
		}
		q, urgent := s.o.Urgent.Urgent(onHand-reserved, open[0].ExpectedAt, now, d, p)
		if !urgent {
			return nil, nil
		}
		z, _ := InverseNormal(0.95)
		po.Quantity, po.Urgent = q, true
		po.Reason = Justification{DailyDemand: d, StdDev: sigma, LeadTime: s.o.Urgent.Limit.Hours() / 24, Z: z, Position: onHand - reserved + onOrder, Quantity: q}
		po.ExpectedAt = now.Add(s.o.Urgent.Limit)
	}
	m, err := poEvent(po, now)
	if err != nil {
		return nil, err
	}
	created, err := s.store.CreatePurchaseOrder(ctx, po, triggerKey, []event.Message{m})
	if errors.Is(err, ErrOpenOrderExists) || (err == nil && !created) {
		return nil, nil // a concurrent or earlier decision already ordered
	}
	if err != nil {
		return nil, err
	}
	s.o.Committed()
	s.cache(ctx, po)
	return &po, nil
}

// Transition moves a purchase order. Receiving adds its quantity to on_hand
// through the inventory port exactly once (the adjustment's ref is the PO
// id); repeating a transition to the state an order is in changes nothing.
func (s *Service) Transition(ctx context.Context, id string, to Status) (PurchaseOrder, error) {
	po, err := s.store.GetPurchaseOrder(ctx, id)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if po.Status == to {
		return po, nil
	}
	if !CanTransition(po.Status, to) {
		return po, fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, po.Status, to)
	}
	if to == StatusReceived {
		if _, err := s.stock.Adjust(ctx, po.SKU, po.Quantity, "po_received", "po:"+po.ID); err != nil {
			return PurchaseOrder{}, fmt.Errorf("receiving %s: %w", id, err)
		}
	}
	out, err := s.store.UpdatePurchaseOrder(ctx, id, func(cur *PurchaseOrder) ([]event.Message, error) {
		if cur.Status == to {
			return nil, nil
		}
		if !CanTransition(cur.Status, to) {
			return nil, fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, cur.Status, to)
		}
		cur.Status, cur.UpdatedAt = to, s.o.Now().UTC().Truncate(time.Microsecond)
		m, err := poEvent(*cur, cur.UpdatedAt)
		return []event.Message{m}, err
	})
	if err != nil {
		return PurchaseOrder{}, err
	}
	s.o.Committed()
	s.cache(ctx, out)
	return out, nil
}

// Get returns a purchase order.
func (s *Service) Get(ctx context.Context, id string) (PurchaseOrder, error) {
	return s.store.GetPurchaseOrder(ctx, id)
}

// List returns purchase orders, newest first.
func (s *Service) List(ctx context.Context, status Status, sku string, limit int) ([]PurchaseOrder, error) {
	return s.store.ListPurchaseOrders(ctx, status, sku, limit)
}

// Dispatch handles one record of the role's input topics: a batch of
// one (Batcher).
func (s *Service) Dispatch(ctx context.Context, topic string, env event.Envelope) error {
	b := s.NewBatcher()
	if err := b.Add(topic, 0, env); err != nil {
		return err
	}
	_, err := b.Flush(ctx)
	return err
}
