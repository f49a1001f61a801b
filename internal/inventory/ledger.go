package inventory

// Ledger entry kinds.
const (
	KindInitial = "initial"
	KindAdjust  = "adjust"
)

// LedgerEntry is one change of a SKU's stock. The ledger is the system of
// record: summing a SKU's deltas gives its on-hand and reserved quantities.
type LedgerEntry struct {
	ID            int64  `json:"id"`
	SKU           string `json:"sku"`
	Kind          string `json:"kind"`
	OnHandDelta   int64  `json:"on_hand_delta"`
	ReservedDelta int64  `json:"reserved_delta"`
	Reason        string `json:"reason"`
	Ref           string `json:"ref,omitempty"`
}
