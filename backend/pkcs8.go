package backend

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"math/big"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// MarshalPrivateKey encodes a private key object's material as PKCS#8 DER,
// the form C_WrapKey wraps private keys in.
func MarshalPrivateKey(keyType uint64, a Attrs) ([]byte, error) {
	var k any
	var err error
	switch keyType {
	case CKK_RSA:
		k, err = rsaPrivate(a)
	case CKK_EC:
		k, err = ecPrivate(a)
	case CKK_EC_EDWARDS:
		k, err = edPrivate(a)
	default:
		return nil, Errorf(CKR_KEY_NOT_WRAPPABLE, "%s keys cannot be wrapped", KeyTypeName(keyType))
	}
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

// ParsePrivateKey decodes PKCS#8 DER into a private key object's attributes
// (C_UnwrapKey); wantType is the CKA_KEY_TYPE the template names.
func ParsePrivateKey(der []byte, wantType uint64) (Attrs, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, Errorf(CKR_WRAPPED_KEY_INVALID, "not a PKCS#8 private key")
	}
	bad := Errorf(CKR_TEMPLATE_INCONSISTENT, "unwrapped key is not a %s key", KeyTypeName(wantType))
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if wantType != CKK_RSA || len(k.Primes) != 2 {
			return nil, bad
		}
		k.Precompute()
		return Attrs{CKA_MODULUS: k.N.Bytes(), CKA_PUBLIC_EXPONENT: big.NewInt(int64(k.E)).Bytes(),
			CKA_PRIVATE_EXPONENT: k.D.Bytes(), CKA_PRIME_1: k.Primes[0].Bytes(), CKA_PRIME_2: k.Primes[1].Bytes(),
			CKA_EXPONENT_1: k.Precomputed.Dp.Bytes(), CKA_EXPONENT_2: k.Precomputed.Dq.Bytes(),
			CKA_COEFFICIENT: k.Precomputed.Qinv.Bytes()}, nil
	case *ecdsa.PrivateKey:
		if wantType != CKK_EC {
			return nil, bad
		}
		var params []byte
		switch k.Curve {
		case elliptic.P256():
			params = oidP256
		case elliptic.P384():
			params = oidP384
		case elliptic.P521():
			params = oidP521
		default:
			return nil, Errorf(CKR_CURVE_NOT_SUPPORTED, "unwrapped EC key on an unsupported curve")
		}
		d, _ := k.Bytes()
		q, _ := k.PublicKey.Bytes()
		return Attrs{CKA_EC_PARAMS: params, CKA_VALUE: d, CKA_EC_POINT: ECPointDER(q)}, nil
	case ed25519.PrivateKey:
		if wantType != CKK_EC_EDWARDS {
			return nil, bad
		}
		return Attrs{CKA_EC_PARAMS: oidEd25519, CKA_VALUE: k.Seed(), CKA_EC_POINT: ECPointDER(k.Public().(ed25519.PublicKey))}, nil
	}
	return nil, Errorf(CKR_WRAPPED_KEY_INVALID, "unsupported PKCS#8 key")
}
