package livefeed

import (
	"encoding/base64"
	"errors"
	"slices"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	n := len(Topics())
	for _, tc := range []struct {
		name string
		c    Cursor
	}{
		{"empty", make(Cursor, n)},
		{"one topic", func() Cursor { c := make(Cursor, n); c[2] = []int64{0, 5, 1 << 40}; return c }()},
		{"every topic", func() Cursor {
			c := make(Cursor, n)
			for i := range c {
				c[i] = []int64{int64(i), 300, 0, 1<<63 - 1}
			}
			return c
		}()},
		{"last topic, 1024 partitions", func() Cursor { c := make(Cursor, n); c[n-1] = make([]int64, 1024); return c }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.c.String()
			got, err := ParseCursor(s)
			if err != nil {
				t.Fatalf("ParseCursor(%q): %v", s, err)
			}
			if !slices.EqualFunc(got, tc.c, slices.Equal) {
				t.Errorf("round trip = %v, want %v", got, tc.c)
			}
			for _, ch := range s {
				if ch == '\n' || ch == '\r' || ch == ' ' {
					t.Fatalf("cursor %q is not one SSE id token", s)
				}
			}
		})
	}
}

func TestParseCursorRejectsMalformed(t *testing.T) {
	t.Parallel()
	enc := func(raw ...byte) string { return "1" + base64.RawURLEncoding.EncodeToString(raw) }
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"other version", "2" + enc()[1:]},
		{"not base64", "1***"},
		{"topic index out of range", enc(byte(len(Topics())), 1, 0)},
		{"topics out of order", enc(3, 1, 0, 2, 1, 0)},
		{"topic twice", enc(3, 1, 0, 3, 1, 0)},
		{"no partitions", enc(0, 0)},
		{"too many partitions", enc(0, 0x81, 0x08)}, // 1025
		{"truncated offsets", enc(0, 3, 1, 2)},
		{"truncated varint", enc(0, 1, 0x80)},
		{"offset beyond int64", enc(0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if c, err := ParseCursor(tc.in); !errors.Is(err, ErrBadCursor) {
				t.Errorf("ParseCursor(%q) = %v, %v; want ErrBadCursor", tc.in, c, err)
			}
		})
	}
}

func FuzzParseCursor(f *testing.F) {
	c := make(Cursor, len(Topics()))
	c[0], c[4] = []int64{1, 2, 3}, []int64{1 << 33}
	f.Add(c.String())
	f.Add("1")
	f.Add("1AAEA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		again, err := ParseCursor(c.String())
		if err != nil || !slices.EqualFunc(again, c, slices.Equal) {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v %v", s, c, again, err)
		}
	})
}
