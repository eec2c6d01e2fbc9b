package slots

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAttrBuilder: whatever order attributes come in, small types (found
// through the bitmap) and large ones (scanned) alike, the set has each once,
// with its last value, the types ascending; a pooled builder comes back
// empty.
func TestAttrBuilder(t *testing.T) {
	types := []uint64{0, 1, 3, 0x11, 0x63, 0x100, 0x102, 0x180, 0x210, smallTypes - 1, smallTypes,
		0x40000600, 0x80000001, 0x80000002, ^uint64(0)}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		b := getBuilder()
		want := map[uint64][]byte{}
		for _, i := range r.Perm(len(types)) {
			typ := types[i]
			v := []byte{byte(round), byte(i)}
			if r.IntN(2) == 0 {
				b.setDefault(typ, v)
			} else {
				b.add(typ, v)
			}
			want[typ] = v
		}
		for _, typ := range types[:5] { // replace some
			v := []byte("new")
			b.set(typ, v)
			want[typ] = v
		}
		for _, typ := range types {
			if !b.has(typ) {
				t.Fatalf("round %d: builder lost %#x", round, typ)
			}
		}
		if b.has(2) || b.has(0x80000003) {
			t.Fatalf("round %d: builder has a type never given", round)
		}
		s := b.build()
		b.release()
		if s.Len() != len(types) {
			t.Fatalf("round %d: %d attributes, want %d", round, s.Len(), len(types))
		}
		var got []uint64
		for typ, v := range s.All() {
			got = append(got, typ)
			if !bytes.Equal(v, want[typ]) {
				t.Fatalf("round %d: %#x = %x, want %x", round, typ, v, want[typ])
			}
		}
		if !slices.IsSorted(got) {
			t.Fatalf("round %d: types not ascending: %#x", round, got)
		}
	}
	if b := getBuilder(); len(b.ents) != 0 || b.small != [smallTypes / 64]uint64{} {
		t.Fatal("a released builder came back holding attributes")
	}
}

// TestBuilderRoomCoversEveryClass: a pooled builder has room for every
// attribute of the largest class and key type, so making an object never
// grows it (and build's position array stays on the stack).
func TestBuilderRoomCoversEveryClass(t *testing.T) {
	for i, tab := range attrTables {
		if tab.size > maxBuildAttrs {
			t.Errorf("table %#x/%#x: %d attributes, maxBuildAttrs %d", tableKeys[i][0], tableKeys[i][1], tab.size, maxBuildAttrs)
		}
	}
}
