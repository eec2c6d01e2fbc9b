package slots

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/craton-hsm/craton/backend"
	. "github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
)

func openTestToken(t *testing.T, path string) *Token {
	t.Helper()
	tok, err := OpenToken(Config{KDFIterations: 1000, MaxFailures: 3}, path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

// loginUser logs tok in as the user, with the PIN initialised sets.
func loginUser(t *testing.T, tok *Token) {
	t.Helper()
	if err := tok.Login(CKU_USER, []byte("user-pin")); err != nil {
		t.Fatal(err)
	}
}

func initialised(t *testing.T, path string) *Token {
	t.Helper()
	tok := openTestToken(t, path)
	if err := tok.InitToken([]byte("so-pin-1"), "t"); err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(CKU_SO, []byte("so-pin-1")); err != nil {
		t.Fatal(err)
	}
	if err := tok.InitPIN([]byte("user-pin")); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestNoPlaintextAtRest writes key material and a private object, then reads
// every file of the store (database, WAL, shared memory) for those bytes.
func TestNoPlaintextAtRest(t *testing.T) {
	dir := t.TempDir()
	tok := initialised(t, filepath.Join(dir, "slot-0.db"))
	loginUser(t, tok)
	secrets := [][]byte{backend.Random(32), backend.Random(32), backend.Random(48)}
	tmpls := []Template{
		{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_TOKEN, true), a(CKA_PRIVATE, false), a(CKA_VALUE, secrets[0])},
		{a(CKA_CLASS, CKO_SECRET_KEY), a(CKA_KEY_TYPE, CKK_AES), a(CKA_TOKEN, true), a(CKA_VALUE, secrets[1])},
		{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, true), a(CKA_VALUE, secrets[2]), a(CKA_LABEL, "private-label-xyz")},
	}
	for _, tmpl := range tmpls {
		o, err := NewObject(tmpl, Origin{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.AddObject(o, 1); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			t.Fatal("store directory empty")
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range append(secrets, []byte("private-label-xyz")) {
				for _, form := range [][]byte{s, []byte(hex.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s))} {
					if bytes.Contains(b, form) {
						t.Fatalf("%s: %s holds a secret in clear", when, e.Name())
					}
				}
			}
		}
	}
	check("open")
	tok.Close()
	check("closed")
}

// TestTwoHandlesOneStore: two Tokens on one file behave like two processes:
// each sees the other's objects and none is lost under concurrent writes.
func TestTwoHandlesOneStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	t1 := initialised(t, path)
	t2 := openTestToken(t, path)
	var wg sync.WaitGroup
	for i, tok := range []*Token{t1, t2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 100 {
				o, err := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_LABEL, fmt.Sprintf("t%d-%03d", i, n))}, Origin{}, false)
				if err == nil {
					_, err = tok.AddObject(o, 1)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, tok := range []*Token{t1, t2} {
		hs, err := tok.Find(Template{a(CKA_CLASS, CKO_DATA)})
		if err != nil || len(hs) != 200 {
			t.Fatalf("found %d (%v), want 200", len(hs), err)
		}
		hs, err = tok.Find(Template{a(CKA_LABEL, "t1-042")})
		if err != nil || len(hs) != 1 {
			t.Fatalf("by label: %v %v", hs, err)
		}
	}
	// A change in one is seen by the other; a stale write is refused.
	hs, _ := t1.Find(Template{a(CKA_LABEL, "t0-000")})
	o1, _ := t1.Object(hs[0])
	o2, _ := t2.Object(hs[0])
	n1, _ := o1.Changed(Template{a(CKA_LABEL, "renamed")}, BySetAttribute, false)
	if err := t1.ReplaceObject(o1, n1); err != nil {
		t.Fatal(err)
	}
	if got, _ := t2.Object(hs[0]); string(got.Attrs.Value(CKA_LABEL)) != "renamed" {
		t.Fatalf("t2 sees label %q", got.Attrs.Value(CKA_LABEL))
	}
	n2, _ := o2.Changed(Template{a(CKA_LABEL, "stale")}, BySetAttribute, false)
	if err := t2.ReplaceObject(o2, n2); !errors.Is(err, CKR_FUNCTION_FAILED) {
		t.Fatalf("stale write: %v", err)
	}
	if err := t2.DestroyObject(hs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := t1.Object(hs[0]); !errors.Is(err, CKR_OBJECT_HANDLE_INVALID) {
		t.Fatalf("destroyed object still visible to t1: %v", err)
	}
}

// TestFindManyObjects: a search by label among 10,000 objects (2,000 under
// the race detector) is narrowed by
// the index, not by decoding every object.
func TestFindManyObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "slot-0.db")
	tok := initialised(t, path)
	loginUser(t, tok)
	total := 10000
	if raceEnabled {
		total = 2000
	}
	// Bulk-load through the store in one transaction to keep the test fast.
	err := tok.store.tx(func(tx *sqlTx) error {
		for i := range total {
			o, err := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, i%2 == 0), a(CKA_LABEL, fmt.Sprintf("obj-%05d", i))}, Origin{}, false)
			if err != nil {
				return err
			}
			tok.mu.Lock()
			r, err := tok.rowLocked(o)
			tok.mu.Unlock()
			if err != nil {
				return err
			}
			if err := insertRow(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"obj-00000", fmt.Sprintf("obj-%05d", total/2+1), fmt.Sprintf("obj-%05d", total-1)} {
		hs, err := tok.Find(Template{a(CKA_LABEL, label)})
		if err != nil || len(hs) != 1 {
			t.Fatalf("%s: %v %v", label, hs, err)
		}
	}
	n := 0
	tok.cache.Range(func(any, any) bool { n++; return true })
	if n > 10 {
		t.Fatalf("label searches decoded %d objects", n)
	}
	hs, err := tok.Find(nil)
	if err != nil || len(hs) != total {
		t.Fatalf("all: %d %v", len(hs), err)
	}
	tok.Logout()
	if hs, _ := tok.Find(nil); len(hs) != total/2 {
		t.Fatalf("logged out sees %d, want the %d public", len(hs), total/2)
	}
}

// TestFindBeyondTheTags: a search narrows by at most maxSearchTags tags per
// scope, but matches on the whole template. Two certificates, public and
// private, alike in five selective attributes but the last, are told apart
// by it, in either order of the template, and a session object is too.
func TestFindBeyondTheTags(t *testing.T) {
	tok := initialised(t, filepath.Join(t.TempDir(), "slot-0.db"))
	loginUser(t, tok)
	cert := func(serial string, private, token bool) Template {
		return Template{a(CKA_CLASS, CKO_CERTIFICATE), a(CKA_CERTIFICATE_TYPE, CKC_X_509), a(CKA_VALUE, "der"),
			a(CKA_TOKEN, token), a(CKA_PRIVATE, private),
			a(CKA_LABEL, "web"), a(CKA_ID, "id"), a(CKA_SUBJECT, "subject"), a(CKA_ISSUER, "issuer"),
			a(CKA_SERIAL_NUMBER, serial)}
	}
	want := map[string]uint64{}
	for _, c := range []struct {
		serial         string
		private, token bool
	}{{"1", false, true}, {"2", false, true}, {"3", true, true}, {"4", true, true}, {"5", false, false}, {"6", false, false}} {
		o, err := NewObject(cert(c.serial, c.private, c.token), Origin{}, false)
		if err != nil {
			t.Fatal(err)
		}
		h, err := tok.AddObject(o, 1)
		if err != nil {
			t.Fatal(err)
		}
		want[c.serial] = h
	}
	for serial, h := range want {
		tmpl := Template{a(CKA_LABEL, "web"), a(CKA_ID, "id"), a(CKA_SUBJECT, "subject"), a(CKA_ISSUER, "issuer"),
			a(CKA_SERIAL_NUMBER, serial), a(CKA_CLASS, CKO_CERTIFICATE)}
		if n := indexedCount(tmpl); n <= maxSearchTags {
			t.Fatalf("the template has %d indexed attributes: the test needs more than %d", n, maxSearchTags)
		}
		reversed := slices.Clone(tmpl)
		slices.Reverse(reversed)
		for _, order := range []Template{tmpl, reversed} {
			hs, err := tok.Find(order)
			if err != nil || !slices.Equal(hs, []uint64{h}) {
				t.Errorf("serial %s: found %v (%v), want [%d]", serial, hs, err, h)
			}
		}
	}
	if hs, _ := tok.Find(Template{a(CKA_LABEL, "web"), a(CKA_ID, "id")}); len(hs) != len(want) {
		t.Errorf("by label and ID: %d objects, want %d", len(hs), len(want))
	}
}

func indexedCount(tmpl Template) (n int) {
	for _, at := range tmpl {
		if indexed[at.Type] {
			n++
		}
	}
	return n
}
