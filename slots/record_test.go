package slots

import (
	"bytes"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, attrs := range []map[uint64][]byte{
		{},
		{0: nil},
		{3: []byte("label"), 1: {1}, 0x80000001: bytes.Repeat([]byte{7}, 1000)},
	} {
		enc := EncodeAttrs(AttrSetOf(attrs))
		got, err := DecodeAttrs(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != len(attrs) {
			t.Fatalf("got %d attributes, want %d", got.Len(), len(attrs))
		}
		for k, v := range attrs {
			if g, ok := got.Get(k); !ok || !bytes.Equal(g, v) {
				t.Fatalf("attribute %d: %x (present %v) != %x", k, g, ok, v)
			}
		}
		if !bytes.Equal(EncodeAttrs(got), enc) {
			t.Fatal("encoding is not deterministic")
		}
	}
}

func TestRecordRejectsCorruption(t *testing.T) {
	good := EncodeAttrs(AttrSetOf(map[uint64][]byte{1: []byte("abc"), 2: []byte("de")}))
	cases := map[string][]byte{
		"empty":        nil,
		"bad magic":    append([]byte("XRA1"), good[4:]...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"huge count":   append(append([]byte("CRA1"), 0xff, 0xff, 0xff, 0x7f), good[8:]...),
		"value beyond": append(append([]byte{}, good[:16]...), 0xff, 0xff, 0, 0),
	}
	// Unsorted types: swap the two entries.
	swapped := EncodeAttrs(AttrSetOf(map[uint64][]byte{1: []byte("abc")}))
	swapped = append(swapped[:8], append(good[8+12+3:], good[8:8+12+3]...)...)
	swapped[4] = 2
	cases["unsorted"] = swapped
	for name, b := range cases {
		if _, err := DecodeAttrs(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeAttrs: the decoder never panics, and what it accepts re-encodes
// to the same bytes (the encoding is canonical).
func FuzzDecodeAttrs(f *testing.F) {
	f.Add(EncodeAttrs(AttrSetOf(map[uint64][]byte{1: []byte("abc"), 0x102: {1, 2, 3, 4, 5, 6, 7, 8}})))
	f.Add([]byte("CRA1\x00\x00\x00\x00"))
	f.Add([]byte("CRA1\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs, err := DecodeAttrs(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeAttrs(attrs), b) {
			t.Fatalf("accepted a non-canonical record %x", b)
		}
	})
}
