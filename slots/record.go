package slots

import (
	"encoding/binary"
	"errors"
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

// EncodeAttrs encodes attrs deterministically (a set is sorted by type).
func EncodeAttrs(attrs AttrSet) []byte {
	size := len(recordMagic) + 4 + 12*attrs.Len() + len(attrs.data)
	b := make([]byte, 0, size)
	b = append(b, recordMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(attrs.Len()))
	for t, v := range attrs.All() {
		b = binary.LittleEndian.AppendUint64(b, t)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// DecodeAttrs decodes a record made by EncodeAttrs. The values are copies:
// the set shares nothing with b.
func DecodeAttrs(b []byte) (AttrSet, error) {
	if len(b) < 8 || string(b[:4]) != string(recordMagic) {
		return AttrSet{}, ErrCorrupt
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > maxRecordAttrs {
		return AttrSet{}, ErrCorrupt
	}
	b = b[8:]
	// First pass: check the framing and size the set.
	size := 0
	var prev uint64
	rest := b
	for i := range n {
		if len(rest) < 12 {
			return AttrSet{}, ErrCorrupt
		}
		t := binary.LittleEndian.Uint64(rest)
		l := binary.LittleEndian.Uint32(rest[8:])
		rest = rest[12:]
		if l > maxAttrLen || uint64(l) > uint64(len(rest)) || (i > 0 && t <= prev) {
			return AttrSet{}, ErrCorrupt
		}
		size += int(l)
		rest = rest[l:]
		prev = t
	}
	if len(rest) != 0 || size > maxSetData {
		return AttrSet{}, ErrCorrupt
	}
	s := newSet(int(n), size)
	for i := range n {
		l := binary.LittleEndian.Uint32(b[8:])
		s.types[i] = binary.LittleEndian.Uint64(b)
		s.data = append(s.data, b[12:12+l]...)
		s.ends[i] = uint32(len(s.data))
		b = b[12+l:]
	}
	return s, nil
}
