package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/mercato-platform/mercato/internal/periodic"
)

// AlertLister reads stored alerts.
type AlertLister interface {
	Alerts(ctx context.Context, typ string, since time.Time, limit int) ([]Alert, error)
	// NewestAlerts lists alerts of a type (all when empty) newest first,
	// starting below position before (0: from the newest).
	NewestAlerts(ctx context.Context, typ string, before int64, limit int) (AlertPage, error)
}

// AlertPage is one page of alerts, newest first. Next is the position to
// pass as before for the following page; 0 when this page is the last.
// Positions are the store's own order of alerts (the order they were
// stored), so a page never skips or repeats one while new alerts arrive.
type AlertPage struct {
	Items []Alert
	Next  int64
}

// Service is the inventory as the API and the other domains use it.
type Service struct {
	store     Store
	alerts    AlertLister
	committed func()
	log       *slog.Logger
}

// NewService builds the service; committed is told after each write that
// reached the outbox (it may be nil).
func NewService(store Store, alerts AlertLister, committed func(), log *slog.Logger) *Service {
	if committed == nil {
		committed = func() {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, alerts: alerts, committed: committed, log: log}
}

// Store returns the port, for the domains that reserve stock.
func (s *Service) Store() Store { return s.store }

// Levels returns a SKU's stock.
func (s *Service) Levels(ctx context.Context, sku string) (Levels, error) {
	return s.store.Levels(ctx, sku)
}

// MaxAdjustment bounds one adjustment.
const MaxAdjustment = 1_000_000_000

// Adjust changes on-hand stock by delta for a reason.
func (s *Service) Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (Levels, error) {
	if delta == 0 || delta > MaxAdjustment || delta < -MaxAdjustment {
		return Levels{}, fmt.Errorf("%w: delta must be non-zero and within ±%d", ErrInvalid, MaxAdjustment)
	}
	if n := utf8.RuneCountInString(reason); n < 1 || n > 200 {
		return Levels{}, fmt.Errorf("%w: reason must be 1-200 characters", ErrInvalid)
	}
	if len(ref) > 200 {
		return Levels{}, fmt.Errorf("%w: ref must be at most 200 characters", ErrInvalid)
	}
	l, err := s.store.Adjust(ctx, sku, delta, reason, ref)
	if err != nil {
		return Levels{}, err
	}
	s.committed()
	return l, nil
}

// Alerts lists alerts of a type (all when empty) since a time.
func (s *Service) Alerts(ctx context.Context, typ string, since time.Time, limit int) ([]Alert, error) {
	switch typ {
	case "", AlertLowStock, AlertOutOfStock:
	default:
		return nil, fmt.Errorf("%w: type must be %s or %s", ErrInvalid, AlertLowStock, AlertOutOfStock)
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("%w: limit must be 1-1000", ErrInvalid)
	}
	return s.alerts.Alerts(ctx, typ, since, limit)
}

// NewestAlerts lists alerts of a type (all when empty) newest first, below
// position before (0: from the newest).
func (s *Service) NewestAlerts(ctx context.Context, typ string, before int64, limit int) (AlertPage, error) {
	switch typ {
	case "", AlertLowStock, AlertOutOfStock:
	default:
		return AlertPage{}, fmt.Errorf("%w: type must be %s or %s", ErrInvalid, AlertLowStock, AlertOutOfStock)
	}
	if limit < 1 || limit > 1000 {
		return AlertPage{}, fmt.Errorf("%w: limit must be 1-1000", ErrInvalid)
	}
	if before < 0 {
		return AlertPage{}, fmt.Errorf("%w: position must not be negative", ErrInvalid)
	}
	return s.alerts.NewestAlerts(ctx, typ, before, limit)
}

// ReleaseExpired releases held reservations whose TTL passed; it returns how
// many it released.
func (s *Service) ReleaseExpired(ctx context.Context, now time.Time) (int, error) {
	ids, err := s.store.ExpiredReservations(ctx, now, 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		// A reservation committed meanwhile is closed: nothing to release.
		if err := s.store.Release(ctx, id); err != nil && !isClosed(err) {
			return n, fmt.Errorf("releasing expired reservation %s: %w", id, err)
		}
		n++
	}
	if n > 0 {
		s.committed()
	}
	return n, nil
}

func isClosed(err error) bool {
	return err != nil && (errors.Is(err, ErrReservationClosed) || errors.Is(err, ErrUnknownReservation))
}

// RunSweeper releases expired reservations every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) error {
	return periodic.Run(ctx, every, func(ctx context.Context, now time.Time) error {
		_, err := s.ReleaseExpired(ctx, now)
		return err
	}, func(err error) { s.log.Warn("releasing expired reservations", "err", err) })
}
