package backend

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// One RSA-2048 pair, generated once through the backend and shared by the
// tests that need an RSA private key (keygen under -race is slow).
var katRSA struct {
	once sync.Once
	kp   KeyPair
	err  error
}

func katRSAKeyPair(t testing.TB) KeyPair {
	t.Helper()
	katRSA.once.Do(func() {
		katRSA.kp, katRSA.err = NewDefault(Options{}).GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN,
			Attrs{CKA_MODULUS_BITS: ULong(2048), CKA_PUBLIC_EXPONENT: {1, 0, 1}})
	})
	if katRSA.err != nil {
		t.Fatalf("RSA-2048 key generation: %v", katRSA.err)
	}
	return katRSA.kp
}

// katRSAPrivateKey builds the crypto/rsa key of private key attributes, to
// build test inputs.
func katRSAPrivateKey(t testing.TB, a Attrs) *rsa.PrivateKey {
	t.Helper()
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(a[CKA_MODULUS]), E: int(new(big.Int).SetBytes(a[CKA_PUBLIC_EXPONENT]).Int64())},
		D:         new(big.Int).SetBytes(a[CKA_PRIVATE_EXPONENT]),
		Primes:    []*big.Int{new(big.Int).SetBytes(a[CKA_PRIME_1]), new(big.Int).SetBytes(a[CKA_PRIME_2])},
	}
	if err := k.Validate(); err != nil {
		t.Fatalf("private key attributes do not make an RSA key: %v", err)
	}
	k.Precompute()
	return k
}

// katUnwrapPoint takes CKA_EC_POINT apart: it must be exactly one DER
// OCTET STRING (PKCS#11 3.0 §2.3.3, "DER-encoding of ANSI X9.62 ECPoint
// value Q").
func katUnwrapPoint(t testing.TB, der []byte) []byte {
	t.Helper()
	var raw []byte
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil || len(rest) != 0 {
		t.Fatalf("CKA_EC_POINT %x is not one DER OCTET STRING: %v", der, err)
	}
	return raw
}

// Generated key pairs: their public attributes are the standard encodings
// (checked with crypto/x509 and encoding/asn1), the private attributes
// match them, signatures made with one verify with the other through the
// backend, and PKCS#8 export and import (MarshalPrivateKey,
// ParsePrivateKey) round-trip.
func TestKATKeyPairGeneration(t *testing.T) {
	b := NewDefault(Options{})
	msg := []byte("Craton key generation")

	t.Run("RSA-2048", func(t *testing.T) {
		kp := katRSAKeyPair(t)
		n := new(big.Int).SetBytes(kp.Public[CKA_MODULUS])
		if n.BitLen() != 2048 {
			t.Errorf("modulus of %d bits", n.BitLen())
		}
		if !bytes.Equal(kp.Public[CKA_PUBLIC_EXPONENT], []byte{1, 0, 1}) {
			t.Errorf("public exponent %x", kp.Public[CKA_PUBLIC_EXPONENT])
		}
		pub := &rsa.PublicKey{N: n, E: 65537}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := x509.ParsePKIXPublicKey(der); err != nil || !back.(*rsa.PublicKey).Equal(pub) {
			t.Errorf("SubjectPublicKeyInfo round trip: %v", err)
		}
		priv := katRSAPrivateKey(t, kp.Private)
		if !priv.PublicKey.Equal(pub) {
			t.Error("private and public attributes name different keys")
		}
		for a, want := range map[uint64]*big.Int{CKA_EXPONENT_1: priv.Precomputed.Dp, CKA_EXPONENT_2: priv.Precomputed.Dq, CKA_COEFFICIENT: priv.Precomputed.Qinv} {
			if !bytes.Equal(kp.Private[a], want.Bytes()) {
				t.Errorf("%s = %x, want %x", AttrName(a), kp.Private[a], want.Bytes())
			}
		}
		for _, m := range []Mechanism{
			{Type: CKM_SHA256_RSA_PKCS}, {Type: CKM_SHA512_RSA_PKCS},
			katPSS(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
			katPSS(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
		} {
			katSignVerifyRoundTrip(t, b, m, CKK_RSA, kp, msg)
		}
		ct, err := katCrypt(b, katOAEP(CKM_SHA256, CKG_MGF1_SHA256, []byte("label")), CKK_RSA, kp.Public, ForEncrypt, msg)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := katCrypt(b, katOAEP(CKM_SHA256, CKG_MGF1_SHA256, []byte("label")), CKK_RSA, kp.Private, ForDecrypt, ct); err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("OAEP round trip = %q, %v", pt, err)
		}
		_, err = katCrypt(b, katOAEP(CKM_SHA256, CKG_MGF1_SHA256, []byte("other")), CKK_RSA, kp.Private, ForDecrypt, ct)
		katWantRV(t, "OAEP with another label", err, CKR_ENCRYPTED_DATA_INVALID)
		katPKCS8RoundTrip(t, b, CKK_RSA, kp, Mechanism{Type: CKM_SHA256_RSA_PKCS})
	})

	for _, c := range []struct {
		name   string
		params []byte
		oid    asn1.ObjectIdentifier
		curve  elliptic.Curve
		ecdh   ecdh.Curve
		mechs  []uint64
	}{
		{"P-256", katP256, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, elliptic.P256(), ecdh.P256(), []uint64{CKM_ECDSA_SHA256, CKM_ECDSA_SHA384}},
		{"P-384", katP384, asn1.ObjectIdentifier{1, 3, 132, 0, 34}, elliptic.P384(), ecdh.P384(), []uint64{CKM_ECDSA_SHA384, CKM_ECDSA_SHA512}},
		{"P-521", katP521, asn1.ObjectIdentifier{1, 3, 132, 0, 35}, elliptic.P521(), ecdh.P521(), []uint64{CKM_ECDSA_SHA512, CKM_ECDSA_SHA256}},
	} {
		t.Run(c.name, func(t *testing.T) {
			kp, err := b.GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: c.params})
			if err != nil {
				t.Fatal(err)
			}
			var oid asn1.ObjectIdentifier
			if rest, err := asn1.Unmarshal(kp.Public[CKA_EC_PARAMS], &oid); err != nil || len(rest) != 0 || !oid.Equal(c.oid) {
				t.Errorf("CKA_EC_PARAMS %x is not the OID %v: %v", kp.Public[CKA_EC_PARAMS], c.oid, err)
			}
			raw := katUnwrapPoint(t, kp.Public[CKA_EC_POINT])
			size := (c.curve.Params().BitSize + 7) / 8
			if len(raw) != 1+2*size || raw[0] != 4 {
				t.Fatalf("EC point %x is not uncompressed", raw)
			}
			if _, err := c.ecdh.NewPublicKey(raw); err != nil {
				t.Errorf("EC point not on the curve: %v", err)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, raw)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := x509.ParsePKIXPublicKey(der); err != nil || !back.(*ecdsa.PublicKey).Equal(pub) {
				t.Errorf("SubjectPublicKeyInfo round trip: %v", err)
			}
			if len(kp.Private[CKA_VALUE]) != size {
				t.Errorf("CKA_VALUE of %d bytes, want %d", len(kp.Private[CKA_VALUE]), size)
			}
			priv, err := ecdsa.ParseRawPrivateKey(c.curve, kp.Private[CKA_VALUE])
			if err != nil || !priv.PublicKey.Equal(pub) {
				t.Errorf("CKA_VALUE does not belong to CKA_EC_POINT: %v", err)
			}
			for _, m := range c.mechs {
				katSignVerifyRoundTrip(t, b, Mechanism{Type: m}, CKK_EC, kp, msg)
			}
			// ECDH with itself: both sides agree.
			z, err := b.Derive(DeriveInput{Mech: katECDH(raw), BaseType: CKK_EC, Base: kp.Private})
			if err != nil || len(z) != size {
				t.Errorf("ECDH with its own point: %x, %v", z, err)
			}
			katPKCS8RoundTrip(t, b, CKK_EC, kp, Mechanism{Type: c.mechs[0]})
		})
	}

	for _, params := range [][]byte{katEd25519, append([]byte{0x13, 0x0c}, "edwards25519"...)} {
		t.Run("Ed25519", func(t *testing.T) {
			kp, err := b.GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: params})
			if err != nil {
				t.Fatal(err)
			}
			raw := katUnwrapPoint(t, kp.Public[CKA_EC_POINT])
			if len(raw) != ed25519.PublicKeySize {
				t.Fatalf("Ed25519 point of %d bytes", len(raw))
			}
			der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(raw))
			if err != nil {
				t.Fatal(err)
			}
			if back, err := x509.ParsePKIXPublicKey(der); err != nil || !bytes.Equal(back.(ed25519.PublicKey), raw) {
				t.Errorf("SubjectPublicKeyInfo round trip: %v", err)
			}
			if len(kp.Private[CKA_VALUE]) != ed25519.SeedSize ||
				!bytes.Equal(ed25519.NewKeyFromSeed(kp.Private[CKA_VALUE]).Public().(ed25519.PublicKey), raw) {
				t.Error("CKA_VALUE is not the seed of CKA_EC_POINT")
			}
			katSignVerifyRoundTrip(t, b, Mechanism{Type: CKM_EDDSA}, CKK_EC_EDWARDS, kp, msg)
			katPKCS8RoundTrip(t, b, CKK_EC_EDWARDS, kp, Mechanism{Type: CKM_EDDSA})
		})
	}
}

// katSignVerifyRoundTrip signs with the private half and verifies with
// the public half, single- and multi-part, and checks a changed message
// or signature fails.
func katSignVerifyRoundTrip(t *testing.T, b *Backend, m Mechanism, kt uint64, kp KeyPair, msg []byte) {
	t.Helper()
	sig, err := katSign(b, m, kt, kp.Private, msg)
	if err != nil {
		t.Fatalf("%s sign: %v", MechName(m.Type), err)
	}
	if err := katVerify(b, m, kt, kp.Public, msg, sig); err != nil {
		t.Errorf("%s verify: %v", MechName(m.Type), err)
	}
	v, err := b.NewVerifier(m, kt, kp.Public)
	if err != nil {
		t.Fatal(err)
	}
	for i := range msg {
		if err := v.Update(msg[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(sig); err != nil {
		t.Errorf("%s multi-part verify: %v", MechName(m.Type), err)
	}
	katWantRV(t, MechName(m.Type)+" other message", katVerify(b, m, kt, kp.Public, append(bytes.Clone(msg), '!'), sig), CKR_SIGNATURE_INVALID)
	bad := bytes.Clone(sig)
	bad[len(bad)/2] ^= 1
	katWantRV(t, MechName(m.Type)+" changed signature", katVerify(b, m, kt, kp.Public, msg, bad), CKR_SIGNATURE_INVALID)
	katWantRV(t, MechName(m.Type)+" short signature", katVerify(b, m, kt, kp.Public, msg, sig[1:]), CKR_SIGNATURE_LEN_RANGE, CKR_SIGNATURE_INVALID)
}

// katPKCS8RoundTrip exports the private key as PKCS#8, checks crypto/x509
// reads it, imports it again, and checks the attributes come back and
// still sign for the original public key.
func katPKCS8RoundTrip(t *testing.T, b *Backend, kt uint64, kp KeyPair, m Mechanism) {
	t.Helper()
	der, err := MarshalPrivateKey(kt, kp.Private)
	if err != nil {
		t.Fatalf("MarshalPrivateKey: %v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("crypto/x509 cannot read the PKCS#8: %v", err)
	}
	switch k.(type) {
	case *rsa.PrivateKey:
		if kt != CKK_RSA {
			t.Errorf("PKCS#8 holds an RSA key")
		}
	case *ecdsa.PrivateKey:
		if kt != CKK_EC {
			t.Errorf("PKCS#8 holds an EC key")
		}
	case ed25519.PrivateKey:
		if kt != CKK_EC_EDWARDS {
			t.Errorf("PKCS#8 holds an Ed25519 key")
		}
	default:
		t.Errorf("PKCS#8 holds a %T", k)
	}
	back, err := ParsePrivateKey(der, kt)
	if err != nil {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	for a, v := range kp.Private {
		if a == CKA_EC_PARAMS && kt == CKK_EC_EDWARDS {
			// PKCS#8 names Ed25519 by OID; the PrintableString form
			// comes back as the OID.
			if !bytes.Equal(back[a], katEd25519) {
				t.Errorf("Ed25519 CKA_EC_PARAMS came back as %x", back[a])
			}
			continue
		}
		if !bytes.Equal(back[a], v) {
			t.Errorf("%s: %x after the round trip, was %x", AttrName(a), back[a], v)
		}
	}
	katSignVerifyRoundTrip(t, b, m, kt, KeyPair{Public: kp.Public, Private: back}, []byte("after PKCS#8"))
	for _, other := range []uint64{CKK_RSA, CKK_EC, CKK_EC_EDWARDS} {
		if other != kt {
			_, err := ParsePrivateKey(der, other)
			katWantRV(t, "PKCS#8 parsed as "+KeyTypeName(other), err, CKR_TEMPLATE_INCONSISTENT)
		}
	}
	_, err = ParsePrivateKey(der[:len(der)-1], kt)
	katWantRV(t, "truncated PKCS#8", err, CKR_WRAPPED_KEY_INVALID)
}

// Key generation refusals and secret keys.
func TestKATKeyGenerationLimits(t *testing.T) {
	b := NewDefault(Options{})
	rsaGen := func(a Attrs) error { _, err := b.GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN, a); return err }
	katWantRV(t, "RSA-1024", rsaGen(Attrs{CKA_MODULUS_BITS: ULong(1024)}), CKR_KEY_SIZE_RANGE)
	katWantRV(t, "RSA-2047", rsaGen(Attrs{CKA_MODULUS_BITS: ULong(2047)}), CKR_KEY_SIZE_RANGE)
	katWantRV(t, "RSA-8192", rsaGen(Attrs{CKA_MODULUS_BITS: ULong(8192)}), CKR_KEY_SIZE_RANGE)
	katWantRV(t, "RSA without CKA_MODULUS_BITS", rsaGen(Attrs{}), CKR_TEMPLATE_INCOMPLETE)
	katWantRV(t, "RSA with e=3", rsaGen(Attrs{CKA_MODULUS_BITS: ULong(2048), CKA_PUBLIC_EXPONENT: {3}}), CKR_TEMPLATE_INCONSISTENT)
	_, err := b.GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21}}) // secp224r1
	katWantRV(t, "P-224", err, CKR_CURVE_NOT_SUPPORTED)
	_, err = b.GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Attrs{})
	katWantRV(t, "EC without CKA_EC_PARAMS", err, CKR_TEMPLATE_INCOMPLETE)
	_, err = b.GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: []byte{0x06, 0x03, 0x2b, 0x65, 0x71}}) // Ed448
	katWantRV(t, "Ed448", err, CKR_CURVE_NOT_SUPPORTED)
	_, err = b.GenerateKeyPair(CKM_AES_KEY_GEN, Attrs{})
	katWantRV(t, "key pair from CKM_AES_KEY_GEN", err, CKR_MECHANISM_INVALID)

	for _, n := range []uint64{16, 24, 32} {
		k, err := b.GenerateKey(CKM_AES_KEY_GEN, n)
		if err != nil || len(k) != int(n) {
			t.Errorf("AES key of %d bytes: %d, %v", n, len(k), err)
		}
	}
	for _, n := range []uint64{0, 8, 20, 33, 64} {
		_, err := b.GenerateKey(CKM_AES_KEY_GEN, n)
		katWantRV(t, "AES key length", err, CKR_KEY_SIZE_RANGE)
	}
	for _, m := range []uint64{CKM_GENERIC_SECRET_KEY_GEN, CKM_HKDF_KEY_GEN} {
		for _, n := range []uint64{1, 32, 4096} {
			if k, err := b.GenerateKey(m, n); err != nil || len(k) != int(n) {
				t.Errorf("%s of %d bytes: %d, %v", MechName(m), n, len(k), err)
			}
		}
		_, err := b.GenerateKey(m, 4097)
		katWantRV(t, MechName(m)+" too long", err, CKR_KEY_SIZE_RANGE)
	}
	a, _ := b.GenerateKey(CKM_AES_KEY_GEN, 32)
	c, _ := b.GenerateKey(CKM_AES_KEY_GEN, 32)
	if bytes.Equal(a, c) {
		t.Error("two generated AES keys are equal")
	}
	_, err = b.GenerateKey(CKM_SHA256, 32)
	katWantRV(t, "GenerateKey with a digest mechanism", err, CKR_MECHANISM_INVALID)
	_, err = MarshalPrivateKey(CKK_AES, Attrs{CKA_VALUE: a})
	katWantRV(t, "PKCS#8 of an AES key", err, CKR_KEY_NOT_WRAPPABLE)
}

// TestECKeyBytes: the scalar and point of a generated key, written from its
// fields, are byte for byte what the key's own Bytes methods give, on every
// curve Craton generates (leading zero bytes included: 300 keys a curve make
// a short scalar or coordinate likely).
func TestECKeyBytes(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		short := 0
		for range 300 {
			k, err := ecdsa.GenerateKey(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, q := ecKeyBytes(k)
			wantD, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			wantQ, err := k.PublicKey.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d, wantD) || !bytes.Equal(q, wantQ) {
				t.Fatalf("%s: ecKeyBytes = %x, %x; Bytes = %x, %x", c.Params().Name, d, q, wantD, wantQ)
			}
			if d[0] == 0 || q[1] == 0 {
				short++
			}
		}
		if short == 0 {
			t.Logf("%s: no key with a leading zero byte in 300", c.Params().Name)
		}
	}
}

// TestECPointDER: the hand-written OCTET STRING is asn1.Marshal's, on
// every length class (short form, 0x81 and 0x82 long forms).
func TestECPointDER(t *testing.T) {
	for _, n := range []int{0, 1, 33, 65, 97, 127, 128, 133, 255, 256, 1000} {
		raw := bytes.Repeat([]byte{0xa5}, n)
		want, err := asn1.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := ECPointDER(raw); !bytes.Equal(got, want) {
			t.Errorf("ECPointDER of %d bytes = %x, want %x", n, got, want)
		}
	}
}

// TestCheckKeyAttrsECPrivate: an EC private key's CKA_VALUE must be a
// scalar of its curve (a short one, leading zeros stripped by the client,
// is padded); zero and the group order are refused, as is an unknown curve.
func TestCheckKeyAttrsECPrivate(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := ecKeyBytes(k)
	check := func(params, value []byte) error {
		a := Attrs{CKA_EC_PARAMS: params, CKA_VALUE: value}
		return CheckKeyAttrs(CKO_PRIVATE_KEY, CKK_EC, func(t uint64) ([]byte, bool) { v, ok := a[t]; return v, ok })
	}
	if err := check(oidP256, d); err != nil {
		t.Errorf("a generated P-256 scalar: %v", err)
	}
	if err := check(oidP256, []byte{7}); err != nil {
		t.Errorf("a one-byte scalar (leading zeros stripped): %v", err)
	}
	order := elliptic.P256().Params().N.Bytes()
	for name, c := range map[string]struct{ params, value []byte }{
		"zero":          {oidP256, make([]byte, 32)},
		"the order":     {oidP256, order},
		"too long":      {oidP256, append([]byte{1}, d...)},
		"unknown curve": {[]byte{0x06, 0x01, 0x00}, d},
	} {
		katWantRV(t, name, check(c.params, c.value), CKR_ATTRIBUTE_VALUE_INVALID)
	}
}
