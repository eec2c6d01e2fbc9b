package pkcs11

import (
	"errors"
	"fmt"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/session"
	"github.com/craton-hsm/craton/slots"
)

// keyGenKinds maps key generation mechanisms to the class and type of what
// they make.
var keyGenKinds = map[uint64][2]uint64{
	ck.CKM_AES_KEY_GEN:             {ck.CKO_SECRET_KEY, ck.CKK_AES},
	ck.CKM_GENERIC_SECRET_KEY_GEN:  {ck.CKO_SECRET_KEY, ck.CKK_GENERIC_SECRET},
	ck.CKM_HKDF_KEY_GEN:            {ck.CKO_SECRET_KEY, ck.CKK_HKDF},
	ck.CKM_RSA_PKCS_KEY_PAIR_GEN:   {ck.CKO_PRIVATE_KEY, ck.CKK_RSA},
	ck.CKM_EC_KEY_PAIR_GEN:         {ck.CKO_PRIVATE_KEY, ck.CKK_EC},
	ck.CKM_EC_EDWARDS_KEY_PAIR_GEN: {ck.CKO_PRIVATE_KEY, ck.CKK_EC_EDWARDS},
}

// withKind checks a template's CKA_CLASS and CKA_KEY_TYPE against what the
// mechanism makes, adding them when absent.
func withKind(tmpl ck.Template, class, keyType uint64) (ck.Template, error) {
	out := append(ck.Template{}, tmpl...)
	for _, want := range []ck.Attribute{{Type: ck.CKA_CLASS, Value: ck.ULong(class)}, {Type: ck.CKA_KEY_TYPE, Value: ck.ULong(keyType)}} {
		if v, ok := tmpl.Find(want.Type); ok {
			if string(v) != string(want.Value) {
				return nil, ck.Errorf(ck.CKR_TEMPLATE_INCONSISTENT, "%s disagrees with the mechanism", ck.AttrName(want.Type))
			}
			continue
		}
		out = append(out, want)
	}
	return out, nil
}

// addObject stores o for session s. A session object outlives its session
// only if the session was closed meanwhile by another thread: C_CloseSession
// removes the session from the table, then drops its objects, so an object
// added after that drop is found here, by the session's absence from the
// table, and destroyed again (CKR_SESSION_HANDLE_INVALID).
func (st *state) addObject(t *slots.Token, s *session.Session, o *slots.Object) (uint64, error) {
	h, err := t.AddObject(o, s.Handle)
	if err != nil || o.IsToken() {
		return h, err
	}
	if cur, err := st.sessions.Get(s.Handle); err != nil || cur != s {
		_ = t.DestroyObject(h) // or the closing thread's drop did
		return 0, ck.CKR_SESSION_HANDLE_INVALID
	}
	return h, nil
}

// newKey builds and stores a key the token made, under the session's rules.
func (st *state) newKey(s *session.Session, t *slots.Token, tmpl ck.Template, origin slots.Origin) (uint64, error) {
	login := t.LoginState()
	o, err := slots.NewObject(tmpl, origin, login == ck.CKU_SO)
	if err == nil {
		err = backend.CheckKeyAttrs(o.Class(), o.KeyType(), o.Attrs.Get)
	}
	if err != nil {
		return 0, err
	}
	if err := mayStore(s, login, o); err != nil {
		return 0, err
	}
	return st.addObject(t, s, o)
}

// GenerateKey is C_GenerateKey.
func (m *Module) GenerateKey(sh uint64, mech ck.Mechanism, tmpl ck.Template) (uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	kind, ok := keyGenKinds[mech.Type]
	if !ok || kind[0] != ck.CKO_SECRET_KEY {
		return 0, ck.CKR_MECHANISM_INVALID
	}
	if len(mech.Param) != 0 {
		return 0, ck.CKR_MECHANISM_PARAM_INVALID
	}
	full, err := withKind(tmpl, kind[0], kind[1])
	if err != nil {
		return 0, err
	}
	lenV, ok := tmpl.Find(ck.CKA_VALUE_LEN)
	if !ok {
		return 0, ck.Errorf(ck.CKR_TEMPLATE_INCOMPLETE, "no CKA_VALUE_LEN")
	}
	n, err := ck.DecodeULong(lenV)
	if err != nil {
		return 0, ck.Errorf(ck.CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN")
	}
	value, err := st.backend.GenerateKey(mech.Type, n)
	if err != nil {
		return 0, st.logged("C_GenerateKey", err)
	}
	h, err := st.newKey(s, t, full, slots.Origin{Generated: true, Mechanism: mech.Type, Computed: map[uint64][]byte{ck.CKA_VALUE: value}})
	clear(value)
	return h, st.logged("C_GenerateKey", err)
}

// GenerateKeyPair is C_GenerateKeyPair.
func (m *Module) GenerateKeyPair(sh uint64, mech ck.Mechanism, pubT, privT ck.Template) (uint64, uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	kind, ok := keyGenKinds[mech.Type]
	if !ok || kind[0] != ck.CKO_PRIVATE_KEY {
		return 0, 0, ck.CKR_MECHANISM_INVALID
	}
	if len(mech.Param) != 0 {
		return 0, 0, ck.CKR_MECHANISM_PARAM_INVALID
	}
	pubFull, err := withKind(pubT, ck.CKO_PUBLIC_KEY, kind[1])
	if err != nil {
		return 0, 0, err
	}
	privFull, err := withKind(privT, ck.CKO_PRIVATE_KEY, kind[1])
	if err != nil {
		return 0, 0, err
	}
	params := map[uint64][]byte{}
	for _, a := range pubT {
		params[a.Type] = a.Value
	}
	kp, err := st.backend.GenerateKeyPair(mech.Type, params)
	if err != nil {
		return 0, 0, st.logged("C_GenerateKeyPair", err)
	}
	defer func() {
		for _, v := range kp.Private {
			clear(v)
		}
	}()
	origin := func(c map[uint64][]byte) slots.Origin {
		return slots.Origin{Generated: true, Mechanism: mech.Type, Computed: c}
	}
	// Build both before storing either, so a bad private template stores
	// nothing.
	login := t.LoginState()
	pub, err := slots.NewObject(pubFull, origin(kp.Public), login == ck.CKU_SO)
	if err != nil {
		return 0, 0, st.logged("C_GenerateKeyPair", err)
	}
	priv, err := slots.NewObject(privFull, origin(kp.Private), login == ck.CKU_SO)
	if err != nil {
		return 0, 0, st.logged("C_GenerateKeyPair", err)
	}
	for _, o := range []*slots.Object{pub, priv} {
		if err := mayStore(s, login, o); err != nil {
			return 0, 0, err
		}
	}
	ph, err := st.addObject(t, s, pub)
	if err != nil {
		return 0, 0, st.logged("C_GenerateKeyPair", err)
	}
	vh, err := st.addObject(t, s, priv)
	if err != nil {
		_ = t.DestroyObject(ph)
		return 0, 0, st.logged("C_GenerateKeyPair", err)
	}
	return ph, vh, nil
}

// WrapKey is C_WrapKey: a secret key's value, or a private key as PKCS#8,
// encrypted under the wrapping key.
func (m *Module) WrapKey(sh uint64, mech ck.Mechanism, wrapping, key uint64, outCap int64) ([]byte, uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	w, err := keyFor(t, wrapping, useWrap, mech.Type)
	if err != nil {
		return nil, 0, st.logged("C_WrapKey", asWrappingKeyErr(err, ck.CKR_WRAPPING_KEY_HANDLE_INVALID, ck.CKR_WRAPPING_KEY_TYPE_INCONSISTENT))
	}
	defer w.Release()
	k, err := t.Object(key)
	if err != nil {
		if errors.Is(err, ck.CKR_OBJECT_HANDLE_INVALID) {
			err = ck.CKR_KEY_HANDLE_INVALID
		}
		return nil, 0, err
	}
	defer k.Release()
	var material []byte
	switch {
	case k.Class() != ck.CKO_SECRET_KEY && k.Class() != ck.CKO_PRIVATE_KEY:
		return nil, 0, ck.Errorf(ck.CKR_KEY_NOT_WRAPPABLE, "only secret and private keys are wrapped")
	case !k.Bool(ck.CKA_EXTRACTABLE):
		return nil, 0, ck.Errorf(ck.CKR_KEY_UNEXTRACTABLE, "CKA_EXTRACTABLE is false")
	case k.Bool(ck.CKA_WRAP_WITH_TRUSTED) && !w.Bool(ck.CKA_TRUSTED):
		return nil, 0, ck.Errorf(ck.CKR_KEY_NOT_WRAPPABLE, "CKA_WRAP_WITH_TRUSTED needs a CKA_TRUSTED wrapping key")
	case k.Locked || k.Corrupt:
		return nil, 0, ck.Errorf(ck.CKR_USER_NOT_LOGGED_IN, "the key's material is sealed until a login")
	case k.Class() == ck.CKO_SECRET_KEY:
		material = k.Attrs.Value(ck.CKA_VALUE)
	default:
		if material, err = backend.MarshalPrivateKey(k.KeyType(), k.Material()); err != nil {
			return nil, 0, st.logged("C_WrapKey", err)
		}
		defer clear(material)
	}
	c, err := st.backend.KeyCipher(mech, w.Key(), backend.ForWrap, st.budgetFor(mech, w))
	if err != nil {
		return nil, 0, st.logged("C_WrapKey", asWrappingKeyErr(err, ck.CKR_WRAPPING_KEY_HANDLE_INVALID, ck.CKR_WRAPPING_KEY_TYPE_INCONSISTENT))
	}
	if r, ok := c.(backend.Releaser); ok {
		// A pooled operation goes back when the wrap is done: nothing
		// returned points into it (a generated IV lies in the output).
		defer r.Release()
	}
	need := c.OneShotLen(len(material))
	if query, err := outLen(outCap, need); query || err != nil {
		return nil, uint64(need), err
	}
	out, err := c.OneShot(nil, material)
	if err != nil {
		if errors.Is(err, ck.CKR_DATA_LEN_RANGE) {
			err = ck.Errorf(ck.CKR_KEY_SIZE_RANGE, "this key does not fit the wrapping mechanism")
		}
		return nil, 0, st.logged("C_WrapKey", err)
	}
	if src, ok := c.(backend.IVSource); ok {
		s.Lock()
		s.GeneratedIV = src.GeneratedIV()
		s.Unlock()
	}
	return out, uint64(len(out)), nil
}

// UnwrapKey is C_UnwrapKey.
func (m *Module) UnwrapKey(sh uint64, mech ck.Mechanism, unwrapping uint64, wrapped []byte, tmpl ck.Template) (uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	u, err := keyFor(t, unwrapping, useUnwrap, mech.Type)
	if err != nil {
		return 0, st.logged("C_UnwrapKey", asWrappingKeyErr(err, ck.CKR_UNWRAPPING_KEY_HANDLE_INVALID, ck.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT))
	}
	defer u.Release()
	classV, ok1 := tmpl.Find(ck.CKA_CLASS)
	typeV, ok2 := tmpl.Find(ck.CKA_KEY_TYPE)
	if !ok1 || !ok2 {
		return 0, ck.Errorf(ck.CKR_TEMPLATE_INCOMPLETE, "C_UnwrapKey needs CKA_CLASS and CKA_KEY_TYPE")
	}
	class, err1 := ck.DecodeULong(classV)
	keyType, err2 := ck.DecodeULong(typeV)
	if err1 != nil || err2 != nil {
		return 0, ck.CKR_ATTRIBUTE_VALUE_INVALID
	}
	c, err := st.backend.KeyCipher(mech, u.Key(), backend.ForUnwrap, nil)
	if err != nil {
		return 0, st.logged("C_UnwrapKey", asWrappingKeyErr(err, ck.CKR_UNWRAPPING_KEY_HANDLE_INVALID, ck.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT))
	}
	plain, err := c.OneShot(nil, wrapped)
	if err != nil {
		return 0, st.logged("C_UnwrapKey", ck.Errorf(ck.CKR_WRAPPED_KEY_INVALID, "%v", err))
	}
	defer clear(plain)
	var computed map[uint64][]byte
	switch class {
	case ck.CKO_SECRET_KEY:
		computed = map[uint64][]byte{ck.CKA_VALUE: plain}
	case ck.CKO_PRIVATE_KEY:
		if computed, err = backend.ParsePrivateKey(plain, keyType); err != nil {
			return 0, st.logged("C_UnwrapKey", err)
		}
	default:
		return 0, ck.Errorf(ck.CKR_TEMPLATE_INCONSISTENT, "only secret and private keys are unwrapped")
	}
	h, err := st.newKey(s, t, tmpl, slots.Origin{Derived: true, Computed: computed})
	return h, st.logged("C_UnwrapKey", err)
}

// DeriveKey is C_DeriveKey: ECDH1 and HKDF (CKM_HKDF_DATA makes a data
// object).
func (m *Module) DeriveKey(sh uint64, mech ck.Mechanism, base uint64, tmpl ck.Template) (uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	b, err := keyFor(t, base, useDerive, mech.Type)
	if err != nil {
		return 0, st.logged("C_DeriveKey", err)
	}
	defer b.Release()
	in := backend.DeriveInput{Mech: mech, BaseType: b.KeyType(), Base: b.Material()}
	full := append(ck.Template{}, tmpl...)
	if mech.Type == ck.CKM_HKDF_DATA {
		if full, err = withClass(tmpl, ck.CKO_DATA); err != nil {
			return 0, err
		}
	} else if full, err = withClass(tmpl, ck.CKO_SECRET_KEY); err != nil {
		return 0, err
	}
	if v, ok := tmpl.Find(ck.CKA_VALUE_LEN); ok {
		n, err := ck.DecodeULong(v)
		if err != nil || n == 0 || n > 1<<16 {
			return 0, ck.Errorf(ck.CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN")
		}
		in.Len = int(n)
		if mech.Type == ck.CKM_HKDF_DATA {
			// A data object has no CKA_VALUE_LEN: it only sizes the output.
			full = without(full, ck.CKA_VALUE_LEN)
		}
	}
	if mech.Type == ck.CKM_HKDF_DERIVE || mech.Type == ck.CKM_HKDF_DATA {
		if p, err := ck.DecodeHKDF(mech); err == nil && p.Extract && p.SaltType == ck.CKF_HKDF_SALT_KEY {
			sk, err := keyFor(t, p.SaltKey, useDerive, mech.Type)
			if err != nil {
				return 0, st.logged("C_DeriveKey", ck.Errorf(ck.CKR_MECHANISM_PARAM_INVALID, "HKDF salt key: %v", err))
			}
			defer sk.Release()
			in.SaltKey = sk.Attrs.Value(ck.CKA_VALUE)
		}
	}
	value, err := st.backend.Derive(in)
	if err != nil {
		return 0, st.logged("C_DeriveKey", err)
	}
	defer clear(value)
	h, err := st.newKey(s, t, full, slots.Origin{Derived: true, Computed: map[uint64][]byte{ck.CKA_VALUE: value}})
	return h, st.logged("C_DeriveKey", err)
}

func withClass(tmpl ck.Template, class uint64) (ck.Template, error) {
	if v, ok := tmpl.Find(ck.CKA_CLASS); ok {
		if c, err := ck.DecodeULong(v); err != nil || c != class {
			return nil, ck.Errorf(ck.CKR_TEMPLATE_INCONSISTENT, "CKA_CLASS disagrees with the mechanism")
		}
		return append(ck.Template{}, tmpl...), nil
	}
	return append(append(ck.Template{}, tmpl...), ck.Attribute{Type: ck.CKA_CLASS, Value: ck.ULong(class)}), nil
}

func without(tmpl ck.Template, typ uint64) ck.Template {
	out := tmpl[:0:0]
	for _, a := range tmpl {
		if a.Type != typ {
			out = append(out, a)
		}
	}
	return out
}

// asWrappingKeyErr restates a problem with the (un)wrapping key in the codes
// C_WrapKey and C_UnwrapKey have for it: a missing key is handleRV, a key of
// the wrong type typeRV. A key without CKA_WRAP/CKA_UNWRAP stays
// CKR_KEY_FUNCTION_NOT_PERMITTED, the code issue 3 names for every usage flag.
func asWrappingKeyErr(err error, handleRV, typeRV ck.RV) error {
	switch {
	case errors.Is(err, ck.CKR_KEY_HANDLE_INVALID):
		return handleRV
	case errors.Is(err, ck.CKR_KEY_TYPE_INCONSISTENT):
		return fmt.Errorf("%w: %w", typeRV, err)
	}
	return err
}
