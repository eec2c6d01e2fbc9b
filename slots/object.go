package slots

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/craton-hsm/craton/backend"
	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Object is one PKCS#11 object: its attributes, decoded and in clear, in
// process memory. Objects are immutable once published: a change makes a new
// Object (copy on write, sharing no buffers), so readers never need the
// token lock to read one.
//
// Key material is wiped when the token retires an object (destroy, logout,
// a newer version, C_Finalize) — but only once no caller still holds it:
// Token.Object hands out a reference that the caller must Release, and the
// wipe waits for the last one. A reader therefore never sees a zeroed key.
type Object struct {
	Handle uint64
	Attrs  AttrSet
	// Version of the store row (token objects); a cached Object is current
	// while the row's version is unchanged.
	Version int64
	// Owner is the session that created a session object; 0 for token objects.
	Owner uint64
	// Locked: the object's key material is sealed under the token key and
	// was not loaded, because no one is logged in. Its other attributes are
	// here; its key material is not.
	Locked bool
	// Corrupt: the sealed part of the stored record does not open (changed
	// on disk, or sealed under another token key). Only destroying it works.
	Corrupt bool

	refs     atomic.Int32
	retired  atomic.Bool
	wipeOnce sync.Once
	checked  atomic.Uint64           // change counter + 1 at which Version was last confirmed against the store; 0: never
	decoded  atomic.Pointer[objInfo] // info(), made on first use
	// key is the key material's parsed forms (backend.Key), made on first
	// use: one per object version, since a change makes a new Object.
	key atomic.Pointer[backend.Key]
}

// acquire takes a reference; the token calls it under its lock, while the
// object is still reachable.
func (o *Object) acquire() *Object { o.refs.Add(1); return o }

// tryAcquire takes a reference unless the object was retired: the
// lock-free lookup's acquire, which may race with a retire. Either it sees
// the retire and gives its reference back (the wipe then happens once, by
// whoever releases last), or the retire sees its reference and leaves the
// wipe to the last Release: sequentially consistent atomics on both sides.
func (o *Object) tryAcquire() bool {
	o.refs.Add(1)
	if o.retired.Load() {
		o.Release()
		return false
	}
	return true
}

// Release gives back a reference from Token.Object.
func (o *Object) Release() {
	if o.refs.Add(-1) == 0 && o.retired.Load() {
		o.wipeOnce.Do(o.wipe)
	}
}

// retire marks an object the token no longer reaches; its key material is
// wiped now or when the last reference is released. Called under the token
// lock after the object left every map, so no new reference can appear.
func (o *Object) retire() {
	o.retired.Store(true)
	if o.refs.Load() == 0 {
		o.wipeOnce.Do(o.wipe)
	}
}

func (o *Object) ulong(t uint64) uint64 {
	v, err := DecodeULong(o.Attrs.Value(t))
	if err != nil {
		return Unavailable
	}
	return v
}

// Key is the object as the backend's operations take it, parsed once and
// shared by every operation on this version of the object.
func (o *Object) Key() *backend.Key {
	if k := o.key.Load(); k != nil {
		return k
	}
	o.key.CompareAndSwap(nil, backend.NewKey(o.KeyType(), o.material()))
	return o.key.Load()
}

// materialAttrs are the attributes the backend reads of a key: its
// material and parameters, and what names the key in a log line.
var materialAttrs = [...]uint64{CKA_VALUE, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT,
	CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
	CKA_EC_PARAMS, CKA_EC_POINT, CKA_LABEL, CKA_UNIQUE_ID}

// Material is the key as the backend's functions take it (materialAttrs),
// made once per object version with its parsed forms (Key).
func (o *Object) Material() backend.Attrs { return o.Key().Attrs }

// material is the map of materialAttrs the backend takes a key as. Its
// values are the object's own, so wiping the object wipes them too.
func (o *Object) material() backend.Attrs {
	m := make(backend.Attrs, 8)
	for _, t := range materialAttrs {
		if v, ok := o.Attrs.Get(t); ok {
			m[t] = v
		}
	}
	return m
}

// objInfo is what every use of a key asks of its object, decoded once from
// the attributes (which never change under an Object): a handful of map
// lookups per operation otherwise.
type objInfo struct {
	class, keyType uint64
	flags          uint32   // bit i: hotBools[i] is true
	allowed        []uint64 // CKA_ALLOWED_MECHANISMS; nil: any mechanism
}

// hotBools are the CK_BBOOL attributes objInfo keeps.
var hotBools = [...]uint64{CKA_TOKEN, CKA_PRIVATE, CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
	CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, CKA_ALWAYS_AUTHENTICATE, CKA_SENSITIVE, CKA_EXTRACTABLE}

func hotBool(t uint64) int {
	for i, h := range hotBools {
		if h == t {
			return i
		}
	}
	return -1
}

func (o *Object) info() *objInfo {
	if in := o.decoded.Load(); in != nil {
		return in
	}
	in := &objInfo{class: o.ulong(CKA_CLASS), keyType: o.ulong(CKA_KEY_TYPE)}
	for i, t := range hotBools {
		if v := o.Attrs.Value(t); len(v) == 1 && v[0] != 0 {
			in.flags |= 1 << i
		}
	}
	if raw := o.Attrs.Value(CKA_ALLOWED_MECHANISMS); len(raw) > 0 {
		in.allowed = []uint64{}
		for i := 0; i+8 <= len(raw); i += 8 {
			if v, err := DecodeULong(raw[i : i+8]); err == nil {
				in.allowed = append(in.allowed, v)
			}
		}
	}
	o.decoded.CompareAndSwap(nil, in)
	return o.decoded.Load()
}

// Bool reads a CK_BBOOL attribute; absent is false.
func (o *Object) Bool(t uint64) bool {
	if i := hotBool(t); i >= 0 {
		return o.info().flags&(1<<i) != 0
	}
	v := o.Attrs.Value(t)
	return len(v) == 1 && v[0] != 0
}

// MechanismAllowed applies CKA_ALLOWED_MECHANISMS (absent or empty: any).
func (o *Object) MechanismAllowed(mech uint64) bool {
	in := o.info()
	return in.allowed == nil || slices.Contains(in.allowed, mech)
}

func (o *Object) Class() uint64   { return o.info().class }
func (o *Object) KeyType() uint64 { return o.info().keyType }
func (o *Object) IsToken() bool   { return o.Bool(CKA_TOKEN) }
func (o *Object) IsPrivate() bool { return o.Bool(CKA_PRIVATE) }
func (o *Object) UniqueID() string {
	return string(o.Attrs.Value(CKA_UNIQUE_ID))
}

// IsSecret reports whether attribute t of this object is key material.
func (o *Object) IsSecret(t uint64) bool {
	s, ok := specFor(o.Class(), o.KeyType(), t)
	return ok && s.secret
}

// Sensitive reports whether the object's key material may not be revealed:
// CKA_SENSITIVE true or CKA_EXTRACTABLE false (PKCS#11 3.0 §4.10).
func (o *Object) Sensitive() bool {
	c := o.Class()
	if c != CKO_PRIVATE_KEY && c != CKO_SECRET_KEY {
		return false
	}
	return o.Bool(CKA_SENSITIVE) || !o.Bool(CKA_EXTRACTABLE)
}

// wipe zeroes the object's secret values: best effort in Go, the buffers are
// the ones the object owns (no other Object shares them).
func (o *Object) wipe() {
	if k := o.key.Load(); k != nil {
		k.Wipe()
	}
	for _, t := range tableFor(o.Class(), o.KeyType()).secrets {
		clear(o.Attrs.Value(t))
	}
}

// Origin says how a new object came to be, which sets CKA_LOCAL,
// CKA_KEY_GEN_MECHANISM and the ALWAYS/NEVER shadows.
type Origin struct {
	Generated bool   // made on the token by C_GenerateKey(Pair)
	Mechanism uint64 // its mechanism, when Generated
	// Derived: made by C_DeriveKey or C_UnwrapKey. Like a generated key its
	// template may name CKA_VALUE_LEN; like an imported one it was (or came
	// from something that was) outside the token's control, so CKA_LOCAL,
	// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE are false.
	Derived bool
	// Computed are the attributes the token computed (the key value, the
	// public point, …). A template naming one of them with another value is
	// CKR_TEMPLATE_INCONSISTENT.
	Computed map[uint64][]byte
}

// NewObject builds an object from a creation template, enforcing the
// attribute rules. isSO: the caller is logged in as SO (CKA_TRUSTED).
//
// The attributes are gathered in a builder that borrows their values (the
// template's, origin.Computed's, shared constants) and then packed into the
// object's AttrSet, which copies them: the caller may wipe or reuse its
// buffers once the object exists.
func NewObject(tmpl Template, origin Origin, isSO bool) (*Object, error) {
	attrs := getBuilder()
	defer attrs.release()
	for _, a := range tmpl {
		if attrs.has(a.Type) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "%s given twice", AttrName(a.Type))
		}
		attrs.add(a.Type, a.Value)
	}
	classV, ok := attrs.get(CKA_CLASS)
	if !ok {
		return nil, Errorf(CKR_TEMPLATE_INCOMPLETE, "no CKA_CLASS")
	}
	class, err := DecodeULong(classV)
	if err != nil {
		return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_CLASS")
	}
	keyType := Unavailable
	switch class {
	case CKO_DATA:
	case CKO_CERTIFICATE:
		if v, ok := attrs.get(CKA_CERTIFICATE_TYPE); ok {
			if ct, err := DecodeULong(v); err != nil || ct != CKC_X_509 {
				return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "only X.509 certificates are supported")
			}
		}
	case CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY:
		v, ok := attrs.get(CKA_KEY_TYPE)
		if !ok {
			return nil, Errorf(CKR_TEMPLATE_INCOMPLETE, "no CKA_KEY_TYPE")
		}
		if keyType, err = DecodeULong(v); err != nil {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_KEY_TYPE")
		}
		if !keyTypeFits(class, keyType) {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%s is not a supported %s", KeyTypeName(keyType), ClassName(class))
		}
	default:
		return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "unsupported class %s", ClassName(class))
	}
	for _, e := range attrs.ents {
		t, v := e.t, e.v
		s, ok := specFor(class, keyType, t)
		if !ok {
			return nil, Errorf(CKR_ATTRIBUTE_TYPE_INVALID, "%s on a %s", AttrName(t), ClassName(class))
		}
		if s.readOnly {
			return nil, Errorf(CKR_ATTRIBUTE_READ_ONLY, "%s is set by the token", AttrName(t))
		}
		if err := checkValue(s, v); err != nil {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%s", AttrName(t))
		}
		if s.soOnly && len(v) == 1 && v[0] != 0 && !isSO {
			return nil, Errorf(CKR_ATTRIBUTE_READ_ONLY, "%s can be set only by the SO", AttrName(t))
		}
		if t == CKA_VALUE_LEN && class == CKO_SECRET_KEY && !origin.Generated && !origin.Derived {
			// Footnote 2 of the secret key table: never in C_CreateObject.
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN is computed by the token")
		}
	}
	for t, v := range origin.Computed {
		if given, ok := attrs.get(t); ok && string(given) != string(v) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "%s is computed by the token", AttrName(t))
		}
	}
	if want, ok := attrs.get(CKA_VALUE_LEN); ok && class == CKO_SECRET_KEY {
		if n, err := DecodeULong(want); err != nil || n != uint64(len(origin.Computed[CKA_VALUE])) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN disagrees with the key made")
		}
	}
	for t, v := range origin.Computed {
		attrs.set(t, v)
	}
	for _, t := range requiredFor(class, keyType) {
		if !attrs.has(t) {
			return nil, Errorf(CKR_TEMPLATE_INCOMPLETE, "no %s", AttrName(t))
		}
	}
	setDefaults(attrs, class, keyType, origin)
	if class == CKO_SECRET_KEY {
		val, _ := attrs.get(CKA_VALUE)
		lens := secretKeyTypes[keyType]
		if len(val) == 0 || (lens != nil && !containsInt(lens, len(val))) {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%d-byte CKA_VALUE for %s", len(val), KeyTypeName(keyType))
		}
		attrs.set(CKA_VALUE_LEN, putULong(&attrs.ulongs[1], uint64(len(val))))
	}
	if class == CKO_PUBLIC_KEY && keyType == CKK_RSA {
		mod, _ := attrs.get(CKA_MODULUS)
		attrs.set(CKA_MODULUS_BITS, putULong(&attrs.ulongs[2], uint64(bitLen(mod))))
	}
	newUniqueID(&attrs.id)
	attrs.set(CKA_UNIQUE_ID, attrs.id[:])
	return &Object{Attrs: attrs.build()}, nil
}

// maxBuildAttrs is room for every attribute of the largest class and key
// type (an RSA private key has 36), so a pooled builder never grows; a
// template with more is refused, after growing it.
const maxBuildAttrs = 48

// uniqueIDLen is the length of CKA_UNIQUE_ID: 16 random bytes in hex.
const uniqueIDLen = 32

// newUniqueID writes a fresh CKA_UNIQUE_ID into id.
func newUniqueID(id *[uniqueIDLen]byte) {
	var raw [uniqueIDLen / 2]byte
	backend.RandomFill(raw[:])
	hex.Encode(id[:], raw[:])
}

// putULong encodes v into b as a CK_ULONG attribute value (ck.ULong's
// encoding) and returns it.
func putULong(b *[8]byte, v uint64) []byte {
	binary.NativeEndian.PutUint64(b[:], v)
	return b[:]
}

func keyTypeFits(class, keyType uint64) bool {
	switch class {
	case CKO_SECRET_KEY:
		_, ok := secretKeyTypes[keyType]
		return ok
	default:
		return keyType == CKK_RSA || keyType == CKK_EC || keyType == CKK_EC_EDWARDS
	}
}

// Constant values for setDefaults, borrowed by the builder and copied into
// each object's set. Never written.
var (
	boolTrue, boolFalse = []byte{1}, []byte{0}
	ulongZero           = ULong(0)
	ulongUnavailable    = ULong(Unavailable)
)

func constBool(v bool) []byte {
	if v {
		return boolTrue
	}
	return boolFalse
}

// setDefaults adds the attributes the template left out. The values it
// gives are borrowed: constants, and CKA_KEY_GEN_MECHANISM written into
// attrs.ulongs[0].
func setDefaults(attrs *attrBuilder, class, keyType uint64, origin Origin) {
	def := attrs.setDefault
	isKey := class == CKO_PUBLIC_KEY || class == CKO_PRIVATE_KEY || class == CKO_SECRET_KEY
	secretBearing := class == CKO_PRIVATE_KEY || class == CKO_SECRET_KEY
	def(CKA_TOKEN, constBool(false))
	// Keys with secret material are private unless the template says
	// otherwise; everything else is public by default.
	def(CKA_PRIVATE, constBool(secretBearing))
	def(CKA_MODIFIABLE, constBool(true))
	def(CKA_COPYABLE, constBool(true))
	def(CKA_DESTROYABLE, constBool(true))
	def(CKA_LABEL, nil)
	switch class {
	case CKO_DATA:
		def(CKA_APPLICATION, nil)
		def(CKA_OBJECT_ID, nil)
		def(CKA_VALUE, nil)
	case CKO_CERTIFICATE:
		def(CKA_TRUSTED, constBool(false))
		def(CKA_CERTIFICATE_CATEGORY, ulongZero)
		def(CKA_START_DATE, nil)
		def(CKA_END_DATE, nil)
		def(CKA_SUBJECT, nil)
		def(CKA_ID, nil)
		def(CKA_ISSUER, nil)
		def(CKA_SERIAL_NUMBER, nil)
	}
	if !isKey {
		return
	}
	def(CKA_ID, nil)
	def(CKA_START_DATE, nil)
	def(CKA_END_DATE, nil)
	def(CKA_DERIVE, constBool(false))
	attrs.set(CKA_LOCAL, constBool(origin.Generated))
	if origin.Generated {
		attrs.set(CKA_KEY_GEN_MECHANISM, putULong(&attrs.ulongs[0], origin.Mechanism))
	} else {
		attrs.set(CKA_KEY_GEN_MECHANISM, ulongUnavailable)
	}
	def(CKA_ALLOWED_MECHANISMS, nil)
	switch class {
	case CKO_PUBLIC_KEY:
		def(CKA_SUBJECT, nil)
		def(CKA_ENCRYPT, constBool(true))
		def(CKA_VERIFY, constBool(true))
		def(CKA_VERIFY_RECOVER, constBool(keyType == CKK_RSA))
		def(CKA_WRAP, constBool(true))
		def(CKA_TRUSTED, constBool(false))
	case CKO_PRIVATE_KEY:
		def(CKA_SUBJECT, nil)
		def(CKA_DECRYPT, constBool(true))
		def(CKA_SIGN, constBool(true))
		def(CKA_SIGN_RECOVER, constBool(keyType == CKK_RSA))
		def(CKA_UNWRAP, constBool(true))
		def(CKA_WRAP_WITH_TRUSTED, constBool(false))
		def(CKA_ALWAYS_AUTHENTICATE, constBool(false))
	case CKO_SECRET_KEY:
		def(CKA_ENCRYPT, constBool(true))
		def(CKA_DECRYPT, constBool(true))
		def(CKA_SIGN, constBool(true))
		def(CKA_VERIFY, constBool(true))
		def(CKA_WRAP, constBool(true))
		def(CKA_UNWRAP, constBool(true))
		def(CKA_WRAP_WITH_TRUSTED, constBool(false))
		def(CKA_TRUSTED, constBool(false))
	}
	if secretBearing {
		// Safe defaults: key material is sensitive and not extractable
		// unless the template asks otherwise.
		def(CKA_SENSITIVE, constBool(true))
		def(CKA_EXTRACTABLE, constBool(false))
		sens, _ := attrs.get(CKA_SENSITIVE)
		extr, _ := attrs.get(CKA_EXTRACTABLE)
		sensitive, extractable := sens[0] != 0, extr[0] != 0
		// Imported keys were outside the token once: both shadows false.
		attrs.set(CKA_ALWAYS_SENSITIVE, constBool(origin.Generated && sensitive))
		attrs.set(CKA_NEVER_EXTRACTABLE, constBool(origin.Generated && !extractable))
	}
}

// ChangeMode says which call is changing attributes.
type ChangeMode int

const (
	BySetAttribute ChangeMode = iota // C_SetAttributeValue
	ByCopy                           // C_CopyObject's template
)

// Changed returns a copy of o with tmpl applied, or the CK_RV that forbids
// it. CKA_MODIFIABLE is the caller's to check (it is CKR_ACTION_PROHIBITED).
func (o *Object) Changed(tmpl Template, mode ChangeMode, isSO bool) (*Object, error) {
	class, keyType := o.Class(), o.KeyType()
	// The builder borrows o's values and the template's; build copies
	// them, so the new object shares no buffer with o.
	attrs := builderOf(o.Attrs, len(tmpl)+1)
	for _, a := range tmpl {
		s, ok := specFor(class, keyType, a.Type)
		if !ok {
			return nil, Errorf(CKR_ATTRIBUTE_TYPE_INVALID, "%s on a %s", AttrName(a.Type), ClassName(class))
		}
		if err := checkValue(s, a.Value); err != nil {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%s", AttrName(a.Type))
		}
		old, _ := attrs.get(a.Type)
		newTrue := len(a.Value) == 1 && a.Value[0] != 0
		oldTrue := len(old) == 1 && old[0] != 0
		allowed := false
		switch s.change {
		case free:
			allowed = true
		case onlyToTrue:
			allowed = newTrue || !oldTrue
		case onlyToFalse:
			allowed = !newTrue || oldTrue
		case copyOnly:
			allowed = mode == ByCopy
		case copyToFalse:
			allowed = mode == ByCopy && (!newTrue || oldTrue)
		}
		if s.readOnly || !allowed {
			// Setting an attribute to the value it already has is no change.
			if string(old) == string(a.Value) && !s.readOnly && s.change != fixed {
				continue
			}
			return nil, Errorf(CKR_ATTRIBUTE_READ_ONLY, "%s cannot change", AttrName(a.Type))
		}
		if s.soOnly && newTrue && !isSO {
			return nil, Errorf(CKR_ATTRIBUTE_READ_ONLY, "%s can be set only by the SO", AttrName(a.Type))
		}
		attrs.set(a.Type, a.Value)
	}
	var idHex [uniqueIDLen]byte
	if mode == ByCopy {
		newUniqueID(&idHex)
		attrs.set(CKA_UNIQUE_ID, idHex[:])
	}
	return &Object{Attrs: attrs.build(), Handle: o.Handle, Version: o.Version, Owner: o.Owner}, nil
}

// Matches reports whether every attribute of tmpl is present with an equal
// value. A secret value the object may not reveal never matches.
func (o *Object) Matches(tmpl Template) bool {
	for _, a := range tmpl {
		v, ok := o.Attrs.Get(a.Type)
		if !ok || string(v) != string(a.Value) {
			return false
		}
		if o.IsSecret(a.Type) && o.Sensitive() {
			return false
		}
	}
	return true
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func bitLen(b []byte) int {
	for i, c := range b {
		if c != 0 {
			n := 0
			for c != 0 {
				n++
				c >>= 1
			}
			return (len(b)-i-1)*8 + n
		}
	}
	return 0
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
