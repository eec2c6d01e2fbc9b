package backend

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// TestKeySharedAcrossOperations: one Key, as a token object holds it, serves
// many operations at once. Pooled HMAC states never leak one operation's
// data into another (interleaved and concurrent MACs equal crypto/hmac's),
// and the cached RSA, EC, Ed25519 and AES forms give results that verify.
func TestKeySharedAcrossOperations(t *testing.T) {
	b := NewDefault(Options{})
	keys := katKeysForRegistry(t)
	secret := NewKey(CKK_GENERIC_SECRET, keys.secret)
	ref := func(mech uint64, msg string) []byte {
		var m = hmac.New(sha256.New, keys.secret[CKA_VALUE])
		if mech == CKM_SHA384_HMAC {
			m = hmac.New(sha512.New384, keys.secret[CKA_VALUE])
		}
		m.Write([]byte(msg))
		return m.Sum(nil)
	}

	// Interleaved: two MACs open at once on one key, then a third after
	// both states went back to the pool.
	s1, err := b.KeySigner(Mechanism{Type: CKM_SHA256_HMAC}, secret)
	must(t, err)
	s2, err := b.KeySigner(Mechanism{Type: CKM_SHA256_HMAC}, secret)
	must(t, err)
	must(t, s1.Update([]byte("first ")))
	must(t, s2.Update([]byte("second ")))
	must(t, s1.Update([]byte("message")))
	must(t, s2.Update([]byte("message")))
	m1, err := s1.Sign()
	must(t, err)
	m2, err := s2.Sign()
	must(t, err)
	if !bytes.Equal(m1, ref(CKM_SHA256_HMAC, "first message")) || !bytes.Equal(m2, ref(CKM_SHA256_HMAC, "second message")) {
		t.Fatalf("interleaved HMACs on one key are wrong")
	}
	for _, mech := range []uint64{CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA256_HMAC} {
		s, err := b.KeySigner(Mechanism{Type: mech}, secret)
		must(t, err)
		must(t, s.Update([]byte("again")))
		m, err := s.Sign()
		must(t, err)
		if !bytes.Equal(m, ref(mech, "again")) {
			t.Fatalf("%s from a pooled state is wrong", MechName(mech))
		}
	}

	// Concurrent: every kind of cached form, 8 goroutines.
	rsaPriv, rsaPub := NewKey(CKK_RSA, keys.rsa.Private), NewKey(CKK_RSA, keys.rsa.Public)
	ecPriv, ecPub := NewKey(CKK_EC, keys.ec.Private), NewKey(CKK_EC, keys.ec.Public)
	edPriv, edPub := NewKey(CKK_EC_EDWARDS, keys.ed.Private), NewKey(CKK_EC_EDWARDS, keys.ed.Public)
	aesKey := NewKey(CKK_AES, keys.aes)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				msg := fmt.Sprintf("goroutine %d message %d", g, i)
				if m, err := b.KeySigner(Mechanism{Type: CKM_SHA256_HMAC}, secret); err != nil {
					errs <- err
				} else if m.Update([]byte(msg)); true {
					if got, _ := m.Sign(); !bytes.Equal(got, ref(CKM_SHA256_HMAC, msg)) {
						errs <- fmt.Errorf("concurrent HMAC wrong for %q", msg)
					}
				}
				for _, pair := range []struct {
					mech      uint64
					priv, pub *Key
				}{{CKM_SHA256_RSA_PKCS, rsaPriv, rsaPub}, {CKM_ECDSA_SHA256, ecPriv, ecPub}, {CKM_EDDSA, edPriv, edPub}} {
					if i%5 != 0 && pair.mech == CKM_SHA256_RSA_PKCS {
						continue // RSA is slow; a few rounds are enough
					}
					s, err := b.KeySigner(Mechanism{Type: pair.mech}, pair.priv)
					if err != nil {
						errs <- err
						continue
					}
					s.Update([]byte(msg))
					sig, err := s.Sign()
					if err != nil {
						errs <- err
						continue
					}
					v, _ := b.KeyVerifier(Mechanism{Type: pair.mech}, pair.pub)
					v.Update([]byte(msg))
					if err := v.Verify(sig); err != nil {
						errs <- fmt.Errorf("%s: %v", MechName(pair.mech), err)
					}
				}
				iv := bytes.Repeat([]byte{byte(g), byte(i)}, 6)
				enc, err := b.KeyCipher(katGCM(iv, nil, 128), aesKey, ForEncrypt, nil)
				if err != nil {
					errs <- err
					continue
				}
				ct, _ := enc.OneShot(nil, []byte(msg))
				dec, _ := b.KeyCipher(katGCM(iv, nil, 128), aesKey, ForDecrypt, nil)
				if pt, err := dec.OneShot(nil, ct); err != nil || string(pt) != msg {
					errs <- fmt.Errorf("GCM round trip: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestKeyCachesFailure: a key that does not parse fails the same way every
// time (the error is cached with the form), with the spec's code.
func TestKeyCachesFailure(t *testing.T) {
	b := NewDefault(Options{})
	bad := NewKey(CKK_EC, Attrs{CKA_EC_PARAMS: katP256, CKA_VALUE: bytes.Repeat([]byte{0xff}, 32)})
	for range 2 {
		_, err := b.KeySigner(Mechanism{Type: CKM_ECDSA}, bad)
		katWantRV(t, "ECDSA with a scalar above the order", err, CKR_KEY_TYPE_INCONSISTENT)
	}
	short := NewKey(CKK_AES, Attrs{CKA_VALUE: make([]byte, 7)})
	for range 2 {
		_, err := b.KeyCipher(katGCM(make([]byte, 12), nil, 128), short, ForEncrypt, nil)
		katWantRV(t, "AES key of 7 bytes", err, CKR_KEY_TYPE_INCONSISTENT)
	}
}

// TestKeyWipe: Wipe zeroes the parsed private forms Go lets it reach and
// empties the HMAC pool.
func TestKeyWipe(t *testing.T) {
	b := NewDefault(Options{})
	keys := katKeysForRegistry(t)
	rsaKey, edKey := NewKey(CKK_RSA, keys.rsa.Private), NewKey(CKK_EC_EDWARDS, keys.ed.Private)
	secret := NewKey(CKK_GENERIC_SECRET, keys.secret)
	for _, k := range []*Key{rsaKey, edKey} {
		mech := uint64(CKM_SHA256_RSA_PKCS)
		if k == edKey {
			mech = CKM_EDDSA
		}
		s, err := b.KeySigner(Mechanism{Type: mech}, k)
		must(t, err)
		s.Update([]byte("x"))
		_, err = s.Sign()
		must(t, err)
	}
	s, err := b.KeySigner(Mechanism{Type: CKM_SHA256_HMAC}, secret)
	must(t, err)
	s.Sign()
	priv, _ := rsaKey.RSAPrivate()
	words := [][]big.Word{priv.D.Bits(), priv.Primes[0].Bits(), priv.Primes[1].Bits(), priv.Precomputed.Dp.Bits()}
	ed, _ := edKey.edPrivate()
	for _, k := range []*Key{rsaKey, edKey, secret} {
		k.Wipe()
	}
	for i, w := range words {
		if len(w) == 0 || !slices.Equal(w, make([]big.Word, len(w))) {
			t.Errorf("RSA private value %d (D, P, Q, Dp) not wiped", i)
		}
	}
	if priv.D.Sign() != 0 {
		t.Error("RSA D still reads as non-zero")
	}
	if !bytes.Equal(ed, make([]byte, len(ed))) {
		t.Error("Ed25519 private key not wiped")
	}
	if secret.hmacs[1].Get() != nil {
		t.Error("a keyed HMAC state survived Wipe")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrefixedNonceGCM: the by-hand random-nonce GCM (what a boringcrypto
// build seals the store with) reads and writes the same format as
// cipher.NewGCMWithRandomNonce, and refuses what does not open.
func TestPrefixedNonceGCM(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	blk, err := aes.NewCipher(key)
	must(t, err)
	std, err := cipher.NewGCMWithRandomNonce(blk)
	must(t, err)
	g, err := cipher.NewGCM(blk)
	must(t, err)
	byHand := prefixedNonceGCM{g}
	if byHand.NonceSize() != std.NonceSize() || byHand.Overhead() != std.Overhead() {
		t.Fatalf("sizes %d/%d, want %d/%d", byHand.NonceSize(), byHand.Overhead(), std.NonceSize(), std.Overhead())
	}
	msg, aad := []byte("a sealed record"), []byte("aad")
	for _, pair := range [][2]cipher.AEAD{{byHand, std}, {std, byHand}, {byHand, byHand}} {
		sealed := pair[0].Seal(nil, nil, msg, aad)
		pt, err := pair[1].Open(nil, nil, sealed, aad)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("round trip: %q, %v", pt, err)
		}
		sealed[len(sealed)-1] ^= 1
		if _, err := pair[1].Open(nil, nil, sealed, aad); err == nil {
			t.Fatal("a tampered record opened")
		}
	}
	a, b := byHand.Seal(nil, nil, msg, aad), byHand.Seal(nil, nil, msg, aad)
	if bytes.Equal(a[:12], b[:12]) {
		t.Fatal("two seals drew the same nonce")
	}
	if _, err := byHand.Open(nil, nil, a[:5], aad); err == nil {
		t.Fatal("a record shorter than its nonce opened")
	}
}

// TestPooledHMAC: HMAC operations come from the key's pool and go back to it
// when they end, so what one returned must never change when the next one
// (the same pooled state) runs; SignInto writes into a buffer with room, and
// makes its own slice for one without; Verify after a pooled Sign agrees.
func TestPooledHMAC(t *testing.T) {
	b := NewDefault(Options{})
	key := NewKey(CKK_GENERIC_SECRET, Attrs{CKA_VALUE: bytes.Repeat([]byte{0x0b}, 20)})
	want := func(msg string) []byte {
		m := hmac.New(sha256.New, bytes.Repeat([]byte{0x0b}, 20))
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	sign := func(msg string, dst []byte) []byte {
		t.Helper()
		s, err := b.KeySigner(Mechanism{Type: CKM_SHA256_HMAC}, key)
		must(t, err)
		must(t, s.Update([]byte(msg)))
		var mac []byte
		if dst == nil {
			mac, err = s.Sign()
		} else {
			mac, err = s.(SignerInto).SignInto(dst)
		}
		must(t, err)
		return mac
	}
	first := sign("Hi There", nil) // RFC 4231 test case 1
	if hex.EncodeToString(first) != "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" {
		t.Fatalf("RFC 4231 case 1: %x", first)
	}
	kept := bytes.Clone(first)
	for i := range 50 {
		msg := fmt.Sprintf("message %d", i)
		if got := sign(msg, nil); !bytes.Equal(got, want(msg)) {
			t.Fatalf("pooled Sign %d: %x, want %x", i, got, want(msg))
		}
	}
	if !bytes.Equal(first, kept) {
		t.Fatal("a pooled operation wrote over the MAC an earlier one returned")
	}
	dst := make([]byte, 64)
	got := sign("into", dst)
	if !bytes.Equal(got, want("into")) || &got[0] != &dst[0] {
		t.Fatalf("SignInto with room: %x (in dst: %v), want %x", got, &got[0] == &dst[0], want("into"))
	}
	small := make([]byte, 8)
	got = sign("small", small)
	if !bytes.Equal(got, want("small")) || !bytes.Equal(small, make([]byte, 8)) {
		t.Fatalf("SignInto without room: %x, buffer now %x", got, small)
	}
	v, err := b.KeyVerifier(Mechanism{Type: CKM_SHA256_HMAC}, key)
	must(t, err)
	must(t, v.Update([]byte("into")))
	must(t, v.Verify(want("into")))
}

// TestPooledGCM: an ended AES-GCM operation goes back to its key's pool
// emptied, so the next one on that key (which reuses it) carries nothing
// over: not the IV, not the AAD, not the direction, not a budget. Each
// result is checked against crypto/cipher.
func TestPooledGCM(t *testing.T) {
	b := NewDefault(Options{})
	raw := bytes.Repeat([]byte{0x42}, 32)
	key := NewKey(CKK_AES, Attrs{CKA_VALUE: raw})
	blk, err := aes.NewCipher(raw)
	must(t, err)
	ref, err := cipher.NewGCM(blk)
	must(t, err)
	var spent int
	budget := budgetFunc(func(k *Key) error {
		if k != key {
			t.Error("the budget was asked about another key")
		}
		spent++
		return nil
	})
	msg := []byte("sixty-four bytes or so of plaintext, the size that matters here.")
	for i := range 6 {
		iv := bytes.Repeat([]byte{byte(i)}, 12)
		var aad []byte
		if i%2 == 0 {
			aad = []byte(fmt.Sprintf("aad %d", i))
		}
		var bud Budget
		if i%3 == 0 {
			bud = budget
		}
		enc, err := b.KeyCipher(katGCM(iv, aad, 128), key, ForEncrypt, bud)
		must(t, err)
		ct, err := enc.OneShot(nil, msg)
		must(t, err)
		enc.(Releaser).Release()
		if want := ref.Seal(nil, iv, msg, aad); !bytes.Equal(ct, want) {
			t.Fatalf("encryption %d (pooled op): %x, want %x", i, ct, want)
		}
		dec, err := b.KeyCipher(katGCM(iv, aad, 128), key, ForDecrypt, nil)
		must(t, err)
		pt, err := dec.OneShot(nil, ct)
		must(t, err)
		dec.(Releaser).Release()
		if !bytes.Equal(pt, msg) {
			t.Fatalf("decryption %d (pooled op): %q", i, pt)
		}
	}
	if spent != 2 {
		t.Fatalf("the budget counted %d encryptions, want 2 (the ones given it)", spent)
	}
	// Whether the pool handed the op back is sync.Pool's business (under
	// -race it drops some on purpose); without -race every operation after
	// the first here reuses one.
}

type budgetFunc func(k *Key) error

func (f budgetFunc) Spend(k *Key) error { return f(k) }

// refTag is the search tag as Tagger's documentation defines it, computed
// here without pooling.
func refTag(key []byte, attrType uint64, value []byte) []byte {
	var t [8]byte
	for i := range 8 {
		t[i] = byte(attrType >> (8 * i))
	}
	if key == nil {
		h := sha256.New()
		h.Write([]byte("craton tag v1"))
		h.Write(t[:])
		h.Write(value)
		return h.Sum(nil)[:16]
	}
	h := hmac.New(sha256.New, key)
	h.Write(t[:])
	h.Write(value)
	return h.Sum(nil)[:16]
}

// TestTagger: a Tagger's tags are refTag's, for the unkeyed and a keyed
// scope, while its pooled states are reused from several goroutines, and its
// tags do not alias one another; they match an HMAC-SHA256 computed here.
func TestTagger(t *testing.T) {
	key := IndexKey(bytes.Repeat([]byte{7}, 32))
	for _, k := range [][]byte{nil, key} {
		own := bytes.Clone(k) // the Tagger's, which Wipe clears
		tg := NewTagger(own)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var prev []byte
				for i := range 200 {
					v := fmt.Appendf(nil, "label-%d-%d", g, i)
					got := tg.Tag(CKA_LABEL, v)
					if want := refTag(k, CKA_LABEL, v); !bytes.Equal(got, want) {
						t.Errorf("key %x: Tagger %x, refTag %x", k, got, want)
						return
					}
					if prev != nil && bytes.Equal(prev, got) {
						t.Errorf("two values, one tag %x", got)
						return
					}
					prev = got
				}
			}()
		}
		wg.Wait()
		tg.Wipe()
		if k != nil && !bytes.Equal(own, make([]byte, len(own))) {
			t.Errorf("Wipe left the key %x", own)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte{3, 0, 0, 0, 0, 0, 0, 0}) // CKA_LABEL, little-endian
	m.Write([]byte("x"))
	if got := NewTagger(key).Tag(CKA_LABEL, []byte("x")); !bytes.Equal(got, m.Sum(nil)[:16]) {
		t.Fatalf("keyed tag %x, want %x", got, m.Sum(nil)[:16])
	}
}

// TestTaggerAllocatesNothing: a tag appended to a buffer with room for it
// allocates nothing once the pool holds a state (a search makes one per
// indexed attribute and scope).
func TestTaggerAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops states under the race detector")
	}
	for _, k := range [][]byte{nil, IndexKey(bytes.Repeat([]byte{7}, 32))} {
		tg := NewTagger(k)
		buf := make([]byte, 0, TagSize)
		value := []byte("a label")
		tg.AppendTag(buf, CKA_LABEL, value) // fills the pool
		if n := testing.AllocsPerRun(1000, func() { buf = tg.AppendTag(buf[:0], CKA_LABEL, value) }); n >= 0.5 {
			t.Errorf("key %v: %.2f allocations per tag, want none", k != nil, n)
		}
		if want := refTag(k, CKA_LABEL, value); !bytes.Equal(buf, want) {
			t.Errorf("key %v: tag %x, want %x", k != nil, buf, want)
		}
	}
}
