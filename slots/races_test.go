package slots

import (
	"bytes"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/craton-hsm/craton/backend"
	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// TestParallelGuessesRespectLockout: however many wrong PINs arrive at once,
// no more than MaxFailures of them are ever checked.
func TestParallelGuessesRespectLockout(t *testing.T) {
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	var incorrect, locked atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := tok.Login(CKU_USER, []byte("wrong-pin"))
			switch {
			case errors.Is(err, CKR_PIN_INCORRECT):
				incorrect.Add(1)
			case errors.Is(err, CKR_PIN_LOCKED):
				locked.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if incorrect.Load() != int32(tok.MaxFailures) || locked.Load() != 32-int32(tok.MaxFailures) {
		t.Fatalf("%d checked, %d locked; want exactly %d checked", incorrect.Load(), locked.Load(), tok.MaxFailures)
	}
	if err := tok.Login(CKU_USER, []byte("user-pin")); !errors.Is(err, CKR_PIN_LOCKED) {
		t.Fatalf("right PIN after lock: %v", err)
	}
}

// TestHeldObjectSurvivesLogout: key material a caller holds stays intact
// through a logout, and is wiped when the last holder releases it.
func TestHeldObjectSurvivesLogout(t *testing.T) {
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	loginUser(t, tok)
	val := bytes.Repeat([]byte{0x5a}, 32)
	o, _ := NewObject(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_TOKEN, true), a(CKA_VALUE, val)}, Origin{}, false)
	h, err := tok.AddObject(o, 1)
	if err != nil {
		t.Fatal(err)
	}
	held, err := tok.Object(h)
	if err != nil {
		t.Fatal(err)
	}
	v := held.Attrs.Value(CKA_VALUE)
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v, val) {
		t.Fatal("logout wiped a key a caller still held")
	}
	held.Release()
	if !bytes.Equal(v, make([]byte, 32)) {
		t.Fatal("released key material was not wiped")
	}
}

// TestStaleLoginAfterReinit: a process logged in to a token that another
// process re-initialised cannot store records under the old key; it is
// logged out instead, and the new token stays readable.
func TestStaleLoginAfterReinit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	a1 := initialised(t, path)
	b := openTestToken(t, path)
	loginUser(t, b)
	if err := a1.InitToken([]byte("so-pin-1"), "new"); err != nil {
		t.Fatal(err)
	}
	if err := a1.Login(CKU_SO, []byte("so-pin-1")); err != nil {
		t.Fatal(err)
	}
	if err := a1.InitPIN([]byte("user-pin")); err != nil {
		t.Fatal(err)
	}
	a1.Logout()
	o, _ := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, true)}, Origin{}, false)
	if _, err := b.AddObject(o, 1); !errors.Is(err, CKR_USER_NOT_LOGGED_IN) {
		t.Fatalf("stale login stored a record: %v", err)
	}
	if b.LoginState() != NotLoggedIn {
		t.Fatal("stale login kept")
	}
	loginUser(t, a1)
	if _, err := a1.Find(nil); err != nil {
		t.Fatalf("new token unreadable: %v", err)
	}
}

// TestCorruptRecordIsSkippedAndDestroyable: one damaged record neither
// breaks searches nor resists C_DestroyObject.
func TestCorruptRecordIsSkippedAndDestroyable(t *testing.T) {
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	loginUser(t, tok)
	var hs []uint64
	for _, label := range []string{"good", "bad"} {
		o, _ := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, true), a(CKA_LABEL, label)}, Origin{}, false)
		h, err := tok.AddObject(o, 1)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if _, err := tok.store.db.Exec(`UPDATE objects SET sealed = zeroblob(length(sealed)), version = version + 1 WHERE handle = ?`, hs[1]); err != nil {
		t.Fatal(err)
	}
	found, err := tok.Find(nil)
	if err != nil || len(found) != 1 || found[0] != hs[0] {
		t.Fatalf("find with a corrupt record: %v %v", found, err)
	}
	bad, err := tok.Object(hs[1])
	if err != nil || !bad.Corrupt {
		t.Fatalf("corrupt object: %+v %v", bad, err)
	}
	bad.Release()
	if err := tok.DestroyObject(hs[1]); err != nil {
		t.Fatal(err)
	}
}

// TestLockFreeLookupNeverSeesAWipedKey: readers take a key through the
// lock-free path while another goroutine replaces it, logs out and in
// again, and destroys and recreates keys, and two more search by value. A
// reader holding a key always
// sees a whole value (never zeros: a retired object is refused or kept
// intact until released), and a handle that is gone is refused.
func TestLockFreeLookupNeverSeesAWipedKey(t *testing.T) {
	for _, token := range []bool{true, false} {
		name := "token-objects"
		if !token {
			name = "session-objects" // looked up under the token's read lock
		}
		t.Run(name, func(t *testing.T) { lockFreeLookupNeverSeesAWipedKey(t, token) })
	}
}

func lockFreeLookupNeverSeesAWipedKey(t *testing.T, token bool) {
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	loginUser(t, tok)
	mk := func(fill byte) uint64 {
		o, _ := NewObject(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_TOKEN, token),
			a(CKA_PRIVATE, true), a(CKA_VALUE, bytes.Repeat([]byte{fill}, 32))}, Origin{}, false)
		h, err := tok.AddObject(o, 1)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	var handles [4]atomic.Uint64
	for i := range handles {
		handles[i].Store(mk(byte(0x10 + i)))
	}
	stop := make(chan struct{})
	var reads, refused atomic.Int64
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o, err := tok.Object(handles[(r+n)%len(handles)].Load())
				if err != nil {
					if !errors.Is(err, CKR_OBJECT_HANDLE_INVALID) {
						t.Errorf("lookup: %v", err)
					}
					refused.Add(1)
					continue
				}
				v := o.Attrs.Value(CKA_VALUE)
				for range 3 {
					if len(v) != 32 || v[0] == 0 || !bytes.Equal(v, bytes.Repeat(v[:1], 32)) {
						t.Errorf("a held key reads %x", v)
						break
					}
				}
				o.Release()
				reads.Add(1)
			}
		})
	}
	// Searchers compare every key's value (a template with CKA_VALUE), on
	// the search's lock-free path: a retire must not wipe a value under them.
	var searches atomic.Int64
	for range 2 {
		wg.Go(func() {
			want := bytes.Repeat([]byte{0x11}, 32)
			for {
				select {
				case <-stop:
					return
				default:
				}
				hs, err := tok.Find(Template{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_VALUE, want)})
				if err != nil || len(hs) > 1 {
					t.Errorf("search by value: %v %v", hs, err)
					return
				}
				searches.Add(1)
			}
		})
	}
	// At least 60 rounds, and on until the readers and searchers have all
	// had a turn (session objects need no store: the rounds fly by).
	for round := 0; round < 60 || (reads.Load() == 0 || searches.Load() == 0) && round < 100000; round++ {
		i := round % len(handles)
		switch round % 3 {
		case 0: // a new version of the object
			o, err := tok.Object(handles[i].Load())
			if err != nil {
				t.Fatal(err)
			}
			n, err := o.Changed(Template{a(CKA_LABEL, []byte{byte(round)})}, BySetAttribute, false)
			o.Release()
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.ReplaceObject(o, n); err != nil {
				t.Fatal(err)
			}
		case 1: // logout and login: every cached key retired
			if err := tok.Logout(); err != nil {
				t.Fatal(err)
			}
			loginUser(t, tok)
		case 2: // destroyed, and another key in its place
			old := handles[i].Load()
			handles[i].Store(mk(byte(0x20 + round%200))) // never zero
			if err := tok.DestroyObject(old); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 || searches.Load() == 0 {
		t.Fatalf("%d keys read, %d searches", reads.Load(), searches.Load())
	}
	t.Logf("%d lookups served, %d refused, %d searches", reads.Load(), refused.Load(), searches.Load())
}

// TestParsedKeysWipedOnDestroyAndClose: a private key that operations
// parsed (its CRT values, its exponent) is wiped with the object, both when
// it is destroyed and when the token closes (C_Finalize), once nothing
// holds it.
func TestParsedKeysWipedOnDestroyAndClose(t *testing.T) {
	be := backend.NewDefault(backend.Options{})
	kp, err := be.GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN, backend.Attrs{CKA_MODULUS_BITS: ULong(2048), CKA_PUBLIC_EXPONENT: []byte{1, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	loginUser(t, tok)
	// use parses the key by signing with it, and returns views of its
	// parsed private exponent and of its stored one.
	use := func() (h uint64, parsed []big.Word, stored []byte) {
		o, err := NewObject(Template{a(CKA_CLASS, CKO_PRIVATE_KEY), a(CKA_KEY_TYPE, CKK_RSA), a(CKA_TOKEN, true), a(CKA_SIGN, true)},
			Origin{Generated: true, Mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN, Computed: kp.Private}, false)
		if err != nil {
			t.Fatal(err)
		}
		if h, err = tok.AddObject(o, 1); err != nil {
			t.Fatal(err)
		}
		held, err := tok.Object(h)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release()
		s, err := be.KeySigner(Mechanism{Type: CKM_SHA256_RSA_PKCS}, held.Key())
		if err != nil {
			t.Fatal(err)
		}
		s.Update([]byte("message"))
		if _, err := s.Sign(); err != nil {
			t.Fatal(err)
		}
		priv, err := held.Key().RSAPrivate()
		if err != nil {
			t.Fatal(err)
		}
		return h, priv.D.Bits(), held.Attrs.Value(CKA_PRIVATE_EXPONENT)
	}
	wiped := func(when string, parsed []big.Word, stored []byte) {
		t.Helper()
		if len(parsed) == 0 || !slices.Equal(parsed, make([]big.Word, len(parsed))) {
			t.Errorf("%s: the parsed private exponent was not wiped", when)
		}
		if len(stored) == 0 || !bytes.Equal(stored, make([]byte, len(stored))) {
			t.Errorf("%s: the stored private exponent was not wiped", when)
		}
	}
	h, parsed, stored := use()
	if err := tok.DestroyObject(h); err != nil {
		t.Fatal(err)
	}
	wiped("C_DestroyObject", parsed, stored)
	_, parsed, stored = use()
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	wiped("C_Finalize", parsed, stored)
}
