package pkcs11

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

func ul(v uint64) []byte { return ck.ULong(v) }

func gcmMech(iv, aad []byte, tagBits uint64) ck.Mechanism {
	raw := make([]byte, 48)
	binary.NativeEndian.PutUint64(raw[8:], uint64(len(iv)))
	binary.NativeEndian.PutUint64(raw[16:], uint64(len(iv))*8)
	binary.NativeEndian.PutUint64(raw[32:], uint64(len(aad)))
	binary.NativeEndian.PutUint64(raw[40:], tagBits)
	return ck.Mechanism{Type: ck.CKM_AES_GCM, Param: raw, Bufs: [][]byte{iv, aad}}
}

func oaepMech(label []byte) ck.Mechanism {
	raw := make([]byte, 40)
	binary.NativeEndian.PutUint64(raw[0:], ck.CKM_SHA256)
	binary.NativeEndian.PutUint64(raw[8:], ck.CKG_MGF1_SHA256)
	binary.NativeEndian.PutUint64(raw[16:], ck.CKZ_DATA_SPECIFIED)
	binary.NativeEndian.PutUint64(raw[32:], uint64(len(label)))
	return ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP, Param: raw, Bufs: [][]byte{label}}
}

func loggedIn(t *testing.T) (*Module, uint64) {
	m, _ := readyModule(t)
	sh := open(t, m, true)
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	return m, sh
}

func encrypt(t *testing.T, m *Module, sh uint64, mech ck.Mechanism, key uint64, in []byte) []byte {
	t.Helper()
	must(t, m.EncryptInit(sh, mech, key))
	_, need, err := m.Encrypt(sh, in, -1)
	must(t, err)
	out, _, err := m.Encrypt(sh, in, int64(need))
	must(t, err)
	return out
}

func decrypt(t *testing.T, m *Module, sh uint64, mech ck.Mechanism, key uint64, in []byte) ([]byte, error) {
	t.Helper()
	must(t, m.DecryptInit(sh, mech, key))
	out, _, err := m.Decrypt(sh, in, 1<<20)
	return out, err
}

func TestAESModes(t *testing.T) {
	m, sh := loggedIn(t)
	key, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true)})
	must(t, err)
	if v, _ := getAttr(t, m, sh, key, ck.CKA_LOCAL); !bytes.Equal(v, []byte{1}) {
		t.Fatal("generated key not CKA_LOCAL")
	}
	if v, _ := getAttr(t, m, sh, key, ck.CKA_ALWAYS_SENSITIVE); !bytes.Equal(v, []byte{1}) {
		t.Fatal("generated sensitive key not CKA_ALWAYS_SENSITIVE")
	}
	msg := []byte("thirty-two bytes of plaintext!!!plus a tail")
	iv := bytes.Repeat([]byte{7}, 16)
	for _, mech := range []ck.Mechanism{
		{Type: ck.CKM_AES_CBC_PAD, Param: iv},
		gcmMech(bytes.Repeat([]byte{1}, 12), []byte("aad"), 128),
		{Type: ck.CKM_AES_KEY_WRAP_KWP},
	} {
		ct := encrypt(t, m, sh, mech, key, msg)
		pt, err := decrypt(t, m, sh, mech, key, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("%s: round trip %q %v", ck.MechName(mech.Type), pt, err)
		}
	}
	// CBC without padding: whole blocks only, in pieces.
	cbc := ck.Mechanism{Type: ck.CKM_AES_CBC, Param: iv}
	must(t, m.EncryptInit(sh, cbc, key))
	a, _, err := m.EncryptUpdate(sh, msg[:20], 64)
	must(t, err)
	b, _, err := m.EncryptUpdate(sh, msg[20:32], 64)
	must(t, err)
	_, _, err = m.Encrypt(sh, msg, 64)
	wantRV(t, err, ck.CKR_OPERATION_ACTIVE)
	c, _, err := m.EncryptFinal(sh, 64)
	must(t, err)
	whole := encrypt(t, m, sh, cbc, key, msg[:32])
	if got := append(append(a, b...), c...); !bytes.Equal(got, whole) {
		t.Fatal("multi-part CBC differs from single-part")
	}
	// Errors end the operation; a short buffer does not.
	must(t, m.EncryptInit(sh, cbc, key))
	_, need, err := m.Encrypt(sh, msg[:32], 4)
	wantRV(t, err, ck.CKR_BUFFER_TOO_SMALL)
	if need != 32 {
		t.Fatalf("need %d", need)
	}
	_, _, err = m.Encrypt(sh, msg[:31], 64)
	wantRV(t, err, ck.CKR_DATA_LEN_RANGE)
	_, _, err = m.Encrypt(sh, msg[:32], 64)
	wantRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
	// A tampered GCM ciphertext fails.
	g := gcmMech(bytes.Repeat([]byte{2}, 12), nil, 128)
	ct := encrypt(t, m, sh, g, key, msg)
	ct[0] ^= 1
	_, err = decrypt(t, m, sh, g, key, ct)
	wantRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	// Usage flags are enforced.
	nokey, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 16), attr(ck.CKA_ENCRYPT, false)})
	must(t, err)
	wantRV(t, m.EncryptInit(sh, cbc, nokey), ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
	wantRV(t, m.EncryptInit(sh, cbc, 0xdead), ck.CKR_KEY_HANDLE_INVALID)
	_, err = m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 20)})
	wantRV(t, err, ck.CKR_KEY_SIZE_RANGE)
}

func TestRSA(t *testing.T) {
	m, sh := loggedIn(t)
	_, _, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN}, ck.Template{attr(ck.CKA_MODULUS_BITS, 1024)}, nil)
	wantRV(t, err, ck.CKR_KEY_SIZE_RANGE)
	pub, priv, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
		ck.Template{attr(ck.CKA_MODULUS_BITS, 2048), attr(ck.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1})}, ck.Template{attr(ck.CKA_TOKEN, true)})
	must(t, err)
	msg := []byte("sign me")
	for _, mech := range []uint64{ck.CKM_SHA256_RSA_PKCS, ck.CKM_SHA384_RSA_PKCS} {
		must(t, m.SignInit(sh, ck.Mechanism{Type: mech}, priv))
		sig, _, err := m.Sign(sh, msg, 512)
		must(t, err)
		must(t, m.VerifyInit(sh, ck.Mechanism{Type: mech}, pub))
		must(t, m.Verify(sh, msg, sig))
		sig[5] ^= 1
		must(t, m.VerifyInit(sh, ck.Mechanism{Type: mech}, pub))
		wantRV(t, m.Verify(sh, msg, sig), ck.CKR_SIGNATURE_INVALID)
	}
	label := []byte("label")
	ct := encrypt(t, m, sh, oaepMech(label), pub, msg)
	pt, err := decrypt(t, m, sh, oaepMech(label), priv, ct)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("OAEP: %q %v", pt, err)
	}
	_, err = decrypt(t, m, sh, oaepMech([]byte("other")), priv, ct)
	wantRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	// Raw PKCS#1 v1.5 over a DigestInfo equals the hashed mechanism.
	d := sha256.Sum256(msg)
	di := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, d[:]...)
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, priv))
	raw, _, err := m.Sign(sh, di, 512)
	must(t, err)
	must(t, m.VerifyInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, pub))
	must(t, m.Verify(sh, msg, raw))
}

func TestECAndEdwards(t *testing.T) {
	m, sh := loggedIn(t)
	p256 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	pub, priv, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN}, ck.Template{attr(ck.CKA_EC_PARAMS, p256)}, ck.Template{attr(ck.CKA_DERIVE, true)})
	must(t, err)
	msg := []byte("hello")
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_ECDSA_SHA256}, priv))
	must(t, m.SignUpdate(sh, msg[:2]))
	must(t, m.SignUpdate(sh, msg[2:]))
	sig, _, err := m.SignFinal(sh, 64)
	must(t, err)
	if len(sig) != 64 {
		t.Fatalf("ECDSA signature of %d bytes", len(sig))
	}
	must(t, m.VerifyInit(sh, ck.Mechanism{Type: ck.CKM_ECDSA_SHA256}, pub))
	must(t, m.Verify(sh, msg, sig))
	// ECDH with our own public point gives the same secret both ways.
	point, _ := getAttr(t, m, sh, pub, ck.CKA_EC_POINT)
	raw := make([]byte, 40)
	binary.NativeEndian.PutUint64(raw[0:], ck.CKD_NULL)
	binary.NativeEndian.PutUint64(raw[24:], uint64(len(point)))
	derived, err := m.DeriveKey(sh, ck.Mechanism{Type: ck.CKM_ECDH1_DERIVE, Param: raw, Bufs: [][]byte{{}, point}}, priv,
		ck.Template{attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET), attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true)})
	must(t, err)
	if v, err := getAttr(t, m, sh, derived, ck.CKA_VALUE); err != nil || len(v) != 32 {
		t.Fatalf("ECDH secret %x %v", v, err)
	}
	ed := []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	epub, epriv, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_EC_EDWARDS_KEY_PAIR_GEN}, ck.Template{attr(ck.CKA_EC_PARAMS, ed)}, nil)
	must(t, err)
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_EDDSA}, epriv))
	esig, _, err := m.Sign(sh, msg, 64)
	must(t, err)
	must(t, m.VerifyInit(sh, ck.Mechanism{Type: ck.CKM_EDDSA}, epub))
	must(t, m.Verify(sh, msg, esig))
}

func TestDigestHMACWrapHKDF(t *testing.T) {
	m, sh := loggedIn(t)
	must(t, m.DigestInit(sh, ck.Mechanism{Type: ck.CKM_SHA256}))
	d, _, err := m.Digest(sh, []byte("abc"), 32)
	must(t, err)
	if want := sha256.Sum256([]byte("abc")); !bytes.Equal(d, want[:]) {
		t.Fatal("SHA-256")
	}
	hk, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_GENERIC_SECRET_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_DERIVE, true), attr(ck.CKA_EXTRACTABLE, true)})
	must(t, err)
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, hk))
	mac, _, err := m.Sign(sh, []byte("data"), 32)
	must(t, err)
	must(t, m.VerifyInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, hk))
	must(t, m.Verify(sh, []byte("data"), mac))
	// Wrap the HMAC key under an AES key with KWP, unwrap it, and check the
	// unwrapped copy makes the same MAC.
	kek, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32)})
	must(t, err)
	wrapped, _, err := m.WrapKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP_KWP}, kek, hk, 1024)
	must(t, err)
	uk, err := m.UnwrapKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP_KWP}, kek, wrapped,
		ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET)})
	must(t, err)
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, uk))
	mac2, _, err := m.Sign(sh, []byte("data"), 32)
	must(t, err)
	if !bytes.Equal(mac, mac2) {
		t.Fatal("unwrapped key differs")
	}
	// AES-GCM wrapping gives its pooled operation back: three wraps under
	// one KEK with different IVs, between GCM encryptions under it, each
	// unwrap to a key making the same MAC, and the encryptions match
	// crypto/cipher's.
	gk, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32),
		attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true)})
	must(t, err)
	gkv, _ := getAttr(t, m, sh, gk, ck.CKA_VALUE)
	block, err := aes.NewCipher(gkv)
	must(t, err)
	aead, err := cipher.NewGCM(block)
	must(t, err)
	for i := range 3 {
		iv := bytes.Repeat([]byte{byte(i + 1)}, 12)
		w, _, err := m.WrapKey(sh, gcmMech(iv, nil, 128), gk, hk, 1024)
		must(t, err)
		msg := []byte(fmt.Sprint("between wraps ", i))
		eiv := bytes.Repeat([]byte{byte(i + 0x40)}, 12)
		must(t, m.EncryptInit(sh, gcmMech(eiv, nil, 128), gk))
		ct, _, err := m.Encrypt(sh, msg, 1024)
		must(t, err)
		if want := aead.Seal(nil, eiv, msg, nil); !bytes.Equal(ct, want) {
			t.Fatalf("GCM encryption %d after a wrap: %x, want %x", i, ct, want)
		}
		uk, err := m.UnwrapKey(sh, gcmMech(iv, nil, 128), gk, w,
			ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET)})
		must(t, err)
		must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, uk))
		if mac3, _, err := m.Sign(sh, []byte("data"), 32); err != nil || !bytes.Equal(mac3, mac) {
			t.Fatalf("GCM wrap %d: the unwrapped key's MAC %x (%v), want %x", i, mac3, err, mac)
		}
	}
	// A non-extractable key cannot be wrapped.
	_, _, err = m.WrapKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP_KWP}, kek, kek, 1024)
	wantRV(t, err, ck.CKR_KEY_UNEXTRACTABLE)
	// HKDF to an AES key.
	raw := make([]byte, 64)
	raw[0], raw[1] = 1, 1
	binary.NativeEndian.PutUint64(raw[8:], ck.CKM_SHA256)
	binary.NativeEndian.PutUint64(raw[16:], ck.CKF_HKDF_SALT_NULL)
	binary.NativeEndian.PutUint64(raw[56:], 4)
	hm := ck.Mechanism{Type: ck.CKM_HKDF_DERIVE, Param: raw, Bufs: [][]byte{{}, []byte("info")}}
	ak, err := m.DeriveKey(sh, hm, hk, ck.Template{attr(ck.CKA_KEY_TYPE, ck.CKK_AES), attr(ck.CKA_VALUE_LEN, 16)})
	must(t, err)
	if v, _ := getAttr(t, m, sh, ak, ck.CKA_VALUE_LEN); !bytes.Equal(v, ul(16)) {
		t.Fatalf("derived length %x", v)
	}
	list, err := m.GetMechanismList(0)
	must(t, err)
	if len(list) < 30 {
		t.Fatalf("only %d mechanisms listed", len(list))
	}
}

// TestRSAMinimum: an imported RSA-1024 key is refused for every operation
// with CKR_MECHANISM_INVALID (SPEC §4), on sign, verify, encrypt and decrypt.
func TestRSAMinimum(t *testing.T) {
	m, sh := loggedIn(t)
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	k.Precompute()
	e := big.NewInt(int64(k.E)).Bytes()
	priv, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
		attr(ck.CKA_MODULUS, k.N.Bytes()), attr(ck.CKA_PUBLIC_EXPONENT, e), attr(ck.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
		attr(ck.CKA_PRIME_1, k.Primes[0].Bytes()), attr(ck.CKA_PRIME_2, k.Primes[1].Bytes())})
	must(t, err)
	pub, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
		attr(ck.CKA_MODULUS, k.N.Bytes()), attr(ck.CKA_PUBLIC_EXPONENT, e)})
	must(t, err)
	mech := ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	wantRV(t, m.SignInit(sh, mech, priv), ck.CKR_MECHANISM_INVALID)
	wantRV(t, m.VerifyInit(sh, mech, pub), ck.CKR_MECHANISM_INVALID)
	wantRV(t, m.EncryptInit(sh, oaepMech(nil), pub), ck.CKR_MECHANISM_INVALID)
	wantRV(t, m.DecryptInit(sh, oaepMech(nil), priv), ck.CKR_MECHANISM_INVALID)
	// And a failed Init leaves no operation behind.
	_, _, err = m.Sign(sh, []byte("x"), 512)
	wantRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
}

// TestGeneratedKeyIsNotZero guards against a generated value being wiped
// or shared: an extractable generated AES key reads back non-zero and
// encrypts as Go's AES does with that value.
func TestGeneratedKeyIsNotZero(t *testing.T) {
	m, sh := loggedIn(t)
	h, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 16), attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true)})
	must(t, err)
	v, err := getAttr(t, m, sh, h, ck.CKA_VALUE)
	must(t, err)
	if len(v) != 16 || bytes.Equal(v, make([]byte, 16)) {
		t.Fatalf("generated key value %x", v)
	}
	blk, _ := aes.NewCipher(v)
	want := make([]byte, 16)
	blk.Encrypt(want, []byte("0123456789abcdef"))
	if got := encrypt(t, m, sh, ck.Mechanism{Type: ck.CKM_AES_ECB}, h, []byte("0123456789abcdef")); !bytes.Equal(got, want) {
		t.Fatalf("token AES-ECB %x, Go's %x", got, want)
	}
}

// TestGenerateKeyPairLeavesTemplateIntact: C_GenerateKeyPair wipes the
// private values it generated, never the caller's template (a key pair
// shares CKA_EC_PARAMS and CKA_PUBLIC_EXPONENT with it): the same template
// serves a second time.
func TestGenerateKeyPairLeavesTemplateIntact(t *testing.T) {
	m, sh := loggedIn(t)
	ecParams := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	exp := []byte{1, 0, 1}
	for range 2 {
		if _, _, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
			ck.Template{attr(ck.CKA_EC_PARAMS, ecParams)}, ck.Template{attr(ck.CKA_SIGN, true)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
			ck.Template{attr(ck.CKA_MODULUS_BITS, 2048), attr(ck.CKA_PUBLIC_EXPONENT, exp)}, ck.Template{attr(ck.CKA_SIGN, true)}); err != nil {
			t.Fatal(err)
		}
	}
	if ecParams[0] != 0x06 || exp[0] != 1 {
		t.Fatalf("the caller's template was wiped: %x %x", ecParams, exp)
	}
}
