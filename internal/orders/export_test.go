package orders

import "context"

// SetCheckpoint makes s call f at each step of the saga where another actor
// may interleave ("committed", "voided", "released"), so tests can run
// every order of two actors' steps.
func SetCheckpoint(s *Service, f func(ctx context.Context, step, orderID string)) { s.checkpoint = f }
