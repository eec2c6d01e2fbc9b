package backend

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"hash"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Signer is one signing operation: data arrives through Update (hashed as
// it comes for the hashing mechanisms, buffered for the others), and Sign
// ends it. Len is the signature length, known from the start.
type Signer interface {
	Update(in []byte) error
	Sign() ([]byte, error)
	Len() int
}

// Verifier is one verification operation.
type Verifier interface {
	Update(in []byte) error
	Verify(sig []byte) error
}

// hashedMechs maps the hash-then-sign mechanisms to their hash.
var hashedMechs = map[uint64]uint64{
	CKM_SHA1_RSA_PKCS: CKM_SHA_1, CKM_SHA256_RSA_PKCS: CKM_SHA256, CKM_SHA384_RSA_PKCS: CKM_SHA384, CKM_SHA512_RSA_PKCS: CKM_SHA512,
	CKM_SHA256_RSA_PKCS_PSS: CKM_SHA256, CKM_SHA384_RSA_PKCS_PSS: CKM_SHA384, CKM_SHA512_RSA_PKCS_PSS: CKM_SHA512,
	CKM_ECDSA_SHA1: CKM_SHA_1, CKM_ECDSA_SHA256: CKM_SHA256, CKM_ECDSA_SHA384: CKM_SHA384, CKM_ECDSA_SHA512: CKM_SHA512,
	CKM_SHA_1_HMAC: CKM_SHA_1, CKM_SHA256_HMAC: CKM_SHA256, CKM_SHA384_HMAC: CKM_SHA384, CKM_SHA512_HMAC: CKM_SHA512,
}

// signCore is what every signature mechanism reduces to: the input
// collected (a running hash or a buffer), and a function over the result.
type signCore struct {
	h    hash.Hash // nil: buffer the data
	buf  []byte
	max  int // for buffering mechanisms, the most input accepted (0: any)
	sign func(msg []byte) ([]byte, error)
	vrfy func(msg, sig []byte) error
	n    int
}

func (c *signCore) Update(in []byte) error {
	if c.h != nil {
		c.h.Write(in)
		return nil
	}
	if c.max > 0 && len(c.buf)+len(in) > c.max {
		return Errorf(CKR_DATA_LEN_RANGE, "input longer than %d bytes", c.max)
	}
	c.buf = append(c.buf, in...)
	return nil
}

func (c *signCore) msg() []byte {
	if c.h != nil {
		return c.h.Sum(nil)
	}
	return c.buf
}

func (c *signCore) Sign() ([]byte, error)   { defer clear(c.buf); return c.sign(c.msg()) }
func (c *signCore) Verify(sig []byte) error { defer clear(c.buf); return c.vrfy(c.msg(), sig) }
func (c *signCore) Len() int                { return c.n }

var errSig = Errorf(CKR_SIGNATURE_INVALID, "signature does not verify")

// signVerifier is one signature or verification operation.
type signVerifier interface {
	Signer
	Verifier
}

// newSignCore starts a signature (sign true) or verification with mech.
func (b *Backend) newSignCore(mech Mechanism, key *Key, sign bool) (signVerifier, error) {
	keyType := key.Type
	op := uint64(opVerify)
	if sign {
		op = opSign
	}
	if err := b.Check(mech.Type, op, keyType); err != nil {
		return nil, err
	}
	var hf func() hash.Hash
	var ch crypto.Hash
	if hm, ok := hashedMechs[mech.Type]; ok {
		var err error
		if ch, hf, err = b.hashFor(hm); err != nil {
			return nil, ErrMechanismInvalid
		}
	}
	// The signCore is made in the branches that use it: HMAC, the most
	// frequent small operation, has its own type.
	switch keyType {
	case CKK_RSA:
		c := &signCore{}
		return c, b.rsaSign(c, mech, key, sign, ch, hf)
	case CKK_EC:
		c := &signCore{}
		return c, b.ecdsaSign(c, mech, key, sign, hf)
	case CKK_EC_EDWARDS:
		c := &signCore{}
		return c, edSign(c, mech, key, sign)
	default:
		if hf == nil {
			return nil, ErrMechanismInvalid
		}
		k := key.Attrs[CKA_VALUE]
		if b.fips && len(k) < 14 {
			return nil, Errorf(CKR_KEY_SIZE_RANGE, "FIPS mode: HMAC keys of at least 112 bits")
		}
		if len(mech.Param) != 0 {
			return nil, paramErr("HMAC takes no parameter")
		}
		return key.hmacOp(ch, hf), nil
	}
}

// hmacOp is an HMAC signature or verification on a keyed state; both come
// from the key's pool and go back to it when the operation ends (Sign,
// SignInto or Verify). What it returns never aliases it: once given back,
// another operation may use it.
type hmacOp struct {
	key  *Key
	hash crypto.Hash
	h    hash.Hash
	n    int
}

// SignerInto is a Signer that writes its signature into dst when dst has
// room for it, so that it reaches the caller's buffer without an
// intermediate slice; otherwise it is Sign.
type SignerInto interface {
	SignInto(dst []byte) ([]byte, error)
}

func (c *hmacOp) Len() int { return c.n }
func (c *hmacOp) Update(in []byte) error {
	c.h.Write(in)
	return nil
}
func (c *hmacOp) Sign() ([]byte, error) {
	return c.SignInto(nil)
}
func (c *hmacOp) SignInto(dst []byte) ([]byte, error) {
	if cap(dst) < c.n {
		dst = make([]byte, 0, c.n)
	}
	mac := c.h.Sum(dst[:0])
	c.release()
	return mac, nil
}
func (c *hmacOp) Verify(sig []byte) error {
	var buf [64]byte
	mac := c.h.Sum(buf[:0])
	c.release()
	if len(sig) != len(mac) {
		return Errorf(CKR_SIGNATURE_LEN_RANGE, "HMAC of %d bytes, want %d", len(sig), len(mac))
	}
	if subtle.ConstantTimeCompare(mac, sig) != 1 {
		return errSig
	}
	return nil
}
func (c *hmacOp) release() { c.key.putHMAC(c) }

// NewSigner starts a signing operation with a key used once.
func (b *Backend) NewSigner(mech Mechanism, keyType uint64, key Attrs) (Signer, error) {
	return b.newSignCore(mech, NewKey(keyType, key), true)
}

// NewVerifier starts a verification with a key used once.
func (b *Backend) NewVerifier(mech Mechanism, keyType uint64, key Attrs) (Verifier, error) {
	return b.newSignCore(mech, NewKey(keyType, key), false)
}

// KeySigner starts a signing operation with key k.
func (b *Backend) KeySigner(mech Mechanism, k *Key) (Signer, error) {
	return b.newSignCore(mech, k, true)
}

// KeyVerifier starts a verification with key k.
func (b *Backend) KeyVerifier(mech Mechanism, k *Key) (Verifier, error) {
	return b.newSignCore(mech, k, false)
}

// digestInfoPrefixes are the DER DigestInfo headers (RFC 8017 §9.2) of the
// SHA-2 hashes, by which a raw CKM_RSA_PKCS input names its hash.
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// splitDigestInfo recognises a SHA-2 DigestInfo.
func splitDigestInfo(in []byte) (crypto.Hash, []byte, bool) {
	for h, p := range digestInfoPrefixes {
		if len(in) == len(p)+h.Size() && bytes.HasPrefix(in, p) {
			return h, in[len(p):], true
		}
	}
	return 0, nil, false
}

func (b *Backend) rsaSign(c *signCore, mech Mechanism, key *Key, sign bool, ch crypto.Hash, hf func() hash.Hash) error {
	var priv *rsa.PrivateKey
	var pub *rsa.PublicKey
	var err error
	if sign {
		if priv, err = key.RSAPrivate(); err == nil {
			pub = &priv.PublicKey
		}
	} else {
		pub, err = key.RSAPublic()
	}
	if err != nil {
		return err
	}
	c.n = pub.Size()
	if hf != nil {
		c.h = hf()
	}
	switch mech.Type {
	case CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS:
		if len(mech.Param) != 0 {
			return paramErr("PKCS#1 v1.5 signatures take no parameter")
		}
		// resolve names the hash and digest a PKCS#1 v1.5 signature covers.
		resolve := func(m []byte) (crypto.Hash, []byte, error) {
			if hf != nil {
				return ch, m, nil
			}
			if h, d, ok := splitDigestInfo(m); ok {
				// Signed through the approved path, with its hash named.
				return h, d, nil
			}
			if b.fips {
				return 0, nil, Errorf(CKR_DATA_INVALID, "FIPS mode: raw CKM_RSA_PKCS signs only a SHA-2 DigestInfo")
			}
			return 0, m, nil
		}
		if hf == nil {
			c.max = c.n - 11
		}
		c.sign = func(m []byte) ([]byte, error) {
			h, d, err := resolve(m)
			if err != nil {
				return nil, err
			}
			return rsa.SignPKCS1v15(rand.Reader, priv, h, d)
		}
		c.vrfy = func(m, sig []byte) error {
			if len(sig) != c.n {
				return Errorf(CKR_SIGNATURE_LEN_RANGE, "RSA signature of %d bytes", len(sig))
			}
			h, d, err := resolve(m)
			if err != nil {
				return err
			}
			if rsa.VerifyPKCS1v15(pub, h, d, sig) != nil {
				return errSig
			}
			return nil
		}
		return nil
	default: // PSS
		p, err := DecodePSS(mech)
		if err != nil {
			return err
		}
		h, _, err := b.hashFor(p.Hash)
		if err != nil {
			return err
		}
		mgf, _, err := b.hashFor(p.MGF)
		if err != nil || mgf != h {
			return paramErr("PSS: MGF1 must use the signature's hash")
		}
		if hf != nil && h != ch {
			return paramErr("PSS parameter hash differs from the mechanism's")
		}
		if p.SaltLen > uint64(h.Size()) && b.fips {
			return paramErr("FIPS mode: PSS salt no longer than the hash")
		}
		if p.SaltLen == 0 || p.SaltLen > 1024 {
			// Go's PSSOptions reads a salt length of 0 as "any length":
			// an empty salt cannot be asked for, nor checked on verify.
			return paramErr("PSS: the salt length must be 1 to 1024 bytes")
		}
		opts := &rsa.PSSOptions{SaltLength: int(p.SaltLen), Hash: h}
		check := func(d []byte) error {
			if len(d) != h.Size() {
				return Errorf(CKR_DATA_LEN_RANGE, "PSS input of %d bytes; the %v digest is %d", len(d), h, h.Size())
			}
			return nil
		}
		c.sign = func(d []byte) ([]byte, error) {
			if err := check(d); err != nil {
				return nil, err
			}
			return rsa.SignPSS(rand.Reader, priv, h, d, opts)
		}
		c.vrfy = func(d, sig []byte) error {
			if err := check(d); err != nil {
				return err
			}
			if len(sig) != c.n {
				return Errorf(CKR_SIGNATURE_LEN_RANGE, "RSA signature of %d bytes", len(sig))
			}
			if rsa.VerifyPSS(pub, h, d, sig, opts) != nil {
				return errSig
			}
			return nil
		}
		if hf == nil {
			c.max = 64
		}
		return nil
	}
}

func (b *Backend) ecdsaSign(c *signCore, mech Mechanism, key *Key, sign bool, hf func() hash.Hash) error {
	if len(mech.Param) != 0 {
		return paramErr("ECDSA takes no parameter")
	}
	var priv *ecdsa.PrivateKey
	var pub *ecdsa.PublicKey
	var err error
	if sign {
		if priv, err = key.ecPrivate(); err == nil {
			pub = &priv.PublicKey
		}
	} else {
		pub, err = key.ecPublic()
	}
	if err != nil {
		return err
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	c.n = 2 * size
	if hf != nil {
		c.h = hf()
	} else {
		c.max = 64
	}
	check := func(d []byte) error {
		// Go's module panics on ECDSA over a digest that is not SHA-2 sized
		// when fips140=only; FIPS mode refuses first.
		if b.fips && len(d) != 32 && len(d) != 48 && len(d) != 64 {
			return Errorf(CKR_DATA_LEN_RANGE, "FIPS mode: ECDSA over a 32, 48 or 64-byte digest, not %d", len(d))
		}
		if len(d) == 0 {
			return Errorf(CKR_DATA_LEN_RANGE, "empty digest")
		}
		return nil
	}
	c.sign = func(d []byte) ([]byte, error) {
		if err := check(d); err != nil {
			return nil, err
		}
		der, err := ecdsa.SignASN1(rand.Reader, priv, d)
		if err != nil {
			return nil, err
		}
		return ecdsaRawFromDER(der, size)
	}
	c.vrfy = func(d, sig []byte) error {
		if err := check(d); err != nil {
			return err
		}
		if len(sig) != 2*size {
			return Errorf(CKR_SIGNATURE_LEN_RANGE, "ECDSA signature of %d bytes, want %d", len(sig), 2*size)
		}
		if !ecdsa.VerifyASN1(pub, d, ecdsaDERFromRaw(sig, size)) {
			return errSig
		}
		return nil
	}
	return nil
}

var errMalformedECDSA = Errorf(CKR_FUNCTION_FAILED, "malformed ECDSA signature from the crypto module")

// ecdsaRawFromDER turns Go's DER signature (SEQUENCE { INTEGER r, INTEGER s })
// into PKCS#11's r || s, each left-padded to size bytes. Written out: asn1's
// reflection and two big.Ints were a dozen allocations a signature.
func ecdsaRawFromDER(der []byte, size int) ([]byte, error) {
	body, rest, ok := derTLV(der, 0x30)
	if !ok || len(rest) != 0 {
		return nil, errMalformedECDSA
	}
	out := make([]byte, 2*size)
	for i := range 2 {
		var n []byte
		if n, body, ok = derTLV(body, 0x02); !ok || len(n) == 0 || n[0]&0x80 != 0 {
			return nil, errMalformedECDSA // absent, empty or negative
		}
		if len(n) > 1 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size {
			return nil, errMalformedECDSA
		}
		copy(out[(i+1)*size-len(n):(i+1)*size], n)
	}
	if len(body) != 0 {
		return nil, errMalformedECDSA
	}
	return out, nil
}

// derTLV reads one DER element of the given tag from b (short or one- or
// two-byte long form lengths: enough for any ECDSA signature), returning
// its contents and what follows.
func derTLV(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	switch {
	case b[1] == 0x81 && len(b) >= 3:
		n, hdr = int(b[2]), 3
	case b[1] == 0x82 && len(b) >= 4:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case b[1] >= 0x80:
		return nil, nil, false
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// ecdsaDERFromRaw is ecdsaRawFromDER's inverse, for VerifyASN1: r and s
// as minimal positive DER INTEGERs in a SEQUENCE.
func ecdsaDERFromRaw(raw []byte, size int) []byte {
	ints := [2][]byte{raw[:size], raw[size:]}
	body := 0
	for i, n := range ints {
		for len(n) > 1 && n[0] == 0 {
			n = n[1:]
		}
		ints[i] = n
		body += 2 + len(n)
		if n[0]&0x80 != 0 {
			body++ // a 0x00 keeps it positive
		}
	}
	out := make([]byte, 0, 4+body)
	out = appendDERHeader(out, 0x30, body)
	for _, n := range ints {
		l := len(n)
		if n[0]&0x80 != 0 {
			l++
		}
		out = appendDERHeader(out, 0x02, l)
		if l > len(n) {
			out = append(out, 0)
		}
		out = append(out, n...)
	}
	return out
}

// appendDERHeader appends a DER tag and length (short form, or long form of
// one or two bytes: up to 65,535).
func appendDERHeader(b []byte, tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, tag, byte(n))
	case n <= 0xff:
		return append(b, tag, 0x81, byte(n))
	default:
		return append(b, tag, 0x82, byte(n>>8), byte(n))
	}
}

func edSign(c *signCore, mech Mechanism, key *Key, sign bool) error {
	p, err := DecodeEdDSA(mech)
	if err != nil {
		return err
	}
	if p.PH || len(p.Context) != 0 {
		return paramErr("only pure Ed25519 (no prehash, no context) is supported")
	}
	c.n = ed25519.SignatureSize
	c.max = 64 << 20
	if sign {
		priv, err := key.edPrivate()
		if err != nil {
			return err
		}
		c.sign = func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }
		return nil
	}
	pub, err := key.edPublic()
	if err != nil {
		return err
	}
	c.vrfy = func(m, sig []byte) error {
		if len(sig) != ed25519.SignatureSize {
			return Errorf(CKR_SIGNATURE_LEN_RANGE, "Ed25519 signature of %d bytes", len(sig))
		}
		if !ed25519.Verify(pub, m, sig) {
			return errSig
		}
		return nil
	}
	return nil
}
