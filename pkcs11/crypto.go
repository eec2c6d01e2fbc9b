package pkcs11

import (
	"errors"
	"hash"
	"slices"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/session"
	"github.com/craton-hsm/craton/slots"
)

// The operation rules every cryptographic function follows (PKCS#11 3.0
// §5.2): an Init while the same kind is active is CKR_OPERATION_ACTIVE; a
// call without Init is CKR_OPERATION_NOT_INITIALIZED; a single-part call
// after an Update is CKR_OPERATION_ACTIVE (the operation stays); a length
// query or CKR_BUFFER_TOO_SMALL consumes nothing and leaves the operation
// active; any other error, and success of a single-part or Final call, ends
// it.

// keyUse is what an operation asks of its key.
type keyUse struct {
	attr    uint64   // usage flag: CKA_ENCRYPT, CKA_SIGN, …
	classes []uint64 // key classes that can serve
}

var (
	useEncrypt = keyUse{ck.CKA_ENCRYPT, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PUBLIC_KEY}}
	useDecrypt = keyUse{ck.CKA_DECRYPT, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PRIVATE_KEY}}
	useSign    = keyUse{ck.CKA_SIGN, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PRIVATE_KEY}}
	useVerify  = keyUse{ck.CKA_VERIFY, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PUBLIC_KEY}}
	useWrap    = keyUse{ck.CKA_WRAP, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PUBLIC_KEY}}
	useUnwrap  = keyUse{ck.CKA_UNWRAP, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PRIVATE_KEY}}
	useDerive  = keyUse{ck.CKA_DERIVE, []uint64{ck.CKO_SECRET_KEY, ck.CKO_PRIVATE_KEY}}
)

// key fetches the key object h for a use: CKR_KEY_HANDLE_INVALID when it
// does not exist or is not a key, CKR_KEY_TYPE_INCONSISTENT when its class
// cannot serve, CKR_KEY_FUNCTION_NOT_PERMITTED when its usage flag is off,
// CKR_MECHANISM_INVALID when CKA_ALLOWED_MECHANISMS excludes mech. The
// caller must Release it.
func keyFor(t *slots.Token, h uint64, use keyUse, mech uint64) (*slots.Object, error) {
	o, err := t.Object(h)
	if err != nil {
		if errors.Is(err, ck.CKR_OBJECT_HANDLE_INVALID) {
			return nil, ck.CKR_KEY_HANDLE_INVALID
		}
		return nil, err
	}
	fail := func(err error) (*slots.Object, error) { o.Release(); return nil, err }
	switch c := o.Class(); {
	case c != ck.CKO_SECRET_KEY && c != ck.CKO_PUBLIC_KEY && c != ck.CKO_PRIVATE_KEY:
		return fail(ck.CKR_KEY_HANDLE_INVALID)
	case !slices.Contains(use.classes, c):
		return fail(ck.Errorf(ck.CKR_KEY_TYPE_INCONSISTENT, "a %s cannot do that", ck.ClassName(c)))
	case o.Corrupt:
		return fail(errCorrupt)
	case o.Locked:
		return fail(ck.Errorf(ck.CKR_USER_NOT_LOGGED_IN, "the key's material is sealed until a login"))
	case !o.Bool(use.attr):
		return fail(ck.Errorf(ck.CKR_KEY_FUNCTION_NOT_PERMITTED, "%s is false", ck.AttrName(use.attr)))
	}
	if !o.MechanismAllowed(mech) {
		return fail(ck.Errorf(ck.CKR_MECHANISM_INVALID, "%s not in the key's CKA_ALLOWED_MECHANISMS", ck.MechName(mech)))
	}
	return o, nil
}

// opCall is the frame of a call on an active operation: module entered,
// session locked, operation found.
type opCall struct {
	st   *state
	s    *session.Session
	t    *slots.Token
	op   *session.Op
	kind session.OpKind
	done func()
}

func (c *opCall) end()   { c.s.EndOp(c.kind) }
func (c *opCall) close() { c.s.Unlock(); c.done() }

// fail ends the operation for any error but the two that leave it active.
func (c *opCall) fail(fn string, err error) error {
	if !errors.Is(err, ck.CKR_BUFFER_TOO_SMALL) && !errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
		c.end()
	}
	return c.st.logged(fn, err)
}

func (m *Module) opCall(sh uint64, kind session.OpKind) (opCall, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return opCall{}, err
	}
	s.Lock()
	op := s.Op(kind)
	if op == nil {
		s.Unlock()
		done()
		return opCall{}, ck.CKR_OPERATION_NOT_INITIALIZED
	}
	return opCall{st: st, s: s, t: t, op: op, kind: kind, done: done}, nil
}

// startOp is the common XxxInit: fetch and check the key, let start make
// the backend operation, install it.
func (m *Module) startOp(fn string, sh uint64, kind session.OpKind, mech ck.Mechanism, key uint64, use keyUse,
	start func(st *state, o *slots.Object) (any, error)) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	if s.Op(kind) != nil {
		return ck.CKR_OPERATION_ACTIVE
	}
	o, err := keyFor(t, key, use, mech.Type)
	if err != nil {
		return st.logged(fn, err)
	}
	state, err := start(st, o)
	if err != nil {
		o.Release()
		return st.logged(fn, err)
	}
	op := session.Op{Mech: mech.Type, State: state, Key: o,
		NeedAuth: o.Class() == ck.CKO_PRIVATE_KEY && o.Bool(ck.CKA_ALWAYS_AUTHENTICATE)}
	return s.StartOp(kind, op)
}

// outLen applies the two-call convention: nil error and need alone for a
// length query; CKR_BUFFER_TOO_SMALL for a short buffer.
func outLen(outCap int64, need int) (query bool, err error) {
	if outCap < 0 {
		return true, nil
	}
	if outCap < int64(need) {
		return false, ck.CKR_BUFFER_TOO_SMALL
	}
	return false, nil
}

// EncryptInit is C_EncryptInit.
func (m *Module) EncryptInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.startOp("C_EncryptInit", sh, session.OpEncrypt, mech, key, useEncrypt, func(st *state, o *slots.Object) (any, error) {
		return st.backend.KeyCipher(mech, o.Key(), backend.ForEncrypt, st.budgetFor(mech, o))
	})
}

// DecryptInit is C_DecryptInit.
func (m *Module) DecryptInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.startOp("C_DecryptInit", sh, session.OpDecrypt, mech, key, useDecrypt, func(st *state, o *slots.Object) (any, error) {
		return st.backend.KeyCipher(mech, o.Key(), backend.ForDecrypt, nil)
	})
}

func (m *Module) Encrypt(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return m.cipherOneShot("C_Encrypt", sh, session.OpEncrypt, in, outCap, nil)
}
func (m *Module) Decrypt(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return m.cipherOneShot("C_Decrypt", sh, session.OpDecrypt, in, outCap, nil)
}

// EncryptInto and DecryptInto are Encrypt and Decrypt writing into dst,
// the caller's buffer of outCap bytes, when the mechanism can: bulk data is
// then never copied. dst must not overlap in.
func (m *Module) EncryptInto(sh uint64, in []byte, outCap int64, dst []byte) ([]byte, uint64, error) {
	return m.cipherOneShot("C_Encrypt", sh, session.OpEncrypt, in, outCap, dst)
}
func (m *Module) DecryptInto(sh uint64, in []byte, outCap int64, dst []byte) ([]byte, uint64, error) {
	return m.cipherOneShot("C_Decrypt", sh, session.OpDecrypt, in, outCap, dst)
}
func (m *Module) EncryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return m.cipherUpdate("C_EncryptUpdate", sh, session.OpEncrypt, in, outCap)
}
func (m *Module) DecryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return m.cipherUpdate("C_DecryptUpdate", sh, session.OpDecrypt, in, outCap)
}
func (m *Module) EncryptFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return m.cipherFinal("C_EncryptFinal", sh, session.OpEncrypt, outCap)
}
func (m *Module) DecryptFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return m.cipherFinal("C_DecryptFinal", sh, session.OpDecrypt, outCap)
}

func (m *Module) cipherOneShot(fn string, sh uint64, kind session.OpKind, in []byte, outCap int64, dst []byte) ([]byte, uint64, error) {
	c, err := m.opCall(sh, kind)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	if c.op.Multi {
		return nil, 0, ck.Errorf(ck.CKR_OPERATION_ACTIVE, "%s after an update", fn)
	}
	ci := c.op.State.(backend.Cipher)
	need := ci.OneShotLen(len(in))
	if query, err := outLen(outCap, need); query || err != nil {
		return nil, uint64(need), err
	}
	out, err := ci.OneShot(dst[:0], in)
	if err != nil {
		return nil, 0, c.fail(fn, err)
	}
	c.endCipher(ci)
	return out, uint64(len(out)), nil
}

func (m *Module) cipherUpdate(fn string, sh uint64, kind session.OpKind, in []byte, outCap int64) ([]byte, uint64, error) {
	c, err := m.opCall(sh, kind)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	// Mechanisms without a multi-part form in PKCS#11 (RSA, key wrap)
	// buffer their updates and run at the final call.
	ci := c.op.State.(backend.Cipher)
	need := ci.UpdateLen(len(in))
	if query, err := outLen(outCap, need); query || err != nil {
		return nil, uint64(need), err
	}
	c.op.Multi = true
	out, err := ci.Update(in)
	if err != nil {
		return nil, 0, c.fail(fn, err)
	}
	return out, uint64(len(out)), nil
}

func (m *Module) cipherFinal(fn string, sh uint64, kind session.OpKind, outCap int64) ([]byte, uint64, error) {
	c, err := m.opCall(sh, kind)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	ci := c.op.State.(backend.Cipher)
	need := ci.FinalLen()
	if query, err := outLen(outCap, need); query || err != nil {
		return nil, uint64(need), err
	}
	out, err := ci.Final()
	if err != nil {
		return nil, 0, c.fail(fn, err)
	}
	c.endCipher(ci)
	return out, uint64(len(out)), nil
}

// endCipher ends a cipher operation that completed: it records an IV the
// token generated (FIPS-mode GCM) for the C layer to write back into the
// caller's CK_GCM_PARAMS.pIv, ends the operation, and gives a pooled
// operation back. The output the caller returns is the caller's buffer or a
// slice of its own, never the operation's memory.
func (c *opCall) endCipher(ci backend.Cipher) {
	if src, ok := ci.(backend.IVSource); ok {
		c.s.GeneratedIV = src.GeneratedIV()
	}
	c.end()
	if r, ok := ci.(backend.Releaser); ok {
		r.Release()
	}
}

// GeneratesIVs reports whether this module draws AES-GCM IVs itself (FIPS
// mode), so that the C layer tracks where to write them back only then.
func (m *Module) GeneratesIVs() bool {
	st, done, err := m.enter()
	if err != nil {
		return false
	}
	defer done()
	return st.backend.FIPS()
}

// TakeGeneratedIV returns, once, the IV the token generated for the last
// encryption in session sh (nil if none).
func (m *Module) TakeGeneratedIV(sh uint64) []byte {
	st, done, err := m.enter()
	if err != nil {
		return nil
	}
	defer done()
	s, _, err := st.session(sh)
	if err != nil {
		return nil
	}
	s.Lock()
	defer s.Unlock()
	iv := s.GeneratedIV
	s.GeneratedIV = nil
	return iv
}

// DigestInit is C_DigestInit.
func (m *Module) DigestInit(sh uint64, mech ck.Mechanism) error {
	st, s, _, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	if s.Op(session.OpDigest) != nil {
		return ck.CKR_OPERATION_ACTIVE
	}
	h, err := st.backend.NewDigest(mech)
	if err != nil {
		return st.logged("C_DigestInit", err)
	}
	return s.StartOp(session.OpDigest, session.Op{Mech: mech.Type, State: h})
}

// Digest is C_Digest.
func (m *Module) Digest(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	c, err := m.opCall(sh, session.OpDigest)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	if c.op.Multi {
		return nil, 0, ck.Errorf(ck.CKR_OPERATION_ACTIVE, "C_Digest after an update")
	}
	h := c.op.State.(hash.Hash)
	if query, err := outLen(outCap, h.Size()); query || err != nil {
		return nil, uint64(h.Size()), err
	}
	h.Write(in)
	c.end()
	return h.Sum(nil), uint64(h.Size()), nil
}

// DigestUpdate is C_DigestUpdate.
func (m *Module) DigestUpdate(sh uint64, in []byte) error {
	c, err := m.opCall(sh, session.OpDigest)
	if err != nil {
		return err
	}
	defer c.close()
	c.op.Multi = true
	c.op.State.(hash.Hash).Write(in)
	return nil
}

// DigestKey is C_DigestKey: a secret key's value enters the digest, unless
// the key may not be revealed (CKR_KEY_INDIGESTIBLE).
func (m *Module) DigestKey(sh uint64, key uint64) error {
	c, err := m.opCall(sh, session.OpDigest)
	if err != nil {
		return err
	}
	defer c.close()
	o, err := c.t.Object(key)
	if err != nil {
		if errors.Is(err, ck.CKR_OBJECT_HANDLE_INVALID) {
			err = ck.CKR_KEY_HANDLE_INVALID
		}
		return c.fail("C_DigestKey", err)
	}
	defer o.Release()
	if o.Class() != ck.CKO_SECRET_KEY || o.Sensitive() || o.Locked {
		return c.fail("C_DigestKey", ck.Errorf(ck.CKR_KEY_INDIGESTIBLE, "only a secret key that may be revealed"))
	}
	c.op.Multi = true
	c.op.State.(hash.Hash).Write(o.Attrs.Value(ck.CKA_VALUE))
	return nil
}

// DigestFinal is C_DigestFinal.
func (m *Module) DigestFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	c, err := m.opCall(sh, session.OpDigest)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	h := c.op.State.(hash.Hash)
	if query, err := outLen(outCap, h.Size()); query || err != nil {
		return nil, uint64(h.Size()), err
	}
	c.end()
	return h.Sum(nil), uint64(h.Size()), nil
}

// SignInit is C_SignInit.
func (m *Module) SignInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.startOp("C_SignInit", sh, session.OpSign, mech, key, useSign, func(st *state, o *slots.Object) (any, error) {
		return st.backend.KeySigner(mech, o.Key())
	})
}

// VerifyInit is C_VerifyInit.
func (m *Module) VerifyInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.startOp("C_VerifyInit", sh, session.OpVerify, mech, key, useVerify, func(st *state, o *slots.Object) (any, error) {
		return st.backend.KeyVerifier(mech, o.Key())
	})
}

// authorised checks a CKA_ALWAYS_AUTHENTICATE key's context-specific login.
func (c *opCall) authorised() error {
	if c.op.NeedAuth && !c.op.Authed {
		return ck.Errorf(ck.CKR_USER_NOT_LOGGED_IN, "the key needs C_Login(CKU_CONTEXT_SPECIFIC) first")
	}
	return nil
}

// Sign is C_Sign.
func (m *Module) Sign(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return m.SignInto(sh, in, outCap, nil)
}

// SignInto is Sign writing the signature into dst when the mechanism can
// (HMAC) and dst has room: the caller's buffer, in place of a slice it
// copies from. The result may be dst's memory or another slice.
func (m *Module) SignInto(sh uint64, in []byte, outCap int64, dst []byte) ([]byte, uint64, error) {
	c, err := m.opCall(sh, session.OpSign)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	if c.op.Multi {
		return nil, 0, ck.Errorf(ck.CKR_OPERATION_ACTIVE, "C_Sign after an update")
	}
	sg := c.op.State.(backend.Signer)
	if query, err := outLen(outCap, sg.Len()); query || err != nil {
		return nil, uint64(sg.Len()), err
	}
	if err := c.authorised(); err != nil {
		return nil, 0, c.fail("C_Sign", err)
	}
	if err := sg.Update(in); err != nil {
		return nil, 0, c.fail("C_Sign", err)
	}
	var sig []byte
	if si, ok := sg.(backend.SignerInto); ok && dst != nil {
		sig, err = si.SignInto(dst)
	} else {
		sig, err = sg.Sign()
	}
	if err != nil {
		return nil, 0, c.fail("C_Sign", err)
	}
	c.end()
	return sig, uint64(len(sig)), nil
}

// SignUpdate is C_SignUpdate.
func (m *Module) SignUpdate(sh uint64, in []byte) error {
	c, err := m.opCall(sh, session.OpSign)
	if err != nil {
		return err
	}
	defer c.close()
	c.op.Multi = true
	if err := c.op.State.(backend.Signer).Update(in); err != nil {
		return c.fail("C_SignUpdate", err)
	}
	return nil
}

// SignFinal is C_SignFinal.
func (m *Module) SignFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	c, err := m.opCall(sh, session.OpSign)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	sg := c.op.State.(backend.Signer)
	if query, err := outLen(outCap, sg.Len()); query || err != nil {
		return nil, uint64(sg.Len()), err
	}
	if err := c.authorised(); err != nil {
		return nil, 0, c.fail("C_SignFinal", err)
	}
	sig, err := sg.Sign()
	if err != nil {
		return nil, 0, c.fail("C_SignFinal", err)
	}
	c.end()
	return sig, uint64(len(sig)), nil
}

// Verify is C_Verify.
func (m *Module) Verify(sh uint64, in, sig []byte) error {
	c, err := m.opCall(sh, session.OpVerify)
	if err != nil {
		return err
	}
	defer c.close()
	if c.op.Multi {
		return ck.Errorf(ck.CKR_OPERATION_ACTIVE, "C_Verify after an update")
	}
	v := c.op.State.(backend.Verifier)
	err = v.Update(in)
	if err == nil {
		err = v.Verify(sig)
	}
	c.end()
	return c.st.logged("C_Verify", err)
}

// VerifyUpdate is C_VerifyUpdate.
func (m *Module) VerifyUpdate(sh uint64, in []byte) error {
	c, err := m.opCall(sh, session.OpVerify)
	if err != nil {
		return err
	}
	defer c.close()
	c.op.Multi = true
	if err := c.op.State.(backend.Verifier).Update(in); err != nil {
		return c.fail("C_VerifyUpdate", err)
	}
	return nil
}

// VerifyFinal is C_VerifyFinal.
func (m *Module) VerifyFinal(sh uint64, sig []byte) error {
	c, err := m.opCall(sh, session.OpVerify)
	if err != nil {
		return err
	}
	defer c.close()
	err = c.op.State.(backend.Verifier).Verify(sig)
	c.end()
	return c.st.logged("C_VerifyFinal", err)
}

// budgetFor is the GCM budget of an encryption with mech on key o (nil for
// every other mechanism).
func (st *state) budgetFor(mech ck.Mechanism, o *slots.Object) backend.Budget {
	if mech.Type != ck.CKM_AES_GCM {
		return nil
	}
	return st
}
