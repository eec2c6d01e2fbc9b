package slots

import (
	"encoding/binary"
	"errors"
	"slices"
)

// Record encoding of an attribute set, used for both the clear and the
// sealed column of an object row:
//
//	"CRA1" | count u32 | count × (type u64 | len u32 | value)
//
// little-endian, sorted by type, no duplicates. DecodeAttrs is fuzzed.

var recordMagic = []byte("CRA1")

// maxRecordAttrs and maxAttrLen bound what a record may claim, so a corrupt
// row cannot make the decoder allocate without limit.
const (
	maxRecordAttrs = 4096
	maxAttrLen     = 64 << 20
)

// ErrCorrupt marks a record that does not decode.
var ErrCorrupt = errors.New("slots: corrupt object record")

// EncodeAttrs encodes attrs deterministically.
func EncodeAttrs(attrs map[uint64][]byte) []byte {
	types := make([]uint64, 0, len(attrs))
	size := len(recordMagic) + 4
	for t, v := range attrs {
		types = append(types, t)
		size += 12 + len(v)
	}
	slices.Sort(types)
	b := make([]byte, 0, size)
	b = append(b, recordMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(types)))
	for _, t := range types {
		v := attrs[t]
		b = binary.LittleEndian.AppendUint64(b, t)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// DecodeAttrs decodes a record made by EncodeAttrs. Values are copies.
func DecodeAttrs(b []byte) (map[uint64][]byte, error) {
	if len(b) < 8 || string(b[:4]) != string(recordMagic) {
		return nil, ErrCorrupt
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > maxRecordAttrs {
		return nil, ErrCorrupt
	}
	b = b[8:]
	attrs := make(map[uint64][]byte, n)
	var prev uint64
	for i := range n {
		if len(b) < 12 {
			return nil, ErrCorrupt
		}
		t := binary.LittleEndian.Uint64(b)
		l := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		if l > maxAttrLen || uint64(l) > uint64(len(b)) || (i > 0 && t <= prev) {
			return nil, ErrCorrupt
		}
		attrs[t] = append([]byte{}, b[:l]...)
		b = b[l:]
		prev = t
	}
	if len(b) != 0 {
		return nil, ErrCorrupt
	}
	return attrs, nil
}
