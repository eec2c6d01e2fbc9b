package slots

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
)

// addData stores a public token data object labelled label.
func addData(t *testing.T, tok *Token, label string) uint64 {
	t.Helper()
	o, err := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, false), a(CKA_LABEL, label)}, Origin{}, false)
	if err != nil {
		t.Fatal(err)
	}
	h, err := tok.AddObject(o, 1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// relabel gives object h a new label, as C_SetAttributeValue does.
func relabel(t *testing.T, tok *Token, h uint64, label string) {
	t.Helper()
	o, err := tok.Object(h)
	if err != nil {
		t.Fatal(err)
	}
	n, err := o.Changed(Template{a(CKA_LABEL, label)}, BySetAttribute, false)
	o.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.ReplaceObject(o, n); err != nil {
		t.Fatal(err)
	}
}

// labelOf reads object h's label through Object, as every operation does.
func labelOf(t *testing.T, tok *Token, h uint64) string {
	t.Helper()
	o, err := tok.Object(h)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	return string(o.Attrs.Value(CKA_LABEL))
}

// confirmed reports whether tok's next Object(h) is served from its cache
// without asking the store.
func confirmed(tok *Token, h uint64) bool {
	o := tok.fastObject(int64(h))
	if o != nil {
		o.Release()
	}
	return o != nil
}

// setChanges writes the change counter through the file, as another
// process (or one that crashed) may have left it.
func setChanges(t testing.TB, path string, v uint64) {
	t.Helper()
	f, err := os.OpenFile(path+"-changes", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(binary.NativeEndian.AppendUint64(nil, v), 0); err != nil {
		t.Fatal(err)
	}
}

// TestCachedObjectsSeeOtherProcesses: two Tokens on one store act as two
// processes. What one changes or destroys, the other's cached objects
// reflect at their next use, although a cached object no one changed is
// used without a query.
func TestCachedObjectsSeeOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	ta := initialised(t, path)
	tb := openTestToken(t, path)
	h1, h2 := addData(t, ta, "one"), addData(t, ta, "two")
	for _, h := range []uint64{h1, h2} {
		labelOf(t, ta, h)
		if !confirmed(ta, h) {
			t.Fatalf("object %d not confirmed after a use", h)
		}
	}
	// A row changed behind the counter's back (no real process does this)
	// goes unseen: proof that the confirmed object is used without a query.
	if _, err := tb.store.db.Exec(`UPDATE objects SET version = version + 1 WHERE handle = ?`, h1); err != nil {
		t.Fatal(err)
	}
	o, err := ta.Object(h1)
	if err != nil {
		t.Fatal(err)
	}
	o.Release()
	if o.Version != 1 {
		t.Fatalf("a confirmed object was read again (version %d)", o.Version)
	}

	relabel(t, tb, h1, "renamed")
	if err := tb.DestroyObject(h2); err != nil {
		t.Fatal(err)
	}
	if confirmed(ta, h1) || confirmed(ta, h2) {
		t.Fatal("objects still confirmed after another process wrote the store")
	}
	if got := labelOf(t, ta, h1); got != "renamed" {
		t.Fatalf("label %q after another process renamed it", got)
	}
	if _, err := ta.Object(h2); !errors.Is(err, CKR_OBJECT_HANDLE_INVALID) {
		t.Fatalf("object destroyed by another process: %v", err)
	}
	// Its own writes void the stamps too, and the confirmed object is then
	// the current one.
	addData(t, ta, "three")
	if confirmed(ta, h1) {
		t.Fatal("object still confirmed after a write")
	}
	if labelOf(t, ta, h1); !confirmed(ta, h1) {
		t.Fatal("object not confirmed again")
	}
}

// TestChangeCounterAfterCrash: a counter left odd (a writer died between
// begin and end) is not trusted, and the next write makes it even and new.
func TestChangeCounterAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	tok := initialised(t, path)
	h := addData(t, tok, "one")
	labelOf(t, tok, h)
	c0, ok := tok.store.changes.Load()
	if !ok || !confirmed(tok, h) {
		t.Fatalf("counter %d ok=%v after writes", c0, ok)
	}
	const crashed = 1001
	setChanges(t, path, crashed)
	if c, ok := tok.store.changes.Load(); ok {
		t.Fatalf("odd counter %d trusted", c)
	}
	if confirmed(tok, h) {
		t.Fatal("object confirmed under an odd counter")
	}
	if got := labelOf(t, tok, h); got != "one" || confirmed(tok, h) {
		t.Fatalf("under an odd counter: label %q, confirmed %v", got, confirmed(tok, h))
	}
	addData(t, tok, "two")
	c, ok := tok.store.changes.Load()
	if !ok || c == crashed+1 || c == c0 {
		t.Fatalf("after a write the counter is %d ok=%v (was %d, then %d)", c, ok, c0, crashed)
	}
	if labelOf(t, tok, h); !confirmed(tok, h) {
		t.Fatal("object not confirmed once the counter is even again")
	}
}

// TestSearchesSeeOtherProcesses: a search served from the store's memory of
// earlier searches is served without a query while the change counter
// vouches for it, and sees at once what another process (or this one)
// adds, renames or destroys; under an untrusted counter it asks the store.
func TestSearchesSeeOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	ta := initialised(t, path)
	tb := openTestToken(t, path)
	byLabel := func(label string) []uint64 {
		t.Helper()
		hs, err := ta.Find(Template{a(CKA_CLASS, CKO_DATA), a(CKA_LABEL, label)})
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	h1 := addData(t, ta, "one")
	if hs := byLabel("one"); !slices.Equal(hs, []uint64{h1}) {
		t.Fatalf("found %v, want [%d]", hs, h1)
	}
	// A row added behind the counter's back (no real process does this)
	// goes unseen: proof that the search was answered from memory.
	if _, err := tb.store.db.Exec(`INSERT INTO tags (object, tag) SELECT object, tag FROM tags WHERE object = ?`, h1); err != nil {
		t.Fatal(err)
	}
	if hs := byLabel("one"); len(hs) != 1 {
		t.Fatalf("a remembered search was asked again: %v", hs)
	}
	h2 := addData(t, tb, "one") // another process adds a second "one"
	if hs := byLabel("one"); len(hs) != 3 || !slices.Contains(hs, h2) {
		t.Fatalf("after another process added one: %v", hs) // h1 twice: the stray tag row
	}
	if err := tb.DestroyObject(h1); err != nil {
		t.Fatal(err)
	}
	if hs := byLabel("one"); !slices.Equal(hs, []uint64{h2}) {
		t.Fatalf("after another process destroyed %d: %v", h1, hs)
	}
	relabel(t, tb, h2, "two")
	if hs := byLabel("one"); len(hs) != 0 {
		t.Fatalf("a renamed object still found by its old label: %v", hs)
	}
	if hs := byLabel("two"); !slices.Equal(hs, []uint64{h2}) {
		t.Fatalf("renamed object not found by its new label: %v", hs)
	}
	h3 := addData(t, ta, "two") // this process's own write
	if hs := byLabel("two"); !slices.Equal(hs, []uint64{h2, h3}) {
		t.Fatalf("after this process added one: %v", hs)
	}
	// Under an odd counter (a writer died mid-write) every search asks.
	c, _ := ta.store.changes.Load()
	setChanges(t, path, c+1)
	if _, err := tb.store.db.Exec(`DELETE FROM tags WHERE object = ?`, h3); err != nil {
		t.Fatal(err)
	}
	if hs := byLabel("two"); !slices.Equal(hs, []uint64{h2}) {
		t.Fatalf("under an odd counter: %v", hs)
	}
}

// TestChangeCounterOverlappingWriters: a writer's end comes after its
// commit, when another process may already have begun; the counter must
// stay odd until the last writer ends, and then be new and even.
func TestChangeCounterOverlappingWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "changes")
	a, b := openChangeCounter(path), openChangeCounter(path)
	defer a.close()
	defer b.close()
	v0, ok := a.Load()
	if !ok {
		t.Fatalf("fresh counter %d not trusted", v0)
	}
	wa := a.begin() // a commits; before a's end, b begins
	wb := b.begin()
	a.end(wa)
	if v, ok := b.Load(); ok {
		t.Fatalf("counter %d trusted while b's write is under way", v)
	}
	b.end(wb)
	v, ok := a.Load()
	if !ok || v == v0 {
		t.Fatalf("after both writes: counter %d ok=%v (was %d)", v, ok, v0)
	}
	// One writer alone still moves it from even to even.
	a.end(a.begin())
	if v2, ok := b.Load(); !ok || v2 == v {
		t.Fatalf("after one more write: counter %d ok=%v (was %d)", v2, ok, v)
	}
}

// TestFindNoticesReinit: a search skips the token's generation query while
// the change counter vouches for it, but a re-initialisation by another
// process moves the counter, so the next search logs the stale login out.
func TestFindNoticesReinit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	a1 := initialised(t, path)
	b := openTestToken(t, path)
	loginUser(t, b)
	addData(t, b, "before")
	for range 2 { // the second search is the one the counter vouches for
		if hs, err := b.Find(Template{a(CKA_LABEL, "before")}); err != nil || len(hs) != 1 {
			t.Fatalf("find: %v %v", hs, err)
		}
	}
	if b.genChecked.Load() == 0 {
		t.Fatal("the generation check was not recorded")
	}
	if err := a1.InitToken([]byte("so-pin-1"), "new"); err != nil {
		t.Fatal(err)
	}
	hs, err := b.Find(nil)
	if err != nil || len(hs) != 0 {
		t.Fatalf("find after re-init: %v %v", hs, err)
	}
	if b.LoginState() != NotLoggedIn {
		t.Fatal("stale login kept after a search")
	}
}

// readOnly makes path unwritable, for root too (chattr +i), until undo.
func readOnly(t *testing.T, path string) (undo func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		undo = func() { os.Chmod(path, 0o600) }
		t.Cleanup(undo)
		return undo
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("root ignores file modes, and chattr +i failed: %v %s", err, out)
	}
	undo = func() { exec.Command("chattr", "-i", path).Run() }
	t.Cleanup(undo)
	return undo
}

// TestReadOnlyChangeFile: a process that can only read the change file
// reads the store (with the counter) and has every write refused, without
// touching the counter; once the file is writable again, it writes.
func TestReadOnlyChangeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	ta := initialised(t, path)
	h := addData(t, ta, "one")
	c0, _ := ta.store.changes.Load()
	// ta has the file mapped writable and must not write while it is
	// read-only: a write to a mapped page of an immutable file is SIGBUS.
	undo := readOnly(t, path+"-changes")
	tb := openTestToken(t, path)
	if tb.store.changes.write != nil {
		t.Fatal("read-only change file mapped writable")
	}
	if got := labelOf(t, tb, h); got != "one" || !confirmed(tb, h) {
		t.Fatalf("read through a read-only change file: label %q, confirmed %v", got, confirmed(tb, h))
	}
	o, _ := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, false)}, Origin{}, false)
	if _, err := tb.AddObject(o, 1); !errors.Is(err, CKR_DEVICE_ERROR) || !errors.Is(err, errChangesReadOnly) {
		t.Fatalf("write with a read-only change file: %v", err)
	}
	if err := tb.DestroyObject(h); !errors.Is(err, CKR_DEVICE_ERROR) {
		t.Fatalf("destroy with a read-only change file: %v", err)
	}
	if err := tb.Login(CKU_USER, []byte("user-pin")); !errors.Is(err, CKR_DEVICE_ERROR) {
		t.Fatalf("login (which counts the attempt) with a read-only change file: %v", err)
	}
	if c, _ := ta.store.changes.Load(); c != c0 {
		t.Fatalf("refused writes moved the counter from %d to %d", c0, c)
	}
	undo()
	h2 := addData(t, tb, "two")
	if got := labelOf(t, ta, h2); got != "two" {
		t.Fatalf("write after the fault: label %q", got)
	}
	if labelOf(t, tb, h); !confirmed(tb, h) {
		t.Fatal("not confirmed after the remap")
	}
}

// TestNoChangeFile: with no change file to map, every use asks the store
// and every write is refused.
func TestNoChangeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot-0.db")
	ta := initialised(t, path)
	h := addData(t, ta, "one")
	ta.Close()
	if err := os.Remove(path + "-changes"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path+"-changes", 0o700); err != nil {
		t.Fatal(err)
	}
	tb := openTestToken(t, path)
	if _, ok := tb.store.changes.Load(); ok {
		t.Fatal("counter trusted with no change file")
	}
	if got := labelOf(t, tb, h); got != "one" || confirmed(tb, h) {
		t.Fatalf("without a change file: label %q, confirmed %v", got, confirmed(tb, h))
	}
	if err := tb.DestroyObject(h); !errors.Is(err, errChangesReadOnly) {
		t.Fatalf("write without a change file: %v", err)
	}
}

// BenchmarkTokenObject: Token.Object on a cached token object from every
// CPU, as C_EncryptInit and friends do, with the change counter (no query)
// and without it (every use queries the store, as before the counter).
func BenchmarkTokenObject(b *testing.B) {
	path := filepath.Join(b.TempDir(), "slot-0.db")
	tok, err := OpenToken(Config{KDFIterations: 1000, MaxFailures: 3}, path, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer tok.Close()
	o, _ := NewObject(Template{a(CKA_CLASS, CKO_DATA), a(CKA_TOKEN, true), a(CKA_PRIVATE, false)}, Origin{}, false)
	h, err := tok.AddObject(o, 1)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				o, err := tok.Object(h)
				if err != nil {
					b.Error(err)
					return
				}
				o.Release()
			}
		})
	}
	b.Run("counter", run)
	c, _ := tok.store.changes.Load()
	setChanges(b, path, c+1) // as if a writer had died mid-write
	b.Run("no-counter", run)
}

// TestRefsCacheBounds: the remembered searches stay at most maxFound, the
// newest kept; a newer counter starts afresh and an older one is not
// remembered.
func TestRefsCacheBounds(t *testing.T) {
	var f refsCache
	for i := range maxFound + 100 {
		f.put(fmt.Append(nil, i), 10, []Ref{{Handle: int64(i)}})
	}
	if len(f.m) != maxFound {
		t.Fatalf("%d searches remembered, want %d", len(f.m), maxFound)
	}
	if refs, ok := f.get(fmt.Append(nil, maxFound+99), 10); !ok || refs[0].Handle != maxFound+99 {
		t.Fatalf("newest search: %v %v", refs, ok)
	}
	if _, ok := f.get(fmt.Append(nil, maxFound+99), 12); ok {
		t.Fatal("served at another counter")
	}
	f.put([]byte("old"), 8, nil)
	if _, ok := f.get([]byte("old"), 8); ok {
		t.Fatal("a search read at an older counter was remembered")
	}
	f.put([]byte("new"), 12, nil)
	if _, ok := f.get([]byte("new"), 12); !ok || len(f.m) != 1 {
		t.Fatalf("a newer counter did not start afresh: %d entries", len(f.m))
	}
}
