//go:build integration

package integration

// The whole mechanism suite through the real library, in the mode named by
// CRATON_MODE: "default" (the plain build), "fips" (the `make fips` build),
// or "fips-only" (the `make fips` build with GODEBUG=fips140=only, where
// Go's module panics on any non-approved call: a panic would show as a
// "recovered panic" log line and CKR_GENERAL_ERROR). Every mechanism the
// default build lists is exercised; in the FIPS modes the refused ones must
// be absent from C_GetMechanismList and answer CKR_MECHANISM_INVALID, and
// the list of what is refused is checked exactly. `make test` runs all
// three.

import (
	"bytes"
	"crypto/sha256"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
)

// Mechanisms Craton lists in the default build.
var defaultMechs = []uint{
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKM_RSA_PKCS, pkcs11.CKM_SHA1_RSA_PKCS, pkcs11.CKM_RSA_PKCS_OAEP,
	pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKM_SHA256_RSA_PKCS, pkcs11.CKM_SHA384_RSA_PKCS, pkcs11.CKM_SHA512_RSA_PKCS,
	pkcs11.CKM_SHA256_RSA_PKCS_PSS, pkcs11.CKM_SHA384_RSA_PKCS_PSS, pkcs11.CKM_SHA512_RSA_PKCS_PSS,
	pkcs11.CKM_SHA_1, pkcs11.CKM_SHA_1_HMAC, pkcs11.CKM_SHA256, pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384,
	pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512, pkcs11.CKM_SHA512_HMAC, pkcs11.CKM_GENERIC_SECRET_KEY_GEN,
	pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_ECDSA, pkcs11.CKM_ECDSA_SHA1, pkcs11.CKM_ECDSA_SHA256, pkcs11.CKM_ECDSA_SHA384,
	pkcs11.CKM_ECDSA_SHA512, pkcs11.CKM_ECDH1_DERIVE, ckmEdwardsGen, ckmEdDSA, pkcs11.CKM_AES_KEY_GEN,
	pkcs11.CKM_AES_ECB, pkcs11.CKM_AES_CBC, pkcs11.CKM_AES_CBC_PAD, pkcs11.CKM_AES_CTR, pkcs11.CKM_AES_GCM,
	pkcs11.CKM_AES_KEY_WRAP, ckmAESKWP, ckmHKDFDerive, ckmHKDFData, ckmHKDFKeyGen,
}

// PKCS#11 3.0 values miekg/pkcs11 (2.40) lacks.
const (
	ckmEdwardsGen = 0x1055
	ckmEdDSA      = 0x1057
	ckmHKDFDerive = 0x402a
	ckmHKDFData   = 0x402b
	ckmHKDFKeyGen = 0x402c
	ckmAESKWP     = 0x210b
	ckkEdwards    = 0x40
)

// Refused in FIPS mode, always; and the prehashed signatures, refused
// unless fips.allow_prehashed_sign.
var (
	fipsRefused = []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA1_RSA_PKCS, pkcs11.CKM_ECDSA_SHA1, pkcs11.CKM_SHA_1_HMAC, pkcs11.CKM_AES_KEY_WRAP, ckmAESKWP}
	prehashed   = []uint{pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKM_ECDSA}
)

type suiteKeys struct {
	aes, hmac, hkdf                pkcs11.ObjectHandle
	rsaPub, rsaPriv, ecPub, ecPriv pkcs11.ObjectHandle
	edPub, edPriv                  pkcs11.ObjectHandle
}

var (
	oidP256    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
)

func TestMechanismSuite(t *testing.T) {
	mode := os.Getenv("CRATON_MODE")
	if mode == "" {
		mode = "default"
	}
	fips := mode == "fips" || mode == "fips-only"
	if mode == "fips-only" && !strings.Contains(os.Getenv("GODEBUG"), "fips140=only") {
		t.Fatal("CRATON_MODE=fips-only needs GODEBUG=fips140=only in the environment")
	}
	for _, allow := range []bool{false, true} {
		if allow && !fips {
			continue
		}
		name := "strict"
		if allow {
			name = "allow_prehashed_sign"
		}
		t.Run(mode+"/"+name, func(t *testing.T) { runSuite(t, fips, allow) })
	}
}

func runSuite(t *testing.T, fips, allowPrehashed bool) {
	e := newTokenEnv(t)
	if allowPrehashed {
		f, err := os.OpenFile(e.conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("[fips]\nallow_prehashed_sign = true\n")
		f.Close()
	}
	p := e.open(t)
	slot := firstSlot(t, p)
	prepareToken(t, p, slot)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)

	refused := map[uint]bool{}
	if fips {
		for _, m := range fipsRefused {
			refused[m] = true
		}
		if !allowPrehashed {
			for _, m := range prehashed {
				refused[m] = true
			}
		}
	}
	list, err := p.GetMechanismList(slot)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []uint
	for _, m := range list {
		got = append(got, m.Mechanism)
	}
	for _, m := range defaultMechs {
		if !refused[m] {
			want = append(want, m)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("C_GetMechanismList:\n got %#x\nwant %#x", got, want)
	}

	k := makeSuiteKeys(t, p, sh, refused)
	exercised := 0
	for _, m := range defaultMechs {
		err := exercise(t, p, sh, k, m, fips)
		switch {
		case refused[m]:
			if !isRV(err, pkcs11.CKR_MECHANISM_INVALID) {
				t.Errorf("mechanism %#x in FIPS mode: got %v, want CKR_MECHANISM_INVALID", m, err)
			}
		case err != nil:
			t.Errorf("mechanism %#x: %v", m, err)
		default:
			exercised++
		}
	}
	if fips {
		// RSA PKCS#1 v1.5 encryption stays refused even when the prehashed
		// signatures are allowed.
		err := p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, k.rsaPub)
		if !isRV(err, pkcs11.CKR_MECHANISM_INVALID) {
			t.Errorf("FIPS RSA PKCS#1 v1.5 encryption: %v", err)
		}
	}
	t.Logf("%d mechanisms exercised, %d refused", exercised, len(refused))
	if log, _ := os.ReadFile(e.log); bytes.Contains(log, []byte("recovered panic")) {
		t.Fatalf("the module recovered a panic:\n%s", log)
	}
}

func makeSuiteKeys(t *testing.T, p *pkcs11.Ctx, sh pkcs11.SessionHandle, refused map[uint]bool) suiteKeys {
	t.Helper()
	var k suiteKeys
	var err error
	gen := func(mech uint, tmpl ...*pkcs11.Attribute) pkcs11.ObjectHandle {
		h, err := p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, tmpl)
		if err != nil {
			t.Fatalf("C_GenerateKey(%#x): %v", mech, err)
		}
		return h
	}
	k.aes = gen(pkcs11.CKM_AES_KEY_GEN, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32))
	k.hmac = gen(pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32), pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true))
	k.hkdf = gen(ckmHKDFKeyGen, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32), pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true))
	pair := func(mech uint, pub []*pkcs11.Attribute, priv ...*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle) {
		a, b, err := p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pub, priv)
		if err != nil {
			t.Fatalf("C_GenerateKeyPair(%#x): %v", mech, err)
		}
		return a, b
	}
	k.rsaPub, k.rsaPriv = pair(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048)})
	k.ecPub, k.ecPriv = pair(pkcs11.CKM_EC_KEY_PAIR_GEN, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256)}, pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true))
	k.edPub, k.edPriv = pair(ckmEdwardsGen, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519)})
	_ = err
	return k
}

// exercise runs mech's main operations once and checks the result; it
// returns the first error (the Init's, for a refused mechanism).
func exercise(t *testing.T, p *pkcs11.Ctx, sh pkcs11.SessionHandle, k suiteKeys, mech uint, fips bool) error {
	t.Helper()
	msg := []byte("The quick brown fox jumps over the lazy dog, twice!")
	m := func(param any) []*pkcs11.Mechanism { return []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, param)} }
	roundTrip := func(mm []*pkcs11.Mechanism, enc, dec pkcs11.ObjectHandle, pt []byte, again func() []*pkcs11.Mechanism) error {
		if err := p.EncryptInit(sh, mm, enc); err != nil {
			return err
		}
		ct, err := p.Encrypt(sh, pt)
		if err != nil {
			return err
		}
		dm := mm
		if again != nil {
			dm = again()
		}
		if err := p.DecryptInit(sh, dm, dec); err != nil {
			return err
		}
		back, err := p.Decrypt(sh, ct)
		if err != nil {
			return err
		}
		if !bytes.Equal(back, pt) {
			t.Errorf("mechanism %#x: decryption gave %x, want %x", mech, back, pt)
		}
		return nil
	}
	signVerify := func(mm []*pkcs11.Mechanism, priv, pub pkcs11.ObjectHandle, data []byte) error {
		if err := p.SignInit(sh, mm, priv); err != nil {
			return err
		}
		sig, err := p.Sign(sh, data)
		if err != nil {
			return err
		}
		if err := p.VerifyInit(sh, mm, pub); err != nil {
			return err
		}
		if err := p.Verify(sh, data, sig); err != nil {
			return err
		}
		sig[len(sig)-1] ^= 1
		if err := p.VerifyInit(sh, mm, pub); err != nil {
			return err
		}
		if err := p.Verify(sh, data, sig); !isRV(err, pkcs11.CKR_SIGNATURE_INVALID) {
			t.Errorf("mechanism %#x: a changed signature verified: %v", mech, err)
		}
		return nil
	}
	digest := sha256.Sum256(msg)
	iv := bytes.Repeat([]byte{0x42}, 16)
	switch mech {
	case pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, ckmHKDFKeyGen:
		_, err := p.GenerateKey(sh, m(nil), []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 16)})
		return err
	case pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKM_EC_KEY_PAIR_GEN, ckmEdwardsGen:
		return nil // made the suite's keys
	case pkcs11.CKM_AES_ECB, pkcs11.CKM_AES_CBC:
		var param any
		if mech == pkcs11.CKM_AES_CBC {
			param = iv
		}
		return roundTrip(m(param), k.aes, k.aes, msg[:48], nil)
	case pkcs11.CKM_AES_CBC_PAD:
		return roundTrip(m(iv), k.aes, k.aes, msg, nil)
	case pkcs11.CKM_AES_CTR:
		ctr := make([]byte, 24)
		ctr[0] = 128
		copy(ctr[8:], iv)
		return roundTrip(m(ctr), k.aes, k.aes, msg, nil)
	case pkcs11.CKM_AES_GCM:
		return gcmRoundTrip(t, p, sh, k.aes, msg, fips)
	case pkcs11.CKM_AES_KEY_WRAP, ckmAESKWP:
		return roundTrip(m(nil), k.aes, k.aes, msg[:32], nil)
	case pkcs11.CKM_RSA_PKCS:
		if fips {
			// Prehashed signing only, over a SHA-2 DigestInfo.
			di := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, digest[:]...)
			return signVerify(m(nil), k.rsaPriv, k.rsaPub, di)
		}
		if err := roundTrip(m(nil), k.rsaPub, k.rsaPriv, msg, nil); err != nil {
			return err
		}
		return signVerify(m(nil), k.rsaPriv, k.rsaPub, msg)
	case pkcs11.CKM_RSA_PKCS_OAEP:
		mk := func() []*pkcs11.Mechanism {
			return m(pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, []byte("label")))
		}
		return roundTrip(mk(), k.rsaPub, k.rsaPriv, msg, mk)
	case pkcs11.CKM_RSA_PKCS_PSS:
		return signVerify(m(pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32)), k.rsaPriv, k.rsaPub, digest[:])
	case pkcs11.CKM_SHA256_RSA_PKCS_PSS:
		return signVerify(m(pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32)), k.rsaPriv, k.rsaPub, msg)
	case pkcs11.CKM_SHA384_RSA_PKCS_PSS:
		return signVerify(m(pkcs11.NewPSSParams(pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, 48)), k.rsaPriv, k.rsaPub, msg)
	case pkcs11.CKM_SHA512_RSA_PKCS_PSS:
		return signVerify(m(pkcs11.NewPSSParams(pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, 64)), k.rsaPriv, k.rsaPub, msg)
	case pkcs11.CKM_SHA1_RSA_PKCS, pkcs11.CKM_SHA256_RSA_PKCS, pkcs11.CKM_SHA384_RSA_PKCS, pkcs11.CKM_SHA512_RSA_PKCS:
		return signVerify(m(nil), k.rsaPriv, k.rsaPub, msg)
	case pkcs11.CKM_ECDSA:
		return signVerify(m(nil), k.ecPriv, k.ecPub, digest[:])
	case pkcs11.CKM_ECDSA_SHA1, pkcs11.CKM_ECDSA_SHA256, pkcs11.CKM_ECDSA_SHA384, pkcs11.CKM_ECDSA_SHA512:
		return signVerify(m(nil), k.ecPriv, k.ecPub, msg)
	case ckmEdDSA:
		return signVerify(m(nil), k.edPriv, k.edPub, msg)
	case pkcs11.CKM_SHA_1_HMAC, pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512_HMAC:
		return signVerify(m(nil), k.hmac, k.hmac, msg)
	case pkcs11.CKM_SHA_1, pkcs11.CKM_SHA256, pkcs11.CKM_SHA384, pkcs11.CKM_SHA512:
		if err := p.DigestInit(sh, m(nil)); err != nil {
			return err
		}
		d, err := p.Digest(sh, msg)
		if err == nil && mech == pkcs11.CKM_SHA256 && !bytes.Equal(d, digest[:]) {
			t.Errorf("SHA-256 through the token differs")
		}
		return err
	case pkcs11.CKM_ECDH1_DERIVE:
		point, err := attr(p, sh, k.ecPub, pkcs11.CKA_EC_POINT)
		if err != nil {
			return err
		}
		params := pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, point)
		_, err = p.DeriveKey(sh, m(params), k.ecPriv, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)})
		return err
	case ckmHKDFDerive, ckmHKDFData:
		param := hkdfParams(pkcs11.CKM_SHA256, []byte("salt-salt-salt"), []byte("info"))
		tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)}
		if mech == ckmHKDFDerive {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES))
		}
		_, err := p.DeriveKey(sh, m(param), k.hkdf, tmpl)
		return err
	}
	t.Errorf("mechanism %#x has no exercise", mech)
	return nil
}

// hkdfParams lays out CK_HKDF_PARAMS (64 bytes on LP64) with its buffers in
// C memory owned by the mechanism (miekg/pkcs11 copies a []byte parameter;
// pointers inside it must point at memory that outlives the call).
func hkdfParams(hash uint, salt, info []byte) []byte {
	return hkdfParamBytes(hash, salt, info)
}

// gcmRoundTrip encrypts with AES-GCM and decrypts. In FIPS mode the token
// chooses the IV and writes it into the caller's parameter block.
func gcmRoundTrip(t *testing.T, p *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle, msg []byte, fips bool) error {
	ivIn := make([]byte, 12)
	if !fips {
		copy(ivIn, "caller-iv-12")
	}
	gp := pkcs11.NewGCMParams(ivIn, []byte("aad"), 128)
	defer gp.Free()
	if err := p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gp)}, key); err != nil {
		return err
	}
	ct, err := p.Encrypt(sh, msg)
	if err != nil {
		return err
	}
	iv := gp.IV()
	if fips && bytes.Equal(iv, make([]byte, 12)) {
		t.Errorf("FIPS GCM: the token did not write its IV back")
	}
	if !fips && !bytes.Equal(iv, []byte("caller-iv-12")) {
		t.Errorf("GCM: the caller's IV changed to %x", iv)
	}
	dp := pkcs11.NewGCMParams(iv, []byte("aad"), 128)
	defer dp.Free()
	if err := p.DecryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, dp)}, key); err != nil {
		return err
	}
	back, err := p.Decrypt(sh, ct)
	if err != nil {
		return err
	}
	if !bytes.Equal(back, msg) {
		t.Errorf("GCM round trip gave %q", back)
	}
	return nil
}
