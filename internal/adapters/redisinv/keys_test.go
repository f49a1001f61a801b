package redisinv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/inventory"
)

// hashTag is the part of a key Redis Cluster hashes: the text between the
// first '{' and the next '}' when that is not empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// Every key one script touches hashes to the same slot in Redis Cluster,
// whatever the prefix, SKUs and ids hold: the script's reservation record,
// its SKUs' counters and an adjustment's marker share the shard's tag.
func TestScriptKeysShareOneHashSlot(t *testing.T) {
	t.Parallel()
	skus := []string{"A", "B", "sku{x}", "}{", "{", "C-1", "D-2", "E-3", "F-4", "G-5"}
	for _, prefix := range []string{"", "mercato:", "shop.mercato:", "a{b:", "{}", "x}y{", "{tenant}:"} {
		for _, shards := range []int{1, 4, 16} {
			t.Run(fmt.Sprintf("%q/%d", prefix, shards), func(t *testing.T) {
				t.Parallel()
				s := New(nil, nil, Options{Prefix: prefix, Shards: shards})
				var items []inventory.Item
				for _, sku := range skus {
					items = append(items, inventory.Item{SKU: sku, Qty: 1})
				}
				for _, g := range s.groups(items) {
					want := fmt.Sprintf("s%d", g.shard)
					keys, _ := s.keysArgs(g, "res{1", "held")
					for _, it := range g.items {
						keys = append(keys, s.adjustKey(it.SKU, "ref}{"))
					}
					for _, k := range keys {
						if got := hashTag(k); got != want {
							t.Errorf("key %q hashes %q, want the shard tag %q", k, got, want)
						}
					}
				}
			})
		}
	}
}
