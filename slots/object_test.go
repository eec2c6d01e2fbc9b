package slots

import (
	"errors"
	"slices"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

func a(t uint64, v any) Attribute {
	switch x := v.(type) {
	case bool:
		return Attribute{Type: t, Value: Bool(x)}
	case int:
		return Attribute{Type: t, Value: ULong(uint64(x))}
	case string:
		return Attribute{Type: t, Value: []byte(x)}
	case []byte:
		return Attribute{Type: t, Value: x}
	}
	panic("a: bad value")
}

var aes32 = make([]byte, 32)

func TestNewObjectRules(t *testing.T) {
	cases := []struct {
		name string
		tmpl Template
		so   bool
		want RV
	}{
		{"data", Template{a(CKA_CLASS, CKO_DATA)}, false, CKR_OK},
		{"no class", Template{a(CKA_LABEL, "x")}, false, CKR_TEMPLATE_INCOMPLETE},
		{"class wrong size", Template{{Type: CKA_CLASS, Value: []byte{1, 0, 0, 0}}}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"unknown class", Template{a(CKA_CLASS, 0x77)}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"duplicate", Template{a(CKA_CLASS, CKO_DATA), a(CKA_LABEL, "x"), a(CKA_LABEL, "y")}, false, CKR_TEMPLATE_INCONSISTENT},
		{"key attr on data", Template{a(CKA_CLASS, CKO_DATA), a(CKA_SIGN, true)}, false, CKR_ATTRIBUTE_TYPE_INVALID},
		{"bool wrong size", Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, 1)}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"unique id given", Template{a(CKA_CLASS, CKO_DATA), a(CKA_UNIQUE_ID, "x")}, false, CKR_ATTRIBUTE_READ_ONLY},
		{"cert needs type", Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_VALUE, "der")}, false, CKR_TEMPLATE_INCOMPLETE},
		{"cert needs value", Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_CERTIFICATE_TYPE, CKC_X_509)}, false, CKR_TEMPLATE_INCOMPLETE},
		{"cert not x509", Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_CERTIFICATE_TYPE, CKC_WTLS), a(CKA_VALUE, "der")}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"cert trusted by user", Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_CERTIFICATE_TYPE, CKC_X_509), a(CKA_VALUE, "der"), a(CKA_TRUSTED, true)}, false, CKR_ATTRIBUTE_READ_ONLY},
		{"cert trusted by SO", Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_CERTIFICATE_TYPE, CKC_X_509), a(CKA_VALUE, "der"), a(CKA_TRUSTED, true)}, true, CKR_OK},
		{"aes", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32)}, false, CKR_OK},
		{"aes bad length", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32[:20])}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"aes value_len given", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32), a(CKA_VALUE_LEN, 32)}, false, CKR_TEMPLATE_INCONSISTENT},
		{"secret without value", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES)}, false, CKR_TEMPLATE_INCOMPLETE},
		{"secret without type", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_VALUE, aes32)}, false, CKR_TEMPLATE_INCOMPLETE},
		{"secret of rsa type", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_RSA), a(CKA_VALUE, aes32)}, false, CKR_ATTRIBUTE_VALUE_INVALID},
		{"local given", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32), a(CKA_LOCAL, true)}, false, CKR_ATTRIBUTE_READ_ONLY},
		{"rsa public", Template{a(CKA_CLASS, CKO_PUBLIC_KEY), a(CKA_KEY_TYPE, CKK_RSA), a(CKA_MODULUS, []byte{0x80, 0}), a(CKA_PUBLIC_EXPONENT, []byte{1, 0, 1})}, false, CKR_OK},
		{"rsa public no modulus", Template{a(CKA_CLASS, CKO_PUBLIC_KEY), a(CKA_KEY_TYPE, CKK_RSA), a(CKA_PUBLIC_EXPONENT, []byte{1, 0, 1})}, false, CKR_TEMPLATE_INCOMPLETE},
		{"ec private", Template{a(CKA_CLASS, CKO_PRIVATE_KEY), a(CKA_KEY_TYPE, CKK_EC), a(CKA_EC_PARAMS, "oid"), a(CKA_VALUE, aes32)}, false, CKR_OK},
		{"ec private modulus", Template{a(CKA_CLASS, CKO_PRIVATE_KEY), a(CKA_KEY_TYPE, CKK_EC), a(CKA_EC_PARAMS, "oid"), a(CKA_VALUE, aes32), a(CKA_MODULUS, "m")}, false, CKR_ATTRIBUTE_TYPE_INVALID},
		{"bad date", Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32), a(CKA_START_DATE, "2026-1-1")}, false, CKR_ATTRIBUTE_VALUE_INVALID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewObject(c.tmpl, Origin{}, c.so)
			if c.want == CKR_OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestDefaultsAndShadows(t *testing.T) {
	o, err := NewObject(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32)}, Origin{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !o.IsPrivate() || !o.Bool(CKA_SENSITIVE) || o.Bool(CKA_EXTRACTABLE) || o.Bool(CKA_LOCAL) || o.Bool(CKA_ALWAYS_SENSITIVE) || o.Bool(CKA_NEVER_EXTRACTABLE) {
		t.Fatalf("imported key defaults wrong: %v", o.Attrs.Map())
	}
	if !o.Sensitive() || len(o.UniqueID()) != 32 {
		t.Fatal("sensitive/unique id")
	}
	g, err := NewObject(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32), a(CKA_EXTRACTABLE, true)}, Origin{Generated: true, Mechanism: CKM_AES_KEY_GEN}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Bool(CKA_LOCAL) || !g.Bool(CKA_ALWAYS_SENSITIVE) || g.Bool(CKA_NEVER_EXTRACTABLE) {
		t.Fatalf("generated key shadows wrong: %v", g.Attrs.Map())
	}
	if v, _ := DecodeULong(g.Attrs.Value(CKA_KEY_GEN_MECHANISM)); v != CKM_AES_KEY_GEN {
		t.Fatalf("CKA_KEY_GEN_MECHANISM %d", v)
	}
	d, _ := NewObject(Template{a(CKA_CLASS, CKO_DATA)}, Origin{}, false)
	if d.IsPrivate() || d.IsToken() || !d.Bool(CKA_MODIFIABLE) || !d.Bool(CKA_COPYABLE) || !d.Bool(CKA_DESTROYABLE) {
		t.Fatalf("data defaults wrong: %v", d.Attrs.Map())
	}
}

func TestChangeRules(t *testing.T) {
	o, _ := NewObject(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_VALUE, aes32), a(CKA_SENSITIVE, false), a(CKA_EXTRACTABLE, true)}, Origin{}, false)
	cases := []struct {
		name string
		tmpl Template
		mode ChangeMode
		want RV
	}{
		{"label", Template{a(CKA_LABEL, "new")}, BySetAttribute, CKR_OK},
		{"sensitive on", Template{a(CKA_SENSITIVE, true)}, BySetAttribute, CKR_OK},
		{"extractable off", Template{a(CKA_EXTRACTABLE, false)}, BySetAttribute, CKR_OK},
		{"value same", Template{a(CKA_VALUE, aes32)}, BySetAttribute, CKR_ATTRIBUTE_READ_ONLY},
		{"token same by set", Template{a(CKA_TOKEN, false)}, BySetAttribute, CKR_OK}, // no change
		{"value changed", Template{a(CKA_VALUE, make([]byte, 16))}, BySetAttribute, CKR_ATTRIBUTE_READ_ONLY},
		{"class", Template{a(CKA_CLASS, CKO_DATA)}, BySetAttribute, CKR_ATTRIBUTE_READ_ONLY},
		{"token by set", Template{a(CKA_TOKEN, true)}, BySetAttribute, CKR_ATTRIBUTE_READ_ONLY},
		{"token by copy", Template{a(CKA_TOKEN, true)}, ByCopy, CKR_OK},
		{"modifiable by set", Template{a(CKA_MODIFIABLE, false)}, BySetAttribute, CKR_ATTRIBUTE_READ_ONLY},
		{"modifiable off by copy", Template{a(CKA_MODIFIABLE, false)}, ByCopy, CKR_OK},
		{"local", Template{a(CKA_LOCAL, true)}, ByCopy, CKR_ATTRIBUTE_READ_ONLY},
		{"wrong type", Template{a(CKA_MODULUS, "x")}, BySetAttribute, CKR_ATTRIBUTE_TYPE_INVALID},
		{"wrong size", Template{a(CKA_SIGN, 1)}, BySetAttribute, CKR_ATTRIBUTE_VALUE_INVALID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := o.Changed(c.tmpl, c.mode, false)
			if c.want == CKR_OK {
				if err != nil {
					t.Fatal(err)
				}
				if c.mode == ByCopy && n.UniqueID() == o.UniqueID() {
					t.Fatal("copy kept the unique id")
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Once sensitive, never back.
	s, _ := o.Changed(Template{a(CKA_SENSITIVE, true)}, BySetAttribute, false)
	if _, err := s.Changed(Template{a(CKA_SENSITIVE, false)}, ByCopy, false); !errors.Is(err, CKR_ATTRIBUTE_READ_ONLY) {
		t.Fatalf("sensitive went back to false: %v", err)
	}
}

// TestAttrTablesMatchTheSets: the per-class tables give, for every class and
// key type (known or not) and every attribute (known or not), the spec and
// the required list that the attribute sets themselves give.
func TestAttrTablesMatchTheSets(t *testing.T) {
	var types []uint64
	for _, m := range []map[uint64]attrSpec{commonAttrs, dataAttrs, certAttrs, keyAttrs, publicKeyAttrs, privateKeyAttrs,
		secretKeyAttrs, rsaPublicAttrs, rsaPrivateAttrs, ecPublicAttrs, ecPrivateAttrs} {
		for a := range m {
			types = append(types, a)
		}
	}
	types = append(types, 0x7fff_0001, CKA_VENDOR_DEFINED)
	for _, class := range []uint64{CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKO_HW_FEATURE, 0x1234} {
		for _, kt := range []uint64{CKK_RSA, CKK_EC, CKK_EC_EDWARDS, CKK_AES, CKK_GENERIC_SECRET, 0x999} {
			var req, secrets []uint64
			for _, a := range types {
				got, gok := specFor(class, kt, a)
				want, wok := slowSpecFor(class, kt, a)
				if got != want || gok != wok {
					t.Errorf("class %#x, key type %#x, attribute %#x: %+v %v, want %+v %v", class, kt, a, got, gok, want, wok)
				}
				if wok && want.required && !slices.Contains(req, a) {
					req = append(req, a)
				}
				if wok && want.secret && !slices.Contains(secrets, a) {
					secrets = append(secrets, a)
				}
			}
			slices.Sort(req)
			if got := requiredFor(class, kt); !slices.Equal(got, req) {
				t.Errorf("class %#x, key type %#x: required %v, want %v", class, kt, got, req)
			}
			slices.Sort(secrets)
			if got := tableFor(class, kt).secrets; !slices.Equal(got, secrets) {
				t.Errorf("class %#x, key type %#x: secrets %v, want %v", class, kt, got, secrets)
			}
		}
	}
	for i, k := range tableKeys {
		if got := tableIndex(k[0], k[1]); got != i {
			t.Errorf("tableIndex(%#x, %#x) = %d, want %d", k[0], k[1], got, i)
		}
	}
}

// TestNewObjectOwnsItsValues: a new object's values are its own copies,
// packed in one buffer but each closed to the next: the caller's template
// and computed buffers can be wiped or reused, an append to one value never
// writes into another, the shared constants the defaults come from are
// never handed out, and the types come out sorted.
func TestNewObjectOwnsItsValues(t *testing.T) {
	label := []byte("packed")
	value := []byte("0123456789abcdef0123456789abcdef")
	tmpl := Template{a(CKA_CLASS, int(CKO_SECRET_KEY)), a(CKA_KEY_TYPE, int(CKK_AES)), a(CKA_LABEL, label),
		a(CKA_ID, []byte{}), a(CKA_VALUE_LEN, 32)}
	o, err := NewObject(tmpl, Origin{Generated: true, Mechanism: CKM_AES_KEY_GEN,
		Computed: map[uint64][]byte{CKA_VALUE: value}}, false)
	if err != nil {
		t.Fatal(err)
	}
	clear(label)
	clear(value)
	clear(tmpl[0].Value)
	if got := string(o.Attrs.Value(CKA_LABEL)); got != "packed" {
		t.Errorf("label after the caller wiped its copy: %q", got)
	}
	if got := string(o.Attrs.Value(CKA_VALUE)); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("key value after the caller wiped its copy: %q", got)
	}
	if o.Class() != CKO_SECRET_KEY {
		t.Errorf("class after the caller wiped its template: %#x", o.Class())
	}
	if v, ok := o.Attrs.Get(CKA_ID); !ok || len(v) != 0 {
		t.Errorf("an empty CKA_ID from the template: %v (present %v); want present and empty", v, ok)
	}
	if v, ok := o.Attrs.Get(CKA_START_DATE); !ok || len(v) != 0 {
		t.Errorf("a default with no value: %v (present %v); want present and empty", v, ok)
	}
	if _, ok := o.Attrs.Get(CKA_MODULUS); ok {
		t.Error("a secret key has CKA_MODULUS")
	}
	prev := uint64(0)
	for typ, v := range o.Attrs.All() {
		if typ < prev {
			t.Errorf("%s after %s: the types are not sorted", AttrName(typ), AttrName(prev))
		}
		prev = typ
		if cap(v) != len(v) {
			t.Errorf("%s: capacity %d beyond its length %d: an append would reach the next value", AttrName(typ), cap(v), len(v))
		}
	}
	// The defaults' constants stay as they were whatever an object's
	// values go through.
	for _, v := range o.Attrs.All() {
		clear(v)
	}
	if boolTrue[0] != 1 || boolFalse[0] != 0 || !slices.Equal(ulongZero, ULong(0)) || !slices.Equal(ulongUnavailable, ULong(Unavailable)) {
		t.Fatal("clearing an object's values changed the shared default constants")
	}
}

// TestNewObjectAllocations bounds what making an object allocates: its
// set's types, ends and values, and the Object. It was one allocation per
// attribute and default and three for the map, 35 for a session AES key,
// then 6 with the values packed.
func TestNewObjectAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	tmpl := Template{a(CKA_CLASS, int(CKO_SECRET_KEY)), a(CKA_KEY_TYPE, int(CKK_AES)), a(CKA_TOKEN, false),
		a(CKA_SENSITIVE, true), a(CKA_ENCRYPT, true), a(CKA_DECRYPT, true), a(CKA_VALUE_LEN, 32)}
	origin := Origin{Generated: true, Mechanism: CKM_AES_KEY_GEN, Computed: map[uint64][]byte{CKA_VALUE: aes32}}
	n := testing.AllocsPerRun(200, func() {
		if _, err := NewObject(tmpl, origin, false); err != nil {
			t.Fatal(err)
		}
	})
	if n > 4 {
		t.Errorf("NewObject of a session AES key: %.0f allocations, want at most 4", n)
	}
	t.Logf("NewObject of a session AES key: %.0f allocations", n)
}
