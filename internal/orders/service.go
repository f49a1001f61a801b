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
	"github.com/mercato-platform/mercato/internal/money"
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
	// ErrAmountTooLarge: a line (price × quantity) or the order's total
	// above money.MaxAmount.
	ErrAmountTooLarge = errors.New("order amount too large")
	// ErrUnpriceable: the SKU has no usable price (its bounds allow none
	// above zero); nothing is sold at a price of zero or less.
	ErrUnpriceable = errors.New("sku has no valid price")
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
	// Respond, when set, gives the response a retry of a paid checkout
	// replays; a StockStore stores it in the same transaction that marks the
	// order paid, so the key needs no write of its own afterwards. It is
	// called inside that transaction, so it must not render anything:
	// PlaceOnce sets it to bytes rendered beforehand.
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
// stock (the embedded profile: one database), or of a Stock that keeps its
// ledger in the order store's database (JointStock). Checkout then takes
// two transactions instead of four: reserving and creating the order
// together, and selling the stock together with marking the order paid.
type StockStore interface {
	CreateReservedOrder(ctx context.Context, o Order, idem IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error
	// CommitAndUpdateOrder runs fn on the locked order and, when fn changed
	// it, sells its reservation, in one transaction: a reservation that is
	// no longer held (inventory.ErrReservationClosed) fails it whole. It
	// also stores idem's response (when Respond is set and the order ends
	// paid) in the same transaction.
	CommitAndUpdateOrder(ctx context.Context, id string, idem IdemRef, fn func(o *Order) ([]event.Message, error)) (Order, error)
	// ReleaseAndUpdateOrder runs fn on the locked order and, when fn changed
	// it, returns its reservation's stock, in one transaction. A
	// reservation already released (or expired) is left as it is; one
	// that was sold fails it (in a joint store only a paid order's stock
	// is sold).
	ReleaseAndUpdateOrder(ctx context.Context, id string, fn func(o *Order) ([]event.Message, error)) (Order, error)
}

// JointStock is a Stock whose ledger lives in the order store's database
// (Redis admission in front of the SQL ledger): its StockStore methods
// decide the stock on their side, then write the ledger and the order in
// one transaction of Orders. Checkout uses them when Orders is its store.
type JointStock interface {
	StockStore
	// Orders is the store whose transactions the StockStore methods use,
	// nil when there is none.
	Orders() Store
}

// Quote is what an order line locks in for a SKU: the price it sells at
// (the dynamic price once pricing runs, the base price until then), the
// product's current bounds, and the base price and category the sales
// reports compare and group by.
type Quote struct {
	Price     int64
	BasePrice int64
	// Floor and Ceiling are the product's bounds now. The price comes from
	// the price book, which follows the product's changes with a delay (and
	// not at all while its category is frozen), so checkout clamps it into
	// them: a product whose bounds moved is never sold outside them.
	Floor, Ceiling int64
	Category       string
}

// Charge is the unit price an order line is charged: the quoted price
// clamped into the product's bounds.
func (q Quote) Charge() (int64, error) {
	p := q.Price
	if q.Floor > 0 && p < q.Floor {
		p = q.Floor
	}
	if q.Ceiling > 0 && p > q.Ceiling {
		p = q.Ceiling
	}
	if p <= 0 {
		return 0, fmt.Errorf("%w: price %d, bounds [%d, %d]", ErrUnpriceable, p, q.Floor, q.Ceiling)
	}
	if p > money.MaxAmount {
		return 0, fmt.Errorf("%w: unit price %d exceeds %d", ErrAmountTooLarge, p, money.MaxAmount)
	}
	return p, nil
}

type pricedLine struct {
	Line
	amount int64
}

// line prices one requested item.
func (q Quote) line(it RequestItem) (pricedLine, error) {
	price, err := q.Charge()
	if err != nil {
		return pricedLine{}, fmt.Errorf("pricing %s: %w", it.SKU, err)
	}
	amount, ok := money.Mul(price, it.Quantity)
	if !ok {
		return pricedLine{}, fmt.Errorf("%w: %s: %d × %d exceeds %d", ErrAmountTooLarge, it.SKU, price, it.Quantity, money.MaxAmount)
	}
	return pricedLine{Line: Line{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: price, BasePrice: q.BasePrice, Category: q.Category}, amount: amount}, nil
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
	// Keys stores the Idempotency-Key claims and responses of PlaceOnce.
	// Left nil, the order store keeps them if it can (idempotency.Store):
	// keys in the orders' database are what lets a checkout claim its key
	// and store its response in its own transactions.
	Keys idempotency.Store
	// KeyTTL is how long a key and its response are kept (default 24 h).
	KeyTTL time.Duration
	// KeyLease is how long a claim blocks retries before one may take over
	// its checkout. The default, PaymentTimeout plus 30 s, outlives any
	// checkout (its payment plus the saga's writes), so only a request that
	// died is taken over.
	KeyLease time.Duration
}

// Service runs checkout.
type Service struct {
	store   Store
	joint   StockStore // set when store is also the stock
	prices  Prices
	stock   Stock
	gateway payments.Gateway
	o       Options
	// keysWithOrders: o.Keys is the order store, so the transactions that
	// store an order may also claim its key and store its response.
	keysWithOrders bool
	// checkpoint, when set (tests only, see export_test.go), is called at
	// each step of the saga where another actor may interleave.
	checkpoint func(ctx context.Context, step, orderID string)
}

func (s *Service) at(ctx context.Context, step, orderID string) {
	if s.checkpoint != nil {
		s.checkpoint(ctx, step, orderID)
	}
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
	if o.Keys == nil {
		o.Keys, _ = store.(idempotency.Store)
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = 24 * time.Hour
	}
	if o.KeyLease <= 0 {
		o.KeyLease = o.PaymentTimeout + 30*time.Second
	}
	svc := &Service{store: store, prices: prices, stock: stock, gateway: gateway, o: o}
	if js, ok := store.(StockStore); ok && any(stock) == any(store) {
		svc.joint = js
	} else if js, ok := stock.(JointStock); ok && js.Orders() != nil && any(js.Orders()) == any(store) {
		svc.joint = js
	}
	svc.keysWithOrders = o.Keys != nil && any(o.Keys) == any(store)
	return svc
}

// DefersClaims reports whether Place writes an IdemRef's Claim in the
// transaction that reserves the stock and stores the order. It does where
// the store keeps the stock, and where a JointStock records it in the
// store's transactions (a duplicate request's admission is then returned
// when that transaction finds the key taken); elsewhere the stock is
// reserved before the order is stored, so a duplicate request would hold
// stock before it learnt of the first, and keys are claimed by
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

// stockOf is the stock a request asks for, line by line.
func stockOf(req Request) []inventory.Item {
	items := make([]inventory.Item, len(req.Items))
	for i, it := range req.Items {
		items[i] = inventory.Item{SKU: it.SKU, Qty: it.Quantity}
	}
	return items
}

// Place runs checkout: price, reserve, create, authorize, commit. It returns
// the paid order, or a *FailureError with the order kept as payment_failed,
// or an error before any order existed (nothing is then left behind).
func (s *Service) Place(ctx context.Context, customerID string, idem IdemRef, req Request) (Order, error) {
	return s.place(ctx, customerID, idem, req, nil)
}

// place is Place; pre, when set, is rendered and stored by the transaction
// that marks the order paid, where the store can (see respondWith).
func (s *Service) place(ctx context.Context, customerID string, idem IdemRef, req Request, pre *response) (Order, error) {
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
	for _, it := range req.Items {
		q, err := s.prices.Quote(ctx, it.SKU)
		if err != nil {
			return Order{}, err
		}
		line, err := q.line(it)
		if err != nil {
			return Order{}, err
		}
		total, ok := money.Add(o.Total, line.amount)
		if !ok {
			return Order{}, fmt.Errorf("%w: the order's total would exceed %d", ErrAmountTooLarge, money.MaxAmount)
		}
		o.Items, o.Total = append(o.Items, line.Line), total
	}
	items := stockOf(req)
	if s.joint != nil {
		return s.placeJoint(ctx, o, idem, items, now, pre)
	}
	// The reservation's id is the order's: a crash before the order is
	// stored leaves a hold the expiry sweeper returns.
	if err := s.stock.Reserve(ctx, o.ID, items, s.o.ReservationTTL); err != nil {
		if errors.Is(err, inventory.ErrUnknownSKU) {
			return Order{}, fmt.Errorf("%w: %v", ErrUnknownSKU, err)
		}
		s.recordRefusal(ctx, err, items)
		return Order{}, err
	}
	if err := o.Move(StatusReserved, now); err != nil {
		return Order{}, err
	}
	created, err := orderEvent(event.TypeOrderCreated, o, now)
	if err != nil {
		return Order{}, err
	}
	if err := s.store.CreateOrder(ctx, o, idem, []event.Message{created}); err != nil {
		s.releaseQuietly(o.ID)
		return Order{}, fmt.Errorf("storing order: %w", err)
	}
	s.o.Committed()
	return s.pay(ctx, o, idem, nil)
}

// placeJoint reserves and creates the order in one transaction: either both
// happened or neither.
func (s *Service) placeJoint(ctx context.Context, o Order, idem IdemRef, items []inventory.Item, now time.Time, pre *response) (Order, error) {
	if err := o.Move(StatusReserved, now); err != nil {
		return Order{}, err
	}
	created, err := orderEvent(event.TypeOrderCreated, o, now)
	if err != nil {
		return Order{}, err
	}
	if err := s.joint.CreateReservedOrder(ctx, o, idem, items, s.o.ReservationTTL, []event.Message{created}); err != nil {
		if errors.Is(err, inventory.ErrUnknownSKU) {
			return Order{}, fmt.Errorf("%w: %v", ErrUnknownSKU, err)
		}
		var insufficient *inventory.InsufficientStockError
		if errors.As(err, &insufficient) || errors.Is(err, inventory.ErrInvalid) {
			if idem.Claim == nil {
				// A deferred claim's refusal is counted once it is the
				// key's answer (PlaceOnce): it may be a retry's.
				s.recordRefusal(ctx, err, items)
			}
			return Order{}, err
		}
		return Order{}, fmt.Errorf("storing order: %w", err)
	}
	s.o.Committed()
	return s.pay(ctx, o, idem, pre)
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
		return s.pay(ctx, o, IdemRef{}, nil)
	case StatusFailing:
		// Decided already: finish the compensation under way.
		return s.fail(ctx, id, o.FailureReason, false)
	case StatusPaymentFailed:
		return o, &FailureError{Order: o, Cause: failureCause(o.FailureReason)}
	}
	return o, nil
}

func failureCause(reason string) error {
	switch reason {
	case reasonUnavailable:
		return payments.ErrUnavailable
	case reasonExpired, reasonAbandoned:
		return ErrCheckoutExpired
	case reasonInvalidToken:
		return payments.ErrInvalidToken
	}
	return payments.ErrDeclined
}

// Failure reasons an order keeps (FailureReason).
const (
	reasonDeclined     = "declined"
	reasonInvalidToken = "invalid_token"
	reasonUnavailable  = "gateway_unavailable"
	reasonExpired      = "reservation_expired"
	reasonAbandoned    = "abandoned"
)

// voids reports whether a failure reason may have left an authorization
// behind: every one except the gateway's own refusals.
func voids(reason string) bool { return reason != reasonDeclined && reason != reasonInvalidToken }

// pay authorizes the order's payment and records it. pre, when set (a
// joint store only), is the response the transaction that records the
// payment stores for idem's key.
func (s *Service) pay(ctx context.Context, o Order, idem IdemRef, pre *response) (Order, error) {
	actx, cancel := context.WithTimeout(ctx, s.o.PaymentTimeout)
	auth, err := s.gateway.Authorize(actx, o.ID, o.Total, o.PaymentToken)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, payments.ErrDeclined):
		return s.fail(ctx, o.ID, reasonDeclined, false)
	case errors.Is(err, payments.ErrInvalidToken):
		return s.fail(ctx, o.ID, reasonInvalidToken, false)
	case errors.Is(err, payments.ErrVoided):
		// The checkout was given up (by the recovery loop) while this
		// request waited for the gateway.
		return s.fail(ctx, o.ID, reasonAbandoned, false)
	default:
		// The outcome is unknown: the compensation voids it, so no card
		// stays charged without a paid order.
		return s.fail(ctx, o.ID, reasonUnavailable, true)
	}
	// One time for the move and for a response rendered before the
	// transaction, so the two show the same order.
	now := s.o.Now()
	rendered := pre != nil && s.joint != nil && idem.Key != ""
	if rendered {
		idem, rendered = pre.respondWith(idem, o, auth, now)
	}
	markPaid := func(cur *Order) ([]event.Message, error) {
		if rendered {
			// The store may run this more than once (a batch it rolled
			// back, then this order alone): only the run it commits says
			// whether the response was stored with the payment.
			pre.stored = false
		}
		if cur.Status == StatusPaid {
			return nil, nil
		}
		if cur.Status != StatusReserved {
			return nil, errLeftReserved
		}
		if rendered && cur.Version != o.Version {
			// The response stored with the payment shows the order as this
			// request stored it; nothing changes a reserved order but
			// moving it out of reserved, so this is never expected.
			return nil, fmt.Errorf("order %s changed (version %d, rendered %d) before its payment was recorded", cur.ID, cur.Version, o.Version)
		}
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
		s.at(ctx, "committed", o.ID)
		paid, err = s.store.UpdateOrder(ctx, o.ID, markPaid)
	}
	switch {
	case errors.Is(err, inventory.ErrReservationClosed):
		// The reservation expired while the card was authorized.
		return s.fail(ctx, o.ID, reasonExpired, true)
	case errors.Is(err, errLeftReserved):
		// The order was given up while the card was authorized: it will
		// never be paid, so this authorization is voided with it.
		return s.fail(ctx, o.ID, reasonAbandoned, true)
	case err != nil:
		return Order{}, fmt.Errorf("recording payment of %s: %w", o.ID, err)
	}
	s.o.Committed()
	return paid, nil
}

// errLeftReserved: the order moved out of reserved (to failing, by the
// recovery loop or another attempt) before this payment was recorded.
var errLeftReserved = errors.New("order is no longer reserved")

// fail gives up an order's checkout: it decides, in one transaction that
// re-reads the order, to move it from reserved to failing (keeping reason),
// then compensates: voids the authorization (when the reason may have left
// one, or mustVoid: the caller holds one) and returns the stock, and ends
// the order payment_failed. The decision is the one a concurrent payment
// races for: an order that is paid by then is left alone and returned
// without error (its payment won); one decided already (failing or
// payment_failed) keeps its reason and is compensated or reported.
func (s *Service) fail(ctx context.Context, id, reason string, mustVoid bool) (Order, error) {
	o, err := s.store.UpdateOrder(ctx, id, func(cur *Order) ([]event.Message, error) {
		if cur.Status != StatusReserved {
			return nil, nil
		}
		if err := cur.Move(StatusFailing, s.o.Now()); err != nil {
			return nil, err
		}
		cur.FailureReason = reason
		return nil, nil
	})
	if err != nil {
		return Order{}, fmt.Errorf("deciding to fail %s: %w", id, err)
	}
	switch o.Status {
	case StatusFailing:
	case StatusPaymentFailed:
		if mustVoid {
			// This caller's authorization came after the compensation.
			if err := s.gateway.Void(ctx, id); err != nil {
				return Order{}, fmt.Errorf("voiding %s: %w", id, err)
			}
		}
		return o, &FailureError{Order: o, Cause: failureCause(o.FailureReason)}
	default: // paid (or cancelled since): its payment won the race
		return o, nil
	}
	return s.compensate(ctx, o, mustVoid)
}

// compensate undoes a failing order's effects, each step idempotent, and
// ends it payment_failed; a crash anywhere leaves it failing, and the
// recovery loop runs compensate again.
func (s *Service) compensate(ctx context.Context, o Order, mustVoid bool) (Order, error) {
	if mustVoid || voids(o.FailureReason) {
		if err := s.gateway.Void(ctx, o.ID); err != nil {
			return Order{}, fmt.Errorf("voiding %s: %w", o.ID, err)
		}
		s.at(ctx, "voided", o.ID)
	}
	finish := func(cur *Order) ([]event.Message, error) {
		if cur.Status != StatusFailing {
			return nil, nil
		}
		now := s.o.Now()
		if err := cur.Move(StatusPaymentFailed, now); err != nil {
			return nil, err
		}
		return failedEvents(*cur, cur.FailureReason, now)
	}
	var (
		failed Order
		err    error
	)
	if s.joint != nil {
		failed, err = s.joint.ReleaseAndUpdateOrder(ctx, o.ID, finish)
	}
	if s.joint == nil || errors.Is(err, inventory.ErrReservationClosed) {
		// Apart from the orders, or sold without the order paid (a joint
		// store sells only with the payment, so only data from elsewhere
		// gets here): return the stock step by step.
		if err := s.returnStock(ctx, o); err != nil {
			return Order{}, err
		}
		s.at(ctx, "released", o.ID)
		failed, err = s.store.UpdateOrder(ctx, o.ID, finish)
	}
	if err != nil {
		return Order{}, fmt.Errorf("recording failed payment of %s: %w", o.ID, err)
	}
	s.o.Committed()
	return failed, &FailureError{Order: failed, Cause: failureCause(failed.FailureReason)}
}

// returnStock gives a failing order's stock back where the stock is kept
// apart from the orders: its reservation is released, or, when the stock
// was sold but the order never marked paid (the request died between the
// two, or its payment lost the race to the decision to fail), put back by
// an adjustment. A failing order can never become paid, so neither can be
// undone by its payment.
func (s *Service) returnStock(ctx context.Context, o Order) error {
	err := s.stock.Release(ctx, o.ID)
	switch {
	case errors.Is(err, inventory.ErrReservationClosed):
		for _, l := range o.Items {
			if _, err := s.stock.Adjust(ctx, l.SKU, l.Quantity, "order_abandoned", "abandon:"+o.ID); err != nil {
				return fmt.Errorf("returning stock of %s: %w", o.ID, err)
			}
		}
	case err != nil && !errors.Is(err, inventory.ErrUnknownReservation):
		return fmt.Errorf("releasing stock of %s: %w", o.ID, err)
	}
	return nil
}

func (s *Service) releaseQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.stock.Release(ctx, id); err != nil {
		s.o.Logger.Warn("releasing stock of an order that was not stored; the expiry sweeper will", "order", id, "err", err)
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

// RecoverStale gives up orders stuck in reserved (their request died) and
// finishes compensations a crash interrupted (orders left failing): each
// ends payment_failed with its authorization voided and its stock back.
func (s *Service) RecoverStale(ctx context.Context) (int, error) {
	now := s.o.Now()
	stuck, err := s.store.StaleOrders(ctx, StatusReserved, now.Add(-s.o.RecoverAfter), 200)
	if err != nil {
		return 0, err
	}
	// A compensation takes one void and one transaction; one older than a
	// payment timeout was interrupted.
	failing, err := s.store.StaleOrders(ctx, StatusFailing, now.Add(-s.o.PaymentTimeout), 200)
	if err != nil {
		return 0, err
	}
	for _, id := range append(stuck, failing...) {
		_, err := s.fail(ctx, id, reasonAbandoned, false)
		var fe *FailureError
		if err != nil && !errors.As(err, &fe) {
			return 0, err
		}
	}
	return len(stuck) + len(failing), nil
}

// RunRecovery runs RecoverStale every interval until ctx ends.
func (s *Service) RunRecovery(ctx context.Context, every time.Duration) error {
	return periodic.Run(ctx, every, func(ctx context.Context, _ time.Time) error {
		_, err := s.RecoverStale(ctx)
		return err
	}, func(err error) { s.o.Logger.Warn("recovering interrupted checkouts", "err", err) })
}
