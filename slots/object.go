package slots

import (
	"bytes"
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
	Attrs  map[uint64][]byte
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
	v, err := DecodeULong(o.Attrs[t])
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
	o.key.CompareAndSwap(nil, backend.NewKey(o.KeyType(), o.Attrs))
	return o.key.Load()
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
		if v := o.Attrs[t]; len(v) == 1 && v[0] != 0 {
			in.flags |= 1 << i
		}
	}
	if raw := o.Attrs[CKA_ALLOWED_MECHANISMS]; len(raw) > 0 {
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
	v := o.Attrs[t]
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
	return string(o.Attrs[CKA_UNIQUE_ID])
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
		clear(o.Attrs[t])
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
// Every value the object holds is copied into one buffer it owns (a few
// when the first runs out), so an object is about three allocations (its
// map and its values), not one per attribute.
func NewObject(tmpl Template, origin Origin, isSO bool) (*Object, error) {
	attrs := make(map[uint64][]byte, mapSize(tmpl))
	size := uniqueIDLen + defaultsBudget
	for _, a := range tmpl {
		size += len(a.Value)
	}
	for _, v := range origin.Computed {
		size += len(v)
	}
	vals := valueArena{buf: make([]byte, 0, size)}
	for _, a := range tmpl {
		if _, dup := attrs[a.Type]; dup {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "%s given twice", AttrName(a.Type))
		}
		attrs[a.Type] = vals.put(a.Value)
	}
	classV, ok := attrs[CKA_CLASS]
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
		if v, ok := attrs[CKA_CERTIFICATE_TYPE]; ok {
			if ct, err := DecodeULong(v); err != nil || ct != CKC_X_509 {
				return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "only X.509 certificates are supported")
			}
		}
	case CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY:
		v, ok := attrs[CKA_KEY_TYPE]
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
	for t, v := range attrs {
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
		if given, ok := attrs[t]; ok && string(given) != string(v) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "%s is computed by the token", AttrName(t))
		}
	}
	if want, ok := attrs[CKA_VALUE_LEN]; ok && class == CKO_SECRET_KEY {
		if n, err := DecodeULong(want); err != nil || n != uint64(len(origin.Computed[CKA_VALUE])) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN disagrees with the key made")
		}
	}
	for t, v := range origin.Computed {
		attrs[t] = vals.put(v) // a copy: the caller wipes its buffers once the object exists
	}
	for _, t := range requiredFor(class, keyType) {
		if _, ok := attrs[t]; !ok {
			return nil, Errorf(CKR_TEMPLATE_INCOMPLETE, "no %s", AttrName(t))
		}
	}
	setDefaults(attrs, &vals, class, keyType, origin)
	if class == CKO_SECRET_KEY {
		val := attrs[CKA_VALUE]
		lens := secretKeyTypes[keyType]
		if len(val) == 0 || (lens != nil && !containsInt(lens, len(val))) {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%d-byte CKA_VALUE for %s", len(val), KeyTypeName(keyType))
		}
		attrs[CKA_VALUE_LEN] = vals.ulong(uint64(len(val)))
	}
	if class == CKO_PUBLIC_KEY && keyType == CKK_RSA {
		attrs[CKA_MODULUS_BITS] = vals.ulong(uint64(bitLen(attrs[CKA_MODULUS])))
	}
	var id [uniqueIDLen / 2]byte
	var idHex [uniqueIDLen]byte
	backend.RandomFill(id[:])
	hex.Encode(idHex[:], id[:])
	attrs[CKA_UNIQUE_ID] = vals.put(idHex[:])
	return &Object{Attrs: attrs}, nil
}

// uniqueIDLen is the length of CKA_UNIQUE_ID: 16 random bytes in hex.
const uniqueIDLen = 32

// defaultsBudget is the room NewObject leaves in its first value buffer
// for the defaults: CK_BBOOLs and a few CK_ULONGs.
const defaultsBudget = 64

// valueArena hands out copies of attribute values from one buffer, each
// copy's capacity cut to its length so that no append can reach its
// neighbour. When the buffer is full it starts another; the values already
// given out stay where they are.
type valueArena struct{ buf []byte }

// put copies v into the arena. nil stays nil (a default with no value);
// an empty value becomes empty and non-nil, as a copy made it before.
func (a *valueArena) put(v []byte) []byte {
	if v == nil {
		return nil
	}
	if cap(a.buf)-len(a.buf) < len(v) || a.buf == nil {
		a.buf = make([]byte, 0, max(len(v), defaultsBudget))
	}
	off := len(a.buf)
	a.buf = append(a.buf, v...)
	return a.buf[off:len(a.buf):len(a.buf)]
}

// ulong puts v encoded as a CK_ULONG attribute value (ck.ULong's encoding).
func (a *valueArena) ulong(v uint64) []byte {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	return a.put(b[:])
}

// mapSize is the size to make a new object's attribute map with: as many
// attributes as its class and key type can have (the template's, if it has
// more: it is refused then), so that the defaults never make the map grow.
func mapSize(tmpl Template) int {
	class, keyType := anyOther, anyOther
	for _, a := range tmpl {
		switch a.Type {
		case CKA_CLASS:
			class, _ = DecodeULong(a.Value)
		case CKA_KEY_TYPE:
			keyType, _ = DecodeULong(a.Value)
		}
	}
	return max(len(tmpl), tableFor(class, keyType).size)
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

// Constant values for setDefaults, copied into the object's values. Never
// written.
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

// setDefaults adds the attributes the template left out, their values
// copied into vals.
func setDefaults(attrs map[uint64][]byte, vals *valueArena, class, keyType uint64, origin Origin) {
	def := func(t uint64, v []byte) {
		if _, ok := attrs[t]; !ok {
			attrs[t] = vals.put(v)
		}
	}
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
	attrs[CKA_LOCAL] = vals.put(constBool(origin.Generated))
	if origin.Generated {
		attrs[CKA_KEY_GEN_MECHANISM] = vals.ulong(origin.Mechanism)
	} else {
		attrs[CKA_KEY_GEN_MECHANISM] = vals.put(ulongUnavailable)
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
		sensitive := attrs[CKA_SENSITIVE][0] != 0
		extractable := attrs[CKA_EXTRACTABLE][0] != 0
		// Imported keys were outside the token once: both shadows false.
		attrs[CKA_ALWAYS_SENSITIVE] = vals.put(constBool(origin.Generated && sensitive))
		attrs[CKA_NEVER_EXTRACTABLE] = vals.put(constBool(origin.Generated && !extractable))
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
	attrs := make(map[uint64][]byte, len(o.Attrs))
	for t, v := range o.Attrs {
		attrs[t] = bytes.Clone(v)
	}
	for _, a := range tmpl {
		s, ok := specFor(class, keyType, a.Type)
		if !ok {
			return nil, Errorf(CKR_ATTRIBUTE_TYPE_INVALID, "%s on a %s", AttrName(a.Type), ClassName(class))
		}
		if err := checkValue(s, a.Value); err != nil {
			return nil, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%s", AttrName(a.Type))
		}
		old := attrs[a.Type]
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
		attrs[a.Type] = append([]byte{}, a.Value...)
	}
	if mode == ByCopy {
		attrs[CKA_UNIQUE_ID] = []byte(hex.EncodeToString(backend.Random(16)))
	}
	return &Object{Attrs: attrs, Handle: o.Handle, Version: o.Version, Owner: o.Owner}, nil
}

// Matches reports whether every attribute of tmpl is present with an equal
// value. A secret value the object may not reveal never matches.
func (o *Object) Matches(tmpl Template) bool {
	for _, a := range tmpl {
		v, ok := o.Attrs[a.Type]
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
