package redisinv

import "context"

// AdjustCache is the Redis half of Adjust, for tests that interleave it
// with a load.
func (s *Store) AdjustCache(ctx context.Context, sku string, delta int64, ref string, version int64) error {
	return s.adjustCache(ctx, sku, delta, ref, version)
}
