package slots

import (
	"cmp"
	"iter"
	"math/bits"
	"slices"
	"sync"
)

// AttrSet is an object's attributes: the types sorted, the values packed
// one after the other in a buffer the set owns. An object holds one for
// life (a change makes a new Object and a new set); only its key material
// is ever written, zeroed in place when the object is wiped.
//
// It replaced a map[uint64][]byte: a session AES key's map was 2 KiB of
// hash groups and two thirds of what making the key allocated, and the
// collector's work on it held two threads making keys to the speed of one.
// A set of 35 attributes is 35 types, 35 ends and the values: about 600
// bytes in three allocations, and a lookup is a binary search.
type AttrSet struct {
	types []uint64 // sorted, no duplicates
	ends  []uint32 // value i is data[ends[i-1]:ends[i]] (from 0 for i = 0)
	data  []byte
}

// index is the position of t in s, or -1.
func (s AttrSet) index(t uint64) int {
	lo, hi := 0, len(s.types)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.types[m] < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.types) && s.types[lo] == t {
		return lo
	}
	return -1
}

// at is value i, its capacity cut to its length so that no append can
// reach the next value.
func (s AttrSet) at(i int) []byte {
	var start uint32
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.data[start:s.ends[i]:s.ends[i]]
}

// Get returns the value of attribute t and whether the object has t. The
// value is the object's own: the caller must not change it.
func (s AttrSet) Get(t uint64) ([]byte, bool) {
	if i := s.index(t); i >= 0 {
		return s.at(i), true
	}
	return nil, false
}

// Value returns the value of attribute t, nil when the object has no t.
func (s AttrSet) Value(t uint64) []byte {
	v, _ := s.Get(t)
	return v
}

// Has reports whether the object has attribute t.
func (s AttrSet) Has(t uint64) bool { return s.index(t) >= 0 }

// Len is the number of attributes.
func (s AttrSet) Len() int { return len(s.types) }

// All yields every attribute, in ascending order of type.
func (s AttrSet) All() iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		for i, t := range s.types {
			if !yield(t, s.at(i)) {
				return
			}
		}
	}
}

// Map returns the attributes as a map whose values are the set's own (the
// caller must not change them). For tests and the rare caller that wants
// one; the token's paths use Get.
func (s AttrSet) Map() map[uint64][]byte {
	m := make(map[uint64][]byte, len(s.types))
	for t, v := range s.All() {
		m[t] = v
	}
	return m
}

// attrEntry is one attribute while a set is being built.
type attrEntry struct {
	t uint64
	v []byte
}

// attrBuilder collects attributes for a new AttrSet. It borrows the values
// it is given (a template's, a key generator's, shared constants); build
// copies them all into the set's own buffer.
//
// Every attribute PKCS#11 defines for the objects Craton keeps but two
// (CKA_ALLOWED_MECHANISMS, vendor ones) has a type below smallTypes: those
// are found through a bitmap and a position table, and build walks the
// bitmap in order, so neither a lookup nor the sort compares types (a
// linear lookup per default and a sort were a quarter of a session key's
// creation). The rest are found by a scan and sorted, being few.
type attrBuilder struct {
	ents  []attrEntry
	small [smallTypes / 64]uint64 // bit t: type t (< smallTypes) is in ents, at pos[t]
	pos   [smallTypes]int32
	// Room for the values NewObject computes, which the builder borrows
	// like the others: the CK_ULONGs and the unique ID.
	ulongs [3][8]byte
	id     [uniqueIDLen]byte
}

// builders are NewObject's builders, reused: a builder's entries are a
// kilobyte that escape analysis cannot keep on the stack (setDefaults
// appends to them), so a fresh one was garbage on every creation.
var builders = sync.Pool{New: func() any { return &attrBuilder{ents: make([]attrEntry, 0, maxBuildAttrs)} }}

func getBuilder() *attrBuilder { return builders.Get().(*attrBuilder) }

// release returns b to the pool, dropping every value it borrowed (a
// template's key material among them) so the pool keeps nothing alive.
func (b *attrBuilder) release() {
	if cap(b.ents) > 4*maxBuildAttrs {
		return // grown by an odd template: let it go
	}
	clear(b.ents) // what lies past len was cleared before, or never set
	b.ents = b.ents[:0]
	b.small = [smallTypes / 64]uint64{} // pos is read only where a bit is set
	builders.Put(b)
}

// builderOf is a builder holding s's attributes (borrowed, as any value
// given to a builder), with room for extra more.
func builderOf(s AttrSet, extra int) attrBuilder {
	b := attrBuilder{ents: make([]attrEntry, 0, s.Len()+extra)}
	for t, v := range s.All() {
		b.add(t, v)
	}
	return b
}

// smallTypes bounds the types the builder indexes directly.
const smallTypes = 1024

func (b *attrBuilder) find(t uint64) int {
	if t < smallTypes {
		if b.small[t/64]&(1<<(t%64)) != 0 {
			return int(b.pos[t])
		}
		return -1
	}
	for i := range b.ents {
		if b.ents[i].t == t {
			return i
		}
	}
	return -1
}

func (b *attrBuilder) get(t uint64) ([]byte, bool) {
	if i := b.find(t); i >= 0 {
		return b.ents[i].v, true
	}
	return nil, false
}

func (b *attrBuilder) has(t uint64) bool { return b.find(t) >= 0 }

// set gives t the value v (borrowed until build), replacing any.
func (b *attrBuilder) set(t uint64, v []byte) {
	if i := b.find(t); i >= 0 {
		b.ents[i].v = v
		return
	}
	b.add(t, v)
}

// add appends t, which the builder must not hold yet.
func (b *attrBuilder) add(t uint64, v []byte) {
	if t < smallTypes {
		b.small[t/64] |= 1 << (t % 64)
		b.pos[t] = int32(len(b.ents))
	}
	b.ents = append(b.ents, attrEntry{t, v})
}

// setDefault gives t the value v unless it has one.
func (b *attrBuilder) setDefault(t uint64, v []byte) {
	if !b.has(t) {
		b.add(t, v)
	}
}

// build makes the set: the types sorted, every value copied. It orders
// positions, not the entries: moving entries (which hold pointers) in a
// pooled, heap-allocated builder made the collector's write barrier a
// quarter of a key's creation.
func (b *attrBuilder) build() AttrSet {
	var room [maxBuildAttrs]attrPos
	order := room[:0]
	for w, word := range b.small {
		for word != 0 {
			t := uint64(w*64 + bits.TrailingZeros64(word))
			order = append(order, attrPos{t, int(b.pos[t])})
			word &= word - 1
		}
	}
	large := len(order)
	size := 0
	for i, e := range b.ents {
		if e.t >= smallTypes {
			order = append(order, attrPos{e.t, i})
		}
		size += len(e.v)
	}
	slices.SortFunc(order[large:], func(x, y attrPos) int { return cmp.Compare(x.t, y.t) })
	s := newSet(len(order), size)
	for i, p := range order {
		s.types[i] = p.t
		s.data = append(s.data, b.ents[p.i].v...)
		s.ends[i] = uint32(len(s.data))
	}
	return s
}

// attrPos is an entry's type and position in the builder.
type attrPos struct {
	t uint64
	i int
}

// maxSetData bounds the values of one set, which ends indexes with 32
// bits. An object never comes near it: its types are those of its class (at
// most 36), each value at most 64 MiB (the C ABI's limit); DecodeAttrs
// refuses a record past it.
const maxSetData = 1<<32 - 1

// newSet makes an empty set with room for n attributes and size bytes of
// values.
func newSet(n, size int) AttrSet {
	if size > maxSetData {
		panic("slots: attribute values past 4 GiB") // unreachable: see maxSetData
	}
	return AttrSet{types: make([]uint64, n), ends: make([]uint32, n), data: make([]byte, 0, size)}
}

// AttrSetOf makes a set from a map, copying the values: for tests and for
// key material made outside the token.
func AttrSetOf(m map[uint64][]byte) AttrSet {
	b := attrBuilder{ents: make([]attrEntry, 0, len(m))}
	for t, v := range m {
		b.add(t, v)
	}
	return b.build()
}
