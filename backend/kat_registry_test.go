package backend

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// The registry tests: every mechanism a backend lists is usable for every
// operation its CK_MECHANISM_INFO flags claim (each operation is
// constructed with a suitable key and parameters and run once, with a
// round trip where there is one), and every operation it does not claim
// is refused with CKR_MECHANISM_INVALID. The FIPS backend lists a strict
// subset, short of exactly the mechanisms SPEC §4 refuses.

var katOps = []uint64{CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_SIGN, CKF_VERIFY, CKF_GENERATE,
	CKF_GENERATE_KEY_PAIR, CKF_WRAP, CKF_UNWRAP, CKF_DERIVE}

const katAllOps = CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY | CKF_GENERATE |
	CKF_GENERATE_KEY_PAIR | CKF_WRAP | CKF_UNWRAP | CKF_DERIVE

func katOpName(op uint64) string {
	return map[uint64]string{CKF_ENCRYPT: "encrypt", CKF_DECRYPT: "decrypt", CKF_DIGEST: "digest", CKF_SIGN: "sign",
		CKF_VERIFY: "verify", CKF_GENERATE: "generate", CKF_GENERATE_KEY_PAIR: "generate key pair", CKF_WRAP: "wrap",
		CKF_UNWRAP: "unwrap", CKF_DERIVE: "derive"}[op]
}

type katRegistryKeys struct {
	aes, secret Attrs
	rsa, ec, ed KeyPair
}

func katKeysForRegistry(t *testing.T) katRegistryKeys {
	ref := NewDefault(Options{})
	ec, err := ref.GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: katP256})
	if err != nil {
		t.Fatal(err)
	}
	ed, err := ref.GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Attrs{CKA_EC_PARAMS: katEd25519})
	if err != nil {
		t.Fatal(err)
	}
	return katRegistryKeys{
		aes:    Attrs{CKA_VALUE: bytes.Repeat([]byte{0x42}, 32)},
		secret: Attrs{CKA_VALUE: bytes.Repeat([]byte{0x5a}, 32)},
		rsa:    katRSAKeyPair(t), ec: ec, ed: ed,
	}
}

// katMechFor gives mech the parameters the registry test uses.
func katMechFor(mech uint64) Mechanism {
	iv := []byte("0123456789abcdef")
	switch mech {
	case CKM_AES_CBC, CKM_AES_CBC_PAD:
		return Mechanism{Type: mech, Param: iv}
	case CKM_AES_CTR:
		return katCTR(iv, 128)
	case CKM_AES_GCM:
		return katGCM(iv[:12], []byte("aad"), 128)
	case CKM_RSA_PKCS_OAEP:
		return katOAEP(CKM_SHA256, CKG_MGF1_SHA256, []byte("label"))
	case CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS:
		return katPSS(mech, CKM_SHA256, CKG_MGF1_SHA256, 32)
	case CKM_SHA384_RSA_PKCS_PSS:
		return katPSS(mech, CKM_SHA384, CKG_MGF1_SHA384, 48)
	case CKM_SHA512_RSA_PKCS_PSS:
		return katPSS(mech, CKM_SHA512, CKG_MGF1_SHA512, 64)
	case CKM_HKDF_DERIVE, CKM_HKDF_DATA:
		return katHKDF(mech, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, []byte("info"))
	}
	return Mechanism{Type: mech}
}

// katKeyFor picks the key for mech: the private (or secret) one for
// decrypt, unwrap, sign and derive, the public one otherwise.
func katKeyFor(keys katRegistryKeys, keyType uint64, private bool) Attrs {
	pick := func(kp KeyPair) Attrs {
		if private {
			return kp.Private
		}
		return kp.Public
	}
	switch keyType {
	case CKK_AES:
		return keys.aes
	case CKK_RSA:
		return pick(keys.rsa)
	case CKK_EC:
		return pick(keys.ec)
	case CKK_EC_EDWARDS:
		return pick(keys.ed)
	}
	return keys.secret
}

// katSignInput is data a signature mechanism accepts: a message, or for
// the prehashed mechanisms a SHA-256 digest (in a DigestInfo for raw
// CKM_RSA_PKCS, the form FIPS mode signs).
func katSignInput(t testing.TB, mech uint64) []byte {
	d := sha256.Sum256([]byte("registry"))
	switch mech {
	case CKM_ECDSA, CKM_RSA_PKCS_PSS:
		return d[:]
	case CKM_RSA_PKCS:
		return katDigestInfo(t, katHashes["SHA-256"].h, d[:])
	}
	return []byte("registry")
}

// katUse performs op with mech on b once. The reference backend (non-FIPS)
// makes inputs that need a key's other half (ciphertexts to decrypt,
// signatures to verify) and checks round trips.
func katUse(t *testing.T, b *Backend, mech, op uint64, keys katRegistryKeys) error {
	ref := NewDefault(Options{})
	m := katMechFor(mech)
	keyType := mechanisms[mech].keyType
	msg := []byte("0123456789abcdefFEDCBA9876543210") // 32 bytes: whole AES blocks, whole KW semiblocks
	switch op {
	case CKF_ENCRYPT, CKF_WRAP:
		purpose := uint64(ForEncrypt)
		if op == CKF_WRAP {
			purpose = ForWrap
		}
		c, err := b.NewCipher(m, keyType, katKeyFor(keys, keyType, false), purpose)
		if err != nil {
			return err
		}
		ct, err := katRunCipher(c, msg, nil)
		if err != nil {
			return err
		}
		dm := m
		if src, ok := c.(IVSource); ok && src.GeneratedIV() != nil {
			dm = katGCM(src.GeneratedIV(), []byte("aad"), 128)
		}
		pt, err := katCrypt(ref, dm, keyType, katKeyFor(keys, keyType, true), ForDecrypt, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			return fmt.Errorf("round trip through the reference backend: %x, %v", pt, err)
		}
		return nil
	case CKF_DECRYPT, CKF_UNWRAP:
		purpose := uint64(ForDecrypt)
		if op == CKF_UNWRAP {
			purpose = ForUnwrap
		}
		ct, err := katCrypt(ref, m, keyType, katKeyFor(keys, keyType, false), ForEncrypt, msg)
		if err != nil {
			ct = make([]byte, 256) // the reference cannot encrypt with mech: b must refuse anyway
		}
		c, err := b.NewCipher(m, keyType, katKeyFor(keys, keyType, true), purpose)
		if err != nil {
			return err
		}
		pt, err := katRunCipher(c, ct, nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(pt, msg) {
			return fmt.Errorf("decrypted %x, want %x", pt, msg)
		}
		return nil
	case CKF_DIGEST:
		h, err := b.NewDigest(m)
		if err != nil {
			return err
		}
		h.Write(msg)
		if len(h.Sum(nil)) == 0 {
			return fmt.Errorf("empty digest")
		}
		return nil
	case CKF_SIGN:
		sig, err := katSign(b, m, keyType, katKeyFor(keys, keyType, true), katSignInput(t, mech))
		if err != nil {
			return err
		}
		if err := katVerify(ref, m, keyType, katKeyFor(keys, keyType, false), katSignInput(t, mech), sig); err != nil {
			return fmt.Errorf("the reference backend does not verify the signature: %v", err)
		}
		return nil
	case CKF_VERIFY:
		sig, err := katSign(ref, m, keyType, katKeyFor(keys, keyType, true), katSignInput(t, mech))
		if err != nil {
			sig = make([]byte, 64)
		}
		return katVerify(b, m, keyType, katKeyFor(keys, keyType, false), katSignInput(t, mech), sig)
	case CKF_GENERATE:
		k, err := b.GenerateKey(mech, 32)
		if err == nil && len(k) != 32 {
			return fmt.Errorf("generated %d bytes", len(k))
		}
		return err
	case CKF_GENERATE_KEY_PAIR:
		var tmpl Attrs
		switch mech {
		case CKM_RSA_PKCS_KEY_PAIR_GEN:
			tmpl = Attrs{CKA_MODULUS_BITS: ULong(2048)}
		case CKM_EC_KEY_PAIR_GEN:
			tmpl = Attrs{CKA_EC_PARAMS: katP256}
		default:
			tmpl = Attrs{CKA_EC_PARAMS: katEd25519}
		}
		_, err := b.GenerateKeyPair(mech, tmpl)
		return err
	case CKF_DERIVE:
		in := DeriveInput{Mech: m, BaseType: keyType, Base: katKeyFor(keys, keyType, true), Len: 32}
		if mech == CKM_ECDH1_DERIVE {
			in.Mech = katECDH(keys.ec.Public[CKA_EC_POINT])
		}
		if keyType == CKK_EC || keyType == CKK_RSA || keyType == CKK_EC_EDWARDS {
			in.Len = 0
		}
		v, err := b.Derive(in)
		if err == nil && len(v) != 32 {
			return fmt.Errorf("derived %d bytes", len(v))
		}
		return err
	}
	return fmt.Errorf("no such operation %#x", op)
}

// katCheckRegistry checks b's list against its own flags: listed
// operations work, others are CKR_MECHANISM_INVALID; unlisted mechanisms
// of the table refuse everything.
func katCheckRegistry(t *testing.T, b *Backend, keys katRegistryKeys) {
	listed := b.Mechanisms()
	if !slices.IsSorted(listed) {
		t.Errorf("Mechanisms() is not sorted")
	}
	for _, mech := range slices.Sorted(maps.Keys(mechanisms)) {
		info, err := b.Info(mech)
		if !slices.Contains(listed, mech) {
			katWantRV(t, "Info of unlisted "+MechName(mech), err, CKR_MECHANISM_INVALID)
			for _, op := range katOps {
				katWantRV(t, fmt.Sprintf("%s %s (unlisted)", MechName(mech), katOpName(op)), katUse(t, b, mech, op, keys), CKR_MECHANISM_INVALID)
			}
			continue
		}
		if err != nil {
			t.Errorf("Info(%s): %v", MechName(mech), err)
			continue
		}
		if info.Flags&katAllOps == 0 {
			t.Errorf("%s is listed with no operation", MechName(mech))
		}
		if info.MinKeySize > info.MaxKeySize {
			t.Errorf("%s: key sizes %d..%d", MechName(mech), info.MinKeySize, info.MaxKeySize)
		}
		for _, op := range katOps {
			err := katUse(t, b, mech, op, keys)
			if info.Flags&op != 0 {
				if err != nil {
					t.Errorf("%s is listed for %s but: %v", MechName(mech), katOpName(op), err)
				}
			} else {
				katWantRV(t, fmt.Sprintf("%s %s (not in its flags %#x)", MechName(mech), katOpName(op), info.Flags), err, CKR_MECHANISM_INVALID)
			}
		}
	}
	for _, mech := range []uint64{CKM_MD5, CKM_AES_CMAC, CKM_SHA224, CKM_DES3_CBC, CKM_ECDH1_COFACTOR_DERIVE} {
		if _, err := b.Info(mech); err == nil || slices.Contains(listed, mech) {
			t.Errorf("%s is not in the table but is listed", MechName(mech))
		}
	}
}

func TestKATRegistry(t *testing.T) {
	keys := katKeysForRegistry(t)
	b := NewDefault(Options{})
	// The non-FIPS backend lists the whole table, each row with its ops.
	if got, want := b.Mechanisms(), slices.Sorted(maps.Keys(mechanisms)); !slices.Equal(got, want) {
		t.Errorf("NewDefault lists %v, the table has %v", got, want)
	}
	for _, mech := range b.Mechanisms() {
		if info, _ := b.Info(mech); info.Flags&katAllOps != mechanisms[mech].ops {
			t.Errorf("%s: flags %#x, table ops %#x", MechName(mech), info.Flags&katAllOps, mechanisms[mech].ops)
		}
	}
	katCheckRegistry(t, b, keys)
	// AllowPrehashedSign changes nothing outside FIPS mode.
	if got := NewDefault(Options{AllowPrehashedSign: true}).Mechanisms(); !slices.Equal(got, b.Mechanisms()) {
		t.Errorf("AllowPrehashedSign changed the non-FIPS list")
	}
}

// katFIPSRefused is what SPEC §4 says FIPS mode refuses among Craton's
// mechanisms: SHA-1 everywhere, AES key wrap (KW, KWP), and, unless
// Options.AllowPrehashedSign, the prehashed CKM_ECDSA, CKM_RSA_PKCS and
// CKM_RSA_PKCS_PSS. With the option, CKM_RSA_PKCS is listed for sign and
// verify only: RSA PKCS#1 v1.5 encryption stays refused.
var katFIPSRefused = []uint64{CKM_SHA_1, CKM_SHA_1_HMAC, CKM_SHA1_RSA_PKCS, CKM_ECDSA_SHA1, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP}

func TestKATFIPSRegistry(t *testing.T) {
	t.Parallel()
	fb := katFIPSBackend(t, Options{})
	if fb == nil {
		return
	}
	keys := katKeysForRegistry(t)
	def := NewDefault(Options{})
	fbp, err := NewFIPS(Options{AllowPrehashedSign: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		b       *Backend
		refused []uint64
	}{
		{"default", fb, append(slices.Clone(katFIPSRefused), CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS)},
		{"AllowPrehashedSign", fbp, katFIPSRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			list := c.b.Mechanisms()
			var refused []uint64
			for _, m := range def.Mechanisms() {
				if !slices.Contains(list, m) {
					refused = append(refused, m)
				}
			}
			for _, m := range list {
				if !slices.Contains(def.Mechanisms(), m) {
					t.Errorf("FIPS lists %s, which the non-FIPS backend does not", MechName(m))
				}
			}
			if len(list) >= len(def.Mechanisms()) {
				t.Errorf("the FIPS list (%d) is not a strict subset of the non-FIPS list (%d)", len(list), len(def.Mechanisms()))
			}
			slices.Sort(c.refused)
			if !slices.Equal(refused, c.refused) {
				var got, want []string
				for _, m := range refused {
					got = append(got, MechName(m))
				}
				for _, m := range c.refused {
					want = append(want, MechName(m))
				}
				t.Errorf("FIPS refuses %v, SPEC §4 names %v", got, want)
			}
			for _, m := range list {
				fi, _ := c.b.Info(m)
				di, _ := def.Info(m)
				want := di.Flags
				if m == CKM_RSA_PKCS {
					want &^= CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP
				}
				if fi.Flags != want {
					t.Errorf("FIPS %s flags %#x, want %#x", MechName(m), fi.Flags, want)
				}
			}
			katCheckRegistry(t, c.b, keys)
		})
	}
}
