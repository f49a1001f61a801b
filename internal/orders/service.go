package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/periodic"
)

// Sentinel errors; the HTTP layer maps them in one place.
var (
	ErrNotFound        = errors.New("order not found")
	ErrUnknownSKU      = errors.New("unknown sku")
	ErrInvalid         = errors.New("invalid order")
	ErrDuplicateSKU    = errors.New("duplicate sku in order")
	ErrNotCancellable  = errors.New("order cannot be cancelled")
	ErrCheckoutExpired = errors.New("stock reservation expired before payment completed")
)

// FailureError is a checkout that ended with the order kept as
// payment_failed: Cause is payments.ErrDeclined, payments.ErrUnavailable,
// payments.ErrInvalidToken or ErrCheckoutExpired.
type FailureError struct {
	Order Order
	Cause error
}

func (e *FailureError) Error() string {
	return fmt.Sprintf("order %s %s: %v", e.Order.ID, e.Order.Status, e.Cause)
}
func (e *FailureError) Unwrap() error { return e.Cause }

// IdemRef ties an order to the idempotency key that created it.
type IdemRef struct {
	Scope, Key string
	// Respond, when set, renders the response a retry of a paid checkout
	// replays; a StockStore stores it in the same transaction that marks the
	// order paid, so the key needs no write of its own afterwards.
	Respond func(Order) (status int, body []byte)
	// Claim, when set, is a deferred claim of the key (see
	// idempotency.Deferred): the transaction that stores the order writes
	// it first and fails with idempotency.ErrTaken, storing nothing, when
	// another request holds the key. Only a joint store takes it (see
	// DefersClaims).
	Claim *idempotency.Claim
}

// Store is the system of record as orders need it.
type Store interface {
	// CreateOrder stores a new order, its events, and links it to its
	// idempotency key, in one transaction.
	CreateOrder(ctx context.Context, o Order, idem IdemRef, events []event.Message) error
	GetOrder(ctx context.Context, id string) (Order, error)
	// UpdateOrder runs fn on the locked order and stores the result and the
	// events fn returns in one transaction.
	UpdateOrder(ctx context.Context, id string, fn func(o *Order) ([]event.Message, error)) (Order, error)
	// StaleOrders lists orders in a status not updated since before.
	StaleOrders(ctx context.Context, status Status, before time.Time, limit int) ([]string, error)
}

// StockStore is an optional capability of a Store that also keeps the
// stock (the embedded profile: one database). Checkout then takes two
// transactions instead of four: reserving and creating the order together,
// and selling the stock together with marking the order paid.
type StockStore interface {
	CreateReservedOrder(ctx context.Context, o Order, idem IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error
	// CommitAndUpdateOrder also stores idem's response (when Respond is set
	// and the order ends paid) in the same transaction.
	CommitAndUpdateOrder(ctx context.Context, id string, idem IdemRef, fn func(o *Order) ([]event.Message, error)) (Order, error)
}

// Quote is what an order line locks in for a SKU: the price it sells at
// (the dynamic price once pricing runs, the base price until then), and the
// base price and category the sales reports compare and group by.
type Quote struct {
	Price     int64
	BasePrice int64
	Category  string
}

// Prices quotes SKUs for new orders.
type Prices interface {
	Quote(ctx context.Context, sku string) (Quote, error)
}

// Stock is the inventory port as checkout uses it.
type Stock interface {
	Reserve(ctx context.Context, reservationID string, items []inventory.Item, ttl time.Duration) error
	Commit(ctx context.Context, reservationID string) error
	Release(ctx context.Context, reservationID string) error
	Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (inventory.Levels, error)
}

// Options tune checkout.
type Options struct {
	ReservationTTL time.Duration
	PaymentTimeout time.Duration
	// RecoverAfter is how long an order may sit in reserved before the
	// recovery loop abandons it (voids the payment, returns the stock).
	RecoverAfter time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	Committed    func() // told after each write that reached the outbox
}

// Service runs checkout.
type Service struct {
	store   Store
	joint   StockStore // set when store is also the stock
	prices  Prices
	stock   Stock
	gateway payments.Gateway
	o       Options
}

// NewService builds the checkout service.
func NewService(store Store, prices Prices, stock Stock, gateway payments.Gateway, o Options) *Service {
	if o.ReservationTTL <= 0 {
		o.ReservationTTL = 15 * time.Minute
	}
	if o.PaymentTimeout <= 0 {
		o.PaymentTimeout = 5 * time.Second
	}
	if o.RecoverAfter <= 0 {
		o.RecoverAfter = time.Minute
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
	svc := &Service{store: store, prices: prices, stock: stock, gateway: gateway, o: o}
	if js, ok := store.(StockStore); ok && any(stock) == any(store) {
		svc.joint = js
	}
	return svc
}

// DefersClaims reports whether Place writes an IdemRef's Claim in the
// transaction that reserves the stock and stores the order, before it
// reserves anything. It does where the store keeps the stock; elsewhere the
// stock is reserved before the order is stored, so a duplicate request
// would take stock before it learnt of the first, and keys are claimed by
// idempotency.Store.Begin instead.
func (s *Service) DefersClaims() bool { return s.joint != nil }

// Validate checks a request's shape; it touches nothing.
func Validate(req Request) error {
	if n := len(req.Items); n < 1 || n > MaxLines {
		return fmt.Errorf("%w: an order has 1-%d items, got %d", ErrInvalid, MaxLines, n)
	}
	seen := make(map[string]bool, len(req.Items))
	for _, it := range req.Items {
		if it.SKU == "" {
			return fmt.Errorf("%w: every item needs a sku", ErrInvalid)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return fmt.Errorf("%w: quantity of %s must be 1-%d, got %d", ErrInvalid, it.SKU, MaxQuantity, it.Quantity)
		}
		if seen[it.SKU] {
			return fmt.Errorf("%w: %s", ErrDuplicateSKU, it.SKU)
		}
		seen[it.SKU] = true
	}
	if req.Payment.Method != "card" {
		return fmt.Errorf("%w: payment.method must be \"card\"", ErrInvalid)
	}
	if req.Payment.Token == "" {
		return fmt.Errorf("%w: payment.token is required", ErrInvalid)
	}
	return nil
}

// Place runs checkout: price, reserve, create, authorize, commit. It returns
// the paid order, or a *FailureError with the order kept as payment_failed,
// or an error before any order existed (nothing is then left behind).
func (s *Service) Place(ctx context.Context, customerID string, idem IdemRef, req Request) (Order, error) {
	if err := Validate(req); err != nil {
		return Order{}, err
	}
	if idem.Claim != nil && s.joint == nil {
		return Order{}, errors.New("a deferred idempotency claim needs the stock in the order store (see DefersClaims)")
	}
	if err := s.gateway.CheckToken(req.Payment.Token); err != nil {
		return Order{}, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	o := Order{ID: "ord_" + event.NewID(), CustomerID: customerID, Status: StatusPending,
		PaymentToken: req.Payment.Token, CreatedAt: now, UpdatedAt: now}
	items := make([]inventory.Item, len(req.Items))
	for i, it := range req.Items {
		q, err := s.prices.Quote(ctx, it.SKU)
		if err != nil {
			return Order{}, err
		}
		o.Items = append(o.Items, Line{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: q.Price, BasePrice: q.BasePrice, Category: q.Category})
		o.Total += q.Price * it.Quantity
		items[i] = inventory.Item{SKU: it.SKU, Qty: it.Quantity}
	}
	if s.joint != nil {
		return s.placeJoint(ctx, o, idem, items, now)
	}
	// The reservation's id is the order's: a crash before the order is
	// stored leaves a hold the expiry sweeper returns.
	if err := s.stock.Reserve(ctx, o.ID, items, s.o.ReservationTTL); err != nil {
		if errors.Is(err, inventory.ErrUnknownSKU) {
			return Order{}, fmt.Errorf("%w: %v", ErrUnknownSKU, err)
		}
		return Order{}, err
	}
	if err := o.Move(StatusReserved, now); err != nil {
		return Order{}, err
	}
	created, err := orderEvent("order.created", o, now)
	if err != nil {
		return Order{}, err
	}
	if err := s.store.CreateOrder(ctx, o, idem, []event.Message{created}); err != nil {
		s.releaseQuietly(o.ID)
		return Order{}, fmt.Errorf("storing order: %w", err)
	}
	s.o.Committed()
	return s.pay(ctx, o, idem)
}

// placeJoint reserves and creates the order in one transaction: either both
// happened or neither.
func (s *Service) placeJoint(ctx context.Context, o Order, idem IdemRef, items []inventory.Item, now time.Time) (Order, error) {
	if err := o.Move(StatusReserved, now); err != nil {
		return Order{}, err
	}
	created, err := orderEvent("order.created", o, now)
	if err != nil {
		return Order{}, err
	}
	if err := s.joint.CreateReservedOrder(ctx, o, idem, items, s.o.ReservationTTL, []event.Message{created}); err != nil {
		if errors.Is(err, inventory.ErrUnknownSKU) {
			return Order{}, fmt.Errorf("%w: %v", ErrUnknownSKU, err)
		}
		var insufficient *inventory.InsufficientStockError
		if errors.As(err, &insufficient) || errors.Is(err, inventory.ErrInvalid) {
			return Order{}, err
		}
		return Order{}, fmt.Errorf("storing order: %w", err)
	}
	s.o.Committed()
	return s.pay(ctx, o, idem)
}

// Resume finishes an interrupted checkout (a retry of the same idempotency
// key after the first attempt died) and reports the order's outcome.
func (s *Service) Resume(ctx context.Context, id string) (Order, error) {
	o, err := s.store.GetOrder(ctx, id)
	if err != nil {
		return Order{}, err
	}
	switch o.Status {
	case StatusReserved:
		return s.pay(ctx, o, IdemRef{})
	case StatusPaymentFailed:
		return o, &FailureError{Order: o, Cause: failureCause(o.FailureReason)}
	}
	return o, nil
}

func failureCause(reason string) error {
	switch reason {
	case "gateway_unavailable":
		return payments.ErrUnavailable
	case "reservation_expired", "abandoned":
		return ErrCheckoutExpired
	}
	return payments.ErrDeclined
}

func (s *Service) pay(ctx context.Context, o Order, idem IdemRef) (Order, error) {
	actx, cancel := context.WithTimeout(ctx, s.o.PaymentTimeout)
	auth, err := s.gateway.Authorize(actx, o.ID, o.Total, o.PaymentToken)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, payments.ErrDeclined):
		return s.fail(ctx, o, "declined", payments.ErrDeclined)
	case errors.Is(err, payments.ErrInvalidToken):
		return s.fail(ctx, o, "invalid_token", payments.ErrInvalidToken)
	default:
		// The outcome is unknown: void so no card stays charged without a paid order.
		s.voidQuietly(o.ID)
		return s.fail(ctx, o, "gateway_unavailable", payments.ErrUnavailable)
	}
	markPaid := func(cur *Order) ([]event.Message, error) {
		if cur.Status == StatusPaid {
			return nil, nil
		}
		now := s.o.Now()
		if err := cur.Move(StatusPaid, now); err != nil {
			return nil, err
		}
		cur.PaymentID = auth.ID
		return paidEvents(*cur, auth, now)
	}
	var paid Order
	if s.joint != nil {
		paid, err = s.joint.CommitAndUpdateOrder(ctx, o.ID, idem, markPaid)
	} else if err = s.stock.Commit(ctx, o.ID); err == nil {
		paid, err = s.store.UpdateOrder(ctx, o.ID, markPaid)
	}
	if errors.Is(err, inventory.ErrReservationClosed) {
		s.voidQuietly(o.ID)
		return s.fail(ctx, o, "reservation_expired", ErrCheckoutExpired)
	}
	if err != nil {
		return Order{}, fmt.Errorf("recording payment of %s: %w", o.ID, err)
	}
	s.o.Committed()
	return paid, nil
}

// fail returns the reservation and keeps the order as payment_failed.
func (s *Service) fail(ctx context.Context, o Order, reason string, cause error) (Order, error) {
	if err := s.stock.Release(ctx, o.ID); err != nil && !errors.Is(err, inventory.ErrReservationClosed) {
		return Order{}, fmt.Errorf("releasing stock of %s: %w", o.ID, err)
	}
	failed, err := s.store.UpdateOrder(ctx, o.ID, func(cur *Order) ([]event.Message, error) {
		if cur.Status == StatusPaymentFailed {
			return nil, nil
		}
		now := s.o.Now()
		if err := cur.Move(StatusPaymentFailed, now); err != nil {
			return nil, err
		}
		cur.FailureReason = reason
		return failedEvents(*cur, reason, now)
	})
	if err != nil {
		return Order{}, fmt.Errorf("recording failed payment of %s: %w", o.ID, err)
	}
	s.o.Committed()
	return failed, &FailureError{Order: failed, Cause: cause}
}

func (s *Service) releaseQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.stock.Release(ctx, id); err != nil {
		s.o.Logger.Warn("releasing stock of an order that was not stored; the expiry sweeper will", "order", id, "err", err)
	}
}

func (s *Service) voidQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.gateway.Void(ctx, id); err != nil {
		s.o.Logger.Warn("voiding authorization", "order", id, "err", err)
	}
}

// Get returns an order.
func (s *Service) Get(ctx context.Context, id string) (Order, error) {
	return s.store.GetOrder(ctx, id)
}

// Cancel refunds a paid order and returns its stock. Cancelling a cancelled
// order returns it unchanged.
func (s *Service) Cancel(ctx context.Context, id string) (Order, error) {
	o, err := s.store.GetOrder(ctx, id)
	if err != nil {
		return Order{}, err
	}
	switch o.Status {
	case StatusCancelled:
		return o, nil
	case StatusPaid:
	default:
		return o, fmt.Errorf("%w: order is %s", ErrNotCancellable, o.Status)
	}
	// Each step is idempotent, so a cancel interrupted anywhere can be retried.
	if err := s.gateway.Refund(ctx, o.ID, o.Total); err != nil {
		return Order{}, fmt.Errorf("refunding %s: %w", o.ID, err)
	}
	for _, l := range o.Items {
		if _, err := s.stock.Adjust(ctx, l.SKU, l.Quantity, "order_cancelled", "cancel:"+o.ID); err != nil {
			return Order{}, fmt.Errorf("returning stock of %s: %w", o.ID, err)
		}
	}
	out, err := s.store.UpdateOrder(ctx, id, func(cur *Order) ([]event.Message, error) {
		if cur.Status == StatusCancelled {
			return nil, nil
		}
		now := s.o.Now()
		if err := cur.Move(StatusCancelled, now); err != nil {
			return nil, err
		}
		return cancelEvents(*cur, now)
	})
	if err != nil {
		return Order{}, err
	}
	s.o.Committed()
	return out, nil
}

// RecoverStale abandons orders stuck in reserved (their request died): it
// voids any authorization, returns the stock and records payment_failed.
func (s *Service) RecoverStale(ctx context.Context) (int, error) {
	ids, err := s.store.StaleOrders(ctx, StatusReserved, s.o.Now().Add(-s.o.RecoverAfter), 200)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.abandon(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func (s *Service) abandon(ctx context.Context, id string) error {
	o, err := s.store.GetOrder(ctx, id)
	if err != nil || o.Status != StatusReserved {
		return err
	}
	if err := s.gateway.Void(ctx, id); err != nil {
		return fmt.Errorf("voiding %s: %w", id, err)
	}
	err = s.stock.Release(ctx, id)
	if errors.Is(err, inventory.ErrReservationClosed) {
		// The stock was already sold when the request died: put it back.
		for _, l := range o.Items {
			if _, err := s.stock.Adjust(ctx, l.SKU, l.Quantity, "order_abandoned", "abandon:"+id); err != nil {
				return fmt.Errorf("returning stock of %s: %w", id, err)
			}
		}
	} else if err != nil && !errors.Is(err, inventory.ErrUnknownReservation) {
		return fmt.Errorf("releasing stock of %s: %w", id, err)
	}
	_, err = s.fail(ctx, o, "abandoned", ErrCheckoutExpired)
	var fe *FailureError
	if errors.As(err, &fe) {
		return nil
	}
	return err
}

// RunRecovery runs RecoverStale every interval until ctx ends.
func (s *Service) RunRecovery(ctx context.Context, every time.Duration) error {
	return periodic.Run(ctx, every, func(ctx context.Context, _ time.Time) error {
		_, err := s.RecoverStale(ctx)
		return err
	}, func(err error) { s.o.Logger.Warn("recovering interrupted checkouts", "err", err) })
}
