package backend

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Attrs is a key object's attributes, as the token holds them.
type Attrs = map[uint64][]byte

// Curve OIDs, DER-encoded as CKA_EC_PARAMS holds them.
var (
	oidP256    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidP384    = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}
	oidP521    = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	// PKCS#11 3.0 also names Edwards curves by PrintableString.
	nameEd25519 = []byte{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'}
)

// curveOf maps CKA_EC_PARAMS to a NIST curve. An unknown curve is
// CKR_CURVE_NOT_SUPPORTED (what key generation answers); operations on a
// stored key report it as CKR_KEY_TYPE_INCONSISTENT (see ecKeyCurve).
func curveOf(params []byte) (elliptic.Curve, error) {
	switch {
	case bytes.Equal(params, oidP256):
		return elliptic.P256(), nil
	case bytes.Equal(params, oidP384):
		return elliptic.P384(), nil
	case bytes.Equal(params, oidP521):
		return elliptic.P521(), nil
	}
	return nil, Errorf(CKR_CURVE_NOT_SUPPORTED, "CKA_EC_PARAMS names no supported curve (P-256, P-384, P-521)")
}

func isEd25519Params(params []byte) bool {
	return bytes.Equal(params, oidEd25519) || bytes.Equal(params, nameEd25519)
}

// ECPointDER wraps a raw EC point in the DER OCTET STRING that
// CKA_EC_POINT holds. Written out by hand: asn1.Marshal reflects and made
// five allocations of every EC key pair generated.
func ECPointDER(raw []byte) []byte {
	return append(appendDERHeader(make([]byte, 0, 4+len(raw)), 0x04, len(raw)), raw...)
}

// ecPointRaw accepts CKA_EC_POINT or ECDH public data either DER-wrapped or
// raw, and returns the raw point of the expected length.
func ecPointRaw(b []byte, rawLen int) []byte {
	if len(b) == rawLen {
		return b
	}
	var raw []byte
	if rest, err := asn1.Unmarshal(b, &raw); err == nil && len(rest) == 0 && len(raw) == rawLen {
		return raw
	}
	return nil
}

func pointLen(c elliptic.Curve) int { return 1 + 2*((c.Params().BitSize+7)/8) }

func keyErr(what string) error { return Errorf(CKR_KEY_TYPE_INCONSISTENT, "%s", what) }

// rsaPublic builds an RSA public key and enforces the 2048-bit floor: a
// smaller key is refused for every operation with CKR_MECHANISM_INVALID.
func rsaPublic(a Attrs) (*rsa.PublicKey, error) {
	n := new(big.Int).SetBytes(a[CKA_MODULUS])
	e := new(big.Int).SetBytes(a[CKA_PUBLIC_EXPONENT])
	if n.Sign() == 0 || n.Bit(0) == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64()%2 == 0 || e.Int64() > 1<<31-1 {
		return nil, keyErr("RSA key without a usable modulus and public exponent")
	}
	if n.BitLen() < 2048 {
		return nil, Errorf(CKR_MECHANISM_INVALID, "RSA key of %d bits; the minimum is 2048", n.BitLen())
	}
	if n.BitLen() > 4096 {
		return nil, Errorf(CKR_KEY_SIZE_RANGE, "RSA key of %d bits; the maximum is 4096", n.BitLen())
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func rsaPrivate(a Attrs) (*rsa.PrivateKey, error) {
	pub, err := rsaPublic(a)
	if err != nil {
		return nil, err
	}
	p, q := a[CKA_PRIME_1], a[CKA_PRIME_2]
	if len(p) == 0 || len(q) == 0 {
		return nil, keyErr("RSA private key without its primes (CKA_PRIME_1, CKA_PRIME_2)")
	}
	k := &rsa.PrivateKey{PublicKey: *pub, D: new(big.Int).SetBytes(a[CKA_PRIVATE_EXPONENT]),
		Primes: []*big.Int{new(big.Int).SetBytes(p), new(big.Int).SetBytes(q)}}
	if err := k.Validate(); err != nil {
		return nil, keyErr("RSA private key does not validate")
	}
	k.Precompute()
	return k, nil
}

// ecKeyCurve is curveOf for a stored key used in an operation.
func ecKeyCurve(a Attrs) (elliptic.Curve, error) {
	c, err := curveOf(a[CKA_EC_PARAMS])
	if err != nil {
		return nil, keyErr("the key's CKA_EC_PARAMS names no supported curve")
	}
	return c, nil
}

func ecPrivate(a Attrs) (*ecdsa.PrivateKey, error) {
	c, err := ecKeyCurve(a)
	if err != nil {
		return nil, err
	}
	return ecPrivateOn(c, a[CKA_VALUE])
}

// ecPrivateOn parses scalar d as a private key on curve c.
func ecPrivateOn(c elliptic.Curve, d []byte) (*ecdsa.PrivateKey, error) {
	size := (c.Params().BitSize + 7) / 8
	if len(d) < size {
		// Some clients strip leading zeros of the scalar.
		d = append(make([]byte, size-len(d)), d...)
	}
	k, err := ecdsa.ParseRawPrivateKey(c, d)
	if err != nil {
		return nil, keyErr("EC private value does not fit its curve")
	}
	return k, nil
}

func ecPublic(a Attrs) (*ecdsa.PublicKey, error) {
	c, err := ecKeyCurve(a)
	if err != nil {
		return nil, err
	}
	raw := ecPointRaw(a[CKA_EC_POINT], pointLen(c))
	if raw == nil {
		return nil, keyErr("CKA_EC_POINT is not an uncompressed point of its curve")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(c, raw)
	if err != nil {
		return nil, keyErr("CKA_EC_POINT is not on its curve")
	}
	return k, nil
}

func edPrivate(a Attrs) (ed25519.PrivateKey, error) {
	if !isEd25519Params(a[CKA_EC_PARAMS]) {
		return nil, keyErr("only Ed25519 Edwards keys are supported")
	}
	if len(a[CKA_VALUE]) != ed25519.SeedSize {
		return nil, keyErr("Ed25519 private value must be 32 bytes")
	}
	return ed25519.NewKeyFromSeed(a[CKA_VALUE]), nil
}

func edPublic(a Attrs) (ed25519.PublicKey, error) {
	if !isEd25519Params(a[CKA_EC_PARAMS]) {
		return nil, keyErr("only Ed25519 Edwards keys are supported")
	}
	raw := ecPointRaw(a[CKA_EC_POINT], ed25519.PublicKeySize)
	if raw == nil {
		return nil, keyErr("Ed25519 CKA_EC_POINT must hold 32 bytes")
	}
	return ed25519.PublicKey(raw), nil
}

// KeyPair is a generated key pair's computed attributes.
type KeyPair struct{ Public, Private Attrs }

// GenerateKey makes a secret key's value for mech (CKM_AES_KEY_GEN,
// CKM_GENERIC_SECRET_KEY_GEN, CKM_HKDF_KEY_GEN), of valueLen bytes.
func (b *Backend) GenerateKey(mech uint64, valueLen uint64) ([]byte, error) {
	info, err := b.Info(mech)
	if err != nil || info.Flags&CKF_GENERATE == 0 {
		return nil, ErrMechanismInvalid
	}
	if valueLen < info.MinKeySize || valueLen > info.MaxKeySize || (mech == CKM_AES_KEY_GEN && valueLen != 16 && valueLen != 24 && valueLen != 32) {
		return nil, Errorf(CKR_KEY_SIZE_RANGE, "%d-byte key for %s", valueLen, MechName(mech))
	}
	return Random(int(valueLen)), nil
}

// GenerateKeyPair makes a key pair for mech from the public template's
// parameters (CKA_MODULUS_BITS and CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS).
func (b *Backend) GenerateKeyPair(mech uint64, pub Attrs) (KeyPair, error) {
	if b.allowedOps(mech)&opGenPair == 0 {
		return KeyPair{}, ErrMechanismInvalid
	}
	// The pair owns its buffers, none of them the caller's (each value it
	// takes from pub is cloned): the caller wipes the private half once the
	// objects exist.
	switch mech {
	case CKM_RSA_PKCS_KEY_PAIR_GEN:
		bitsV, ok := pub[CKA_MODULUS_BITS]
		if !ok {
			return KeyPair{}, Errorf(CKR_TEMPLATE_INCOMPLETE, "no CKA_MODULUS_BITS")
		}
		bits, err := DecodeULong(bitsV)
		if err != nil {
			return KeyPair{}, Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_MODULUS_BITS")
		}
		if bits < 2048 || bits > 4096 {
			return KeyPair{}, Errorf(CKR_KEY_SIZE_RANGE, "RSA-%d; Craton makes 2048 to 4096-bit keys", bits)
		}
		if e, ok := pub[CKA_PUBLIC_EXPONENT]; ok && new(big.Int).SetBytes(e).Cmp(big.NewInt(65537)) != 0 {
			return KeyPair{}, Errorf(CKR_TEMPLATE_INCONSISTENT, "only the public exponent 65537 is generated")
		}
		k, err := rsa.GenerateKey(rand.Reader, int(bits))
		if err != nil {
			return KeyPair{}, err
		}
		e := big.NewInt(int64(k.E)).Bytes()
		if given, ok := pub[CKA_PUBLIC_EXPONENT]; ok {
			e = bytes.Clone(given) // numerically 65537: keep the caller's encoding
		}
		return KeyPair{
			Public: Attrs{CKA_MODULUS: k.N.Bytes(), CKA_PUBLIC_EXPONENT: e},
			Private: Attrs{CKA_MODULUS: k.N.Bytes(), CKA_PUBLIC_EXPONENT: e, CKA_PRIVATE_EXPONENT: k.D.Bytes(),
				CKA_PRIME_1: k.Primes[0].Bytes(), CKA_PRIME_2: k.Primes[1].Bytes(),
				CKA_EXPONENT_1: k.Precomputed.Dp.Bytes(), CKA_EXPONENT_2: k.Precomputed.Dq.Bytes(),
				CKA_COEFFICIENT: k.Precomputed.Qinv.Bytes()},
		}, nil
	case CKM_EC_KEY_PAIR_GEN:
		params, ok := pub[CKA_EC_PARAMS]
		if !ok {
			return KeyPair{}, Errorf(CKR_TEMPLATE_INCOMPLETE, "no CKA_EC_PARAMS")
		}
		c, err := curveOf(params)
		if err != nil {
			return KeyPair{}, err
		}
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return KeyPair{}, err
		}
		d, q := ecKeyBytes(k)
		params = bytes.Clone(params)
		return KeyPair{
			Public:  Attrs{CKA_EC_PARAMS: params, CKA_EC_POINT: ECPointDER(q)},
			Private: Attrs{CKA_EC_PARAMS: params, CKA_VALUE: d, CKA_EC_POINT: ECPointDER(q)},
		}, nil
	case CKM_EC_EDWARDS_KEY_PAIR_GEN:
		params, ok := pub[CKA_EC_PARAMS]
		if !ok {
			return KeyPair{}, Errorf(CKR_TEMPLATE_INCOMPLETE, "no CKA_EC_PARAMS")
		}
		if !isEd25519Params(params) {
			return KeyPair{}, Errorf(CKR_CURVE_NOT_SUPPORTED, "only Ed25519 is generated")
		}
		pk, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return KeyPair{}, err
		}
		params = bytes.Clone(params)
		return KeyPair{
			Public:  Attrs{CKA_EC_PARAMS: params, CKA_EC_POINT: ECPointDER(pk)},
			Private: Attrs{CKA_EC_PARAMS: params, CKA_VALUE: sk.Seed(), CKA_EC_POINT: ECPointDER(pk)},
		}, nil
	}
	return KeyPair{}, ErrMechanismInvalid
}

// ecKeyBytes returns a fresh key's scalar and uncompressed point, as
// k.Bytes and k.PublicKey.Bytes encode them, from the fields GenerateKey
// filled in: those methods convert the key back into the FIPS module's form
// through a cache, 13 allocations and 9 % of a key pair's generation.
func ecKeyBytes(k *ecdsa.PrivateKey) (d, q []byte) {
	size := (k.Curve.Params().BitSize + 7) / 8
	d = k.D.FillBytes(make([]byte, size))
	q = make([]byte, 1+2*size)
	q[0] = 4
	k.X.FillBytes(q[1 : 1+size])
	k.Y.FillBytes(q[1+size:])
	return d, q
}

// CheckKeyAttrs checks a key object's material when it is created or
// unwrapped: the parts an operation would parse must parse. It does not
// enforce sizes (a 1024-bit RSA key may be stored; using it is refused).
// Problems are CKR_ATTRIBUTE_VALUE_INVALID. get looks an attribute up
// (the token's is slots.AttrSet.Get).
func CheckKeyAttrs(class, keyType uint64, get func(t uint64) ([]byte, bool)) error {
	val := func(t uint64) []byte { v, _ := get(t); return v }
	bad := func(what string) error { return Errorf(CKR_ATTRIBUTE_VALUE_INVALID, "%s", what) }
	switch keyType {
	case CKK_RSA:
		n := new(big.Int).SetBytes(val(CKA_MODULUS))
		if n.Sign() == 0 || n.Bit(0) == 0 {
			return bad("CKA_MODULUS must be a positive odd number")
		}
		if e, ok := get(CKA_PUBLIC_EXPONENT); ok || class == CKO_PUBLIC_KEY {
			if ev := new(big.Int).SetBytes(e); !ev.IsInt64() || ev.Int64() < 3 || ev.Int64()%2 == 0 {
				return bad("CKA_PUBLIC_EXPONENT must be an odd number from 3")
			}
		}
	case CKK_EC:
		c, err := curveOf(val(CKA_EC_PARAMS))
		if err != nil {
			return bad("CKA_EC_PARAMS names no supported curve (P-256, P-384, P-521)")
		}
		if class == CKO_PUBLIC_KEY {
			raw := ecPointRaw(val(CKA_EC_POINT), pointLen(c))
			if raw == nil {
				return bad("CKA_EC_POINT is not an uncompressed point of its curve")
			}
			if _, err := ecdsa.ParseUncompressedPublicKey(c, raw); err != nil {
				return bad("CKA_EC_POINT is not on its curve")
			}
		} else if _, err := ecPrivateOn(c, val(CKA_VALUE)); err != nil {
			return bad("CKA_VALUE is not a scalar of its curve")
		}
	case CKK_EC_EDWARDS:
		if !isEd25519Params(val(CKA_EC_PARAMS)) {
			return bad("CKA_EC_PARAMS: only Ed25519")
		}
		if class == CKO_PUBLIC_KEY {
			if ecPointRaw(val(CKA_EC_POINT), ed25519.PublicKeySize) == nil {
				return bad("Ed25519 CKA_EC_POINT must hold 32 bytes")
			}
		} else if len(val(CKA_VALUE)) != ed25519.SeedSize {
			return bad("Ed25519 CKA_VALUE must be 32 bytes")
		}
	}
	return nil
}
