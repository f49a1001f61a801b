package replenishment

import (
	"context"
	"time"

	"github.com/mercato-platform/mercato/internal/periodic"
)

// Supplier simulates the suppliers of the demo and the traffic simulator:
// each open purchase order is confirmed after a tenth of its lead time,
// shipped at half of it, and delivered when it is due. TimeScale speeds up
// the supplier's clock (1440: a day of lead time passes in a minute).
type Supplier struct {
	svc       *Service
	TimeScale float64
	Now       func() time.Time
}

// NewSupplier builds a simulated supplier.
func NewSupplier(svc *Service, timeScale float64) *Supplier {
	if timeScale <= 0 {
		timeScale = 1
	}
	return &Supplier{svc: svc, TimeScale: timeScale, Now: time.Now}
}

// Step advances every open order that is due; it returns how many moved.
func (s *Supplier) Step(ctx context.Context) (int, error) {
	moved := 0
	for _, st := range []Status{StatusShipped, StatusConfirmed, StatusRequested} {
		pos, err := s.svc.List(ctx, st, "", 500)
		if err != nil {
			return moved, err
		}
		for _, po := range pos {
			lead := po.ExpectedAt.Sub(po.CreatedAt)
			age := time.Duration(float64(s.Now().Sub(po.CreatedAt)) * s.TimeScale)
			var to Status
			switch {
			case st == StatusRequested && age >= lead/10:
				to = StatusConfirmed
			case st == StatusConfirmed && age >= lead/2:
				to = StatusShipped
			case st == StatusShipped && age >= lead:
				to = StatusReceived
			default:
				continue
			}
			if _, err := s.svc.Transition(ctx, po.ID, to); err != nil {
				return moved, err
			}
			moved++
		}
	}
	return moved, nil
}

// Run steps every interval until ctx ends.
func (s *Supplier) Run(ctx context.Context, every time.Duration) error {
	return periodic.Run(ctx, every, func(ctx context.Context, _ time.Time) error {
		_, err := s.Step(ctx)
		return err
	}, func(err error) { s.svc.o.Logger.Warn("simulated supplier", "err", err) })
}
