package livefeed

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrBadCursor is returned for a cursor this package did not write.
var ErrBadCursor = errors.New("livefeed: malformed cursor")

// Cursor is a stream's position in the event log: indexed like Topics(),
// the next offset to send of every partition of each topic; a nil entry is
// a topic the cursor does not cover.
type Cursor [][]int64

const (
	cursorVersion   = '1'
	maxCursorLen    = 64 << 10
	maxPartitions   = 1024 // the most partitions Mercato creates per topic
	maxCursorOffset = math.MaxInt64
)

// String encodes c for an SSE id: a version digit, then base64url of, per
// covered topic in order, its index, its partition count and the offsets,
// all as unsigned varints.
func (c Cursor) String() string {
	n := 0
	for _, parts := range c {
		n += 2 + len(parts)*binary.MaxVarintLen64/3
	}
	raw := make([]byte, 0, n)
	for i, parts := range c {
		if parts == nil {
			continue
		}
		raw = binary.AppendUvarint(raw, uint64(i))
		raw = binary.AppendUvarint(raw, uint64(len(parts)))
		for _, o := range parts {
			raw = binary.AppendUvarint(raw, uint64(max(o, 0)))
		}
	}
	out := make([]byte, 1+base64.RawURLEncoding.EncodedLen(len(raw)))
	out[0] = cursorVersion
	base64.RawURLEncoding.Encode(out[1:], raw)
	return string(out)
}

// ParseCursor decodes a cursor written by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	if len(s) < 1 || len(s) > maxCursorLen || s[0] != cursorVersion {
		return nil, fmt.Errorf("%w: unknown version or length", ErrBadCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	c := make(Cursor, len(Topics()))
	next := 0 // topics come in increasing index order, each once
	for len(raw) > 0 {
		idx, ok := uvarint(&raw)
		if !ok || idx >= uint64(len(c)) || int(idx) < next {
			return nil, fmt.Errorf("%w: bad topic index", ErrBadCursor)
		}
		n, ok := uvarint(&raw)
		if !ok || n < 1 || n > maxPartitions {
			return nil, fmt.Errorf("%w: bad partition count", ErrBadCursor)
		}
		parts := make([]int64, n)
		for p := range parts {
			o, ok := uvarint(&raw)
			if !ok || o > maxCursorOffset {
				return nil, fmt.Errorf("%w: bad offset", ErrBadCursor)
			}
			parts[p] = int64(o)
		}
		c[idx] = parts
		next = int(idx) + 1
	}
	return c, nil
}

// uvarint reads one unsigned varint off the front of b.
func uvarint(b *[]byte) (uint64, bool) {
	v, n := binary.Uvarint(*b)
	if n <= 0 {
		return 0, false
	}
	*b = (*b)[n:]
	return v, true
}

// clone is a deep copy of c.
func (c Cursor) clone() Cursor {
	out := make(Cursor, len(c))
	for i, parts := range c {
		if parts != nil {
			out[i] = append([]int64(nil), parts...)
		}
	}
	return out
}
