package backend

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

var katCurves = map[string]struct {
	params []byte
	size   int // field (and scalar) bytes
}{
	"secp256r1": {katP256, 32},
	"secp384r1": {katP384, 48},
	"secp521r1": {katP521, 66},
}

// Wycheproof ECDSA verification with IEEE P1363 signatures (r || s, each
// the size of the group order: PKCS#11's ECDSA signature format), through
// CKM_ECDSA_SHA* and through CKM_ECDSA over the digest. The public key is
// CKA_EC_PARAMS (the named curve's OID) and CKA_EC_POINT (the DER OCTET
// STRING around the uncompressed point).
func TestKATWycheproofECDSAVerify(t *testing.T) {
	t.Parallel()
	b := NewDefault(Options{})
	for _, file := range []string{
		"ecdsa_secp256r1_sha256_p1363_test.json",
		"ecdsa_secp256r1_sha512_p1363_test.json",
		"ecdsa_secp384r1_sha384_p1363_test.json",
		"ecdsa_secp521r1_sha512_p1363_test.json",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			katRunECDSA(t, b, file)
		})
	}
}

func katRunECDSA(t *testing.T, b *Backend, file string) {
	var f struct {
		katWycheproofHeader
		TestGroups []struct {
			SHA       string `json:"sha"`
			PublicKey struct {
				Curve        string `json:"curve"`
				Uncompressed string `json:"uncompressed"`
			} `json:"publicKey"`
			Tests []katSigTest `json:"tests"`
		} `json:"testGroups"`
	}
	h := katLoadWycheproof(t, file, &f)
	var k katTally
	for _, g := range f.TestGroups {
		hs, ok := katHashes[g.SHA]
		curve, ok2 := katCurves[g.PublicKey.Curve]
		if !ok || !ok2 {
			t.Fatalf("%s: %s on %s", file, g.SHA, g.PublicKey.Curve)
		}
		pub := Attrs{CKA_EC_PARAMS: curve.params, CKA_EC_POINT: ECPointDER(katHex(t, g.PublicKey.Uncompressed))}
		for _, tc := range g.Tests {
			k.ran(tc.Result)
			msg, sig := katHex(t, tc.Msg), katHex(t, tc.Sig)
			err := katVerify(b, Mechanism{Type: hs.ecdsa}, CKK_EC, pub, msg, sig)
			katCheckVerify(t, MechName(hs.ecdsa), tc, err, false)
			// CKM_ECDSA over the digest: the P-256 files (the other curves
			// share the code path and would double a slow run under -race).
			if b.allowedOps(CKM_ECDSA) != 0 && g.PublicKey.Curve == "secp256r1" {
				err = katVerify(b, Mechanism{Type: CKM_ECDSA}, CKK_EC, pub, hs.sum(msg), sig)
				katCheckVerify(t, "CKM_ECDSA(digest)", tc, err, false)
			}
		}
	}
	// The raw point (no OCTET STRING) is accepted as CKA_EC_POINT too.
	if g := f.TestGroups[0]; len(g.Tests) > 0 {
		raw := Attrs{CKA_EC_PARAMS: katCurves[g.PublicKey.Curve].params, CKA_EC_POINT: katHex(t, g.PublicKey.Uncompressed)}
		tc := g.Tests[0]
		err := katVerify(b, Mechanism{Type: katHashes[g.SHA].ecdsa}, CKK_EC, raw, katHex(t, tc.Msg), katHex(t, tc.Sig))
		katCheckVerify(t, "raw CKA_EC_POINT", tc, err, false)
	}
	k.check(t, file, h, 0)
}

// Wycheproof ECDH with the peer's public key as an encoded point
// (ecdh_*_ecpoint_test.json), through CKM_ECDH1_DERIVE with CKD_NULL: the
// private scalar is CKA_VALUE beside CKA_EC_PARAMS, the peer's point is the
// raw ECDH public data. valid: the derived value is the shared secret Z;
// invalid: an error. The one "acceptable" case per file is a compressed
// public point: Craton takes uncompressed points only (its mechanism info
// says CKF_EC_UNCOMPRESS, not CKF_EC_COMPRESS) and refuses it.
func TestKATWycheproofECDH(t *testing.T) {
	t.Parallel()
	b := NewDefault(Options{})
	for _, file := range []string{
		"ecdh_secp256r1_ecpoint_test.json",
		"ecdh_secp384r1_ecpoint_test.json",
		"ecdh_secp521r1_ecpoint_test.json",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			katRunECDH(t, b, file)
		})
	}
}

func katRunECDH(t *testing.T, b *Backend, file string) {
	var f struct {
		katWycheproofHeader
		TestGroups []struct {
			Curve string `json:"curve"`
			Tests []struct {
				TcID    int      `json:"tcId"`
				Comment string   `json:"comment"`
				Flags   []string `json:"flags"`
				Public  string   `json:"public"`
				Private string   `json:"private"`
				Shared  string   `json:"shared"`
				Result  string   `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	h := katLoadWycheproof(t, file, &f)
	var k katTally
	checkedDER := false
	for _, g := range f.TestGroups {
		curve, ok := katCurves[g.Curve]
		if !ok {
			t.Fatalf("%s: curve %s", file, g.Curve)
		}
		for _, tc := range g.Tests {
			k.ran(tc.Result)
			name := fmt.Sprintf("tcId %d (%s %v)", tc.TcID, tc.Comment, tc.Flags)
			priv := Attrs{CKA_EC_PARAMS: curve.params, CKA_VALUE: katFixed(katHex(t, tc.Private), curve.size)}
			pub := katHex(t, tc.Public)
			z, err := b.Derive(DeriveInput{Mech: katECDH(pub), BaseType: CKK_EC, Base: priv})
			if tc.Result != "valid" {
				if err == nil {
					t.Errorf("%s (%s): derived %x", name, tc.Result, z)
				} else {
					katWantRV(t, name, err, CKR_MECHANISM_PARAM_INVALID)
				}
				continue
			}
			shared := katHex(t, tc.Shared)
			if err != nil || !bytes.Equal(z, shared) {
				t.Errorf("%s: Z = %x, %v; want %x", name, z, err, shared)
				continue
			}
			if !checkedDER {
				checkedDER = true
				// The public data DER-wrapped gives the same secret, and a
				// CKA_VALUE_LEN shorter than Z takes its leading bytes.
				z, err = b.Derive(DeriveInput{Mech: katECDH(ECPointDER(pub)), BaseType: CKK_EC, Base: priv})
				if err != nil || !bytes.Equal(z, shared) {
					t.Errorf("%s: DER public data: Z = %x, %v", name, z, err)
				}
				z, err = b.Derive(DeriveInput{Mech: katECDH(pub), BaseType: CKK_EC, Base: priv, Len: 16})
				if err != nil || !bytes.Equal(z, shared[:16]) {
					t.Errorf("%s: 16 bytes of Z = %x, %v", name, z, err)
				}
				_, err = b.Derive(DeriveInput{Mech: katECDH(pub), BaseType: CKK_EC, Base: priv, Len: len(shared) + 1})
				katWantRV(t, name+": longer than Z", err, CKR_TEMPLATE_INCONSISTENT)
			}
		}
	}
	if !checkedDER {
		t.Errorf("%s: no valid case", file)
	}
	k.check(t, file, h, 0)
}

// Wycheproof Ed25519 verification through CKM_EDDSA (no parameter: pure
// Ed25519). CKA_EC_PARAMS names the curve by OID; PKCS#11 3.0's
// PrintableString "edwards25519" is checked on the first case.
func TestKATWycheproofEd25519(t *testing.T) {
	katRunEd25519(t, NewDefault(Options{}))
}

func katRunEd25519(t *testing.T, b *Backend) {
	const file = "ed25519_test.json"
	var f struct {
		katWycheproofHeader
		TestGroups []struct {
			PublicKey struct {
				Curve string `json:"curve"`
				PK    string `json:"pk"`
			} `json:"publicKey"`
			Tests []katSigTest `json:"tests"`
		} `json:"testGroups"`
	}
	h := katLoadWycheproof(t, file, &f)
	var k katTally
	printable := append([]byte{0x13, 0x0c}, "edwards25519"...)
	for gi, g := range f.TestGroups {
		pk := katHex(t, g.PublicKey.PK)
		pub := Attrs{CKA_EC_PARAMS: katEd25519, CKA_EC_POINT: ECPointDER(pk)}
		for i, tc := range g.Tests {
			k.ran(tc.Result)
			msg, sig := katHex(t, tc.Msg), katHex(t, tc.Sig)
			err := katVerify(b, Mechanism{Type: CKM_EDDSA}, CKK_EC_EDWARDS, pub, msg, sig)
			katCheckVerify(t, "CKM_EDDSA", tc, err, false)
			if gi == 0 && i == 0 {
				for _, alt := range []Attrs{
					{CKA_EC_PARAMS: printable, CKA_EC_POINT: ECPointDER(pk)},
					{CKA_EC_PARAMS: katEd25519, CKA_EC_POINT: pk},
				} {
					err := katVerify(b, Mechanism{Type: CKM_EDDSA}, CKK_EC_EDWARDS, alt, msg, sig)
					katCheckVerify(t, "CKM_EDDSA (other encodings)", tc, err, false)
				}
			}
		}
	}
	k.check(t, file, h, 0)
}

// FIPS mode: the same ECDSA, ECDH and Ed25519 answers (the P-256 files,
// with ECDSA over a digest, which AllowPrehashedSign admits; the other
// curves share the code path, and are slow under -race).
func TestKATFIPSEC(t *testing.T) {
	t.Parallel()
	fb := katFIPSBackend(t, Options{AllowPrehashedSign: true})
	if fb == nil {
		return
	}
	t.Run("ecdsa_secp256r1_sha256_p1363_test.json", func(t *testing.T) { katRunECDSA(t, fb, "ecdsa_secp256r1_sha256_p1363_test.json") })
	t.Run("ecdh_secp256r1_ecpoint_test.json", func(t *testing.T) { katRunECDH(t, fb, "ecdh_secp256r1_ecpoint_test.json") })
	t.Run("ed25519_test.json", func(t *testing.T) { katRunEd25519(t, fb) })
}

// TestECDSASHA1AgainstGo: CKM_ECDSA_SHA1 (what pkcs11-tool --test-ec signs
// with; refused in FIPS mode, as all SHA-1) against Go's crypto/ecdsa over a
// SHA-1 digest, both ways, on P-256 and P-384: a token signature (r || s)
// verifies there and a Go signature verifies here, and a changed message
// fails both.
func TestECDSASHA1AgainstGo(t *testing.T) {
	t.Parallel()
	b := NewDefault(Options{})
	msg := []byte("pkcs11-tool --test-ec signs this with CKM_ECDSA_SHA1")
	for _, c := range []struct {
		params []byte
		curve  elliptic.Curve
	}{{katP256, elliptic.P256()}, {katP384, elliptic.P384()}} {
		kp, err := b.GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: c.params})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, katUnwrapPoint(t, kp.Public[CKA_EC_POINT]))
		if err != nil {
			t.Fatal(err)
		}
		size := (c.curve.Params().BitSize + 7) / 8
		digest := sha1.Sum(msg)
		sig, err := katSign(b, Mechanism{Type: CKM_ECDSA_SHA1}, CKK_EC, kp.Private, msg)
		if err != nil || len(sig) != 2*size {
			t.Fatalf("%s: sign: %d bytes, %v", c.curve.Params().Name, len(sig), err)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			t.Errorf("%s: Go does not verify the token's ECDSA-SHA1 signature", c.curve.Params().Name)
		}
		priv, err := ecdsa.ParseRawPrivateKey(c.curve, kp.Private[CKA_VALUE])
		if err != nil {
			t.Fatal(err)
		}
		gr, gs, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		gsig := append(gr.FillBytes(make([]byte, size)), gs.FillBytes(make([]byte, size))...)
		if err := katVerify(b, Mechanism{Type: CKM_ECDSA_SHA1}, CKK_EC, kp.Public, msg, gsig); err != nil {
			t.Errorf("%s: the token does not verify Go's ECDSA-SHA1 signature: %v", c.curve.Params().Name, err)
		}
		if err := katVerify(b, Mechanism{Type: CKM_ECDSA_SHA1}, CKK_EC, kp.Public, append(msg, '!'), gsig); !errors.Is(err, CKR_SIGNATURE_INVALID) {
			t.Errorf("%s: a changed message: %v, want CKR_SIGNATURE_INVALID", c.curve.Params().Name, err)
		}
	}
}

// TestECDSADERConversion: the hand-written DER of r || s is asn1.Marshal's,
// and reading it back gives r || s, for every curve size and for the edge
// values (leading zero bytes, the high bit set, 1, the largest); malformed
// DER is refused.
func TestECDSADERConversion(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for _, size := range []int{32, 48, 66} {
		edge := [][]byte{
			append(make([]byte, size-1), 1),
			bytes.Repeat([]byte{0xff}, size),
			append([]byte{0x80}, make([]byte, size-1)...),
			append([]byte{0, 0x7f}, bytes.Repeat([]byte{0xff}, size-2)...),
			append([]byte{0, 0, 0x80}, bytes.Repeat([]byte{1}, size-3)...),
		}
		for i := range 200 {
			raw := make([]byte, 2*size)
			for j := range raw {
				raw[j] = byte(r.Uint32())
			}
			if i < len(edge)*len(edge) {
				copy(raw[:size], edge[i%len(edge)])
				copy(raw[size:], edge[i/len(edge)])
			}
			if size == 66 { // P-521: 521 bits
				raw[0] &= 1
				raw[size] &= 1
			}
			if new(big.Int).SetBytes(raw[:size]).Sign() == 0 || new(big.Int).SetBytes(raw[size:]).Sign() == 0 {
				continue // never a signature
			}
			want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:size]), new(big.Int).SetBytes(raw[size:])})
			if err != nil {
				t.Fatal(err)
			}
			der := ecdsaDERFromRaw(raw, size)
			if !bytes.Equal(der, want) {
				t.Fatalf("size %d: DER of %x = %x, asn1 gives %x", size, raw, der, want)
			}
			back, err := ecdsaRawFromDER(der, size)
			if err != nil || !bytes.Equal(back, raw) {
				t.Fatalf("size %d: back from %x = %x, %v; want %x", size, der, back, err, raw)
			}
		}
	}
	good := ecdsaDERFromRaw(append(make([]byte, 31), 5, 0x80, 0x01), 32)
	for name, der := range map[string][]byte{
		"empty":          {},
		"not a sequence": append([]byte{0x31}, good[1:]...),
		"trailing byte":  append(append([]byte{}, good...), 0),
		"cut short":      good[:len(good)-1],
		"one integer":    {0x30, 0x03, 0x02, 0x01, 0x05},
		"negative r":     {0x30, 0x06, 0x02, 0x01, 0x85, 0x02, 0x01, 0x05},
		"r too long":     append([]byte{0x30, 0x27, 0x02, 0x22, 0x01}, append(make([]byte, 33), 0x02, 0x01, 0x05)...),
		"indefinite":     {0x30, 0x80, 0x02, 0x01, 0x05, 0x02, 0x01, 0x05, 0, 0},
	} {
		if _, err := ecdsaRawFromDER(der, 32); err == nil {
			t.Errorf("%s: %x accepted", name, der)
		}
	}
}
