//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

// TestConcurrentSessions: eight goroutines, each with its own session on
// one module, create, find, read and destroy public objects (token and
// session) for about two seconds while a ninth logs the user in and out.
// Every call must succeed, every search must return exactly the objects the
// goroutine holds, and the counts must agree at the end.
func TestConcurrentSessions(t *testing.T) {
	const (
		workers  = 8
		duration = 2 * time.Second
	)
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)

	type obj struct {
		label string
		value []byte
		token bool
	}
	type stats struct {
		creates, finds, reads, destroys, infos int
		live                                   map[pkcs11.ObjectHandle]obj
		sh                                     pkcs11.SessionHandle
	}
	results := make([]*stats, workers)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		sh := openRW(t, p, slot)
		st := &stats{live: map[pkcs11.ObjectHandle]obj{}, sh: sh}
		results[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("conc-w%d", w)
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			fail := func(format string, args ...any) {
				t.Errorf("worker %d: "+format, append([]any{w}, args...)...)
				stop.Store(true)
			}
			for seq := 0; !stop.Load(); seq++ {
				// Create: two token objects for one session object.
				o := obj{label: fmt.Sprintf("w%d-%d", w, seq), value: []byte(fmt.Sprintf("v-%d-%d-%d", w, seq, rng.Uint64())), token: seq%3 != 2}
				tmpl := dataTemplate(o.label, o.value, o.token, false)
				tmpl[4] = pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app)
				h, err := p.CreateObject(sh, tmpl)
				if err != nil {
					fail("C_CreateObject %s: %v", o.label, err)
					return
				}
				if _, dup := st.live[h]; dup {
					fail("C_CreateObject returned handle %d, already one of mine", h)
					return
				}
				st.live[h] = o
				st.creates++

				// Read a random live object back.
				hs := make([]pkcs11.ObjectHandle, 0, len(st.live))
				for k := range st.live {
					hs = append(hs, k)
				}
				pick := hs[rng.IntN(len(hs))]
				as, err := p.GetAttributeValue(sh, pick, []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
					pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
				})
				if err != nil {
					fail("C_GetAttributeValue(%d): %v", pick, err)
					return
				}
				want := st.live[pick]
				if string(as[0].Value) != want.label || !bytes.Equal(as[1].Value, want.value) || boolAttr(as[2].Value) != want.token {
					fail("object %d reads back as %q/%q/%x, want %q/%q/%v", pick, as[0].Value, as[1].Value, as[2].Value, want.label, want.value, want.token)
					return
				}
				st.reads++

				// Search: exactly my live objects.
				if seq%4 == 0 {
					found, err := findErr(p, sh, appTemplate(app))
					if err != nil {
						fail("%v", err)
						return
					}
					slices.Sort(found)
					slices.Sort(hs)
					if !slices.Equal(found, hs) {
						fail("search returned %d handles, I hold %d (%v vs %v)", len(found), len(hs), head(handleStrings(found)), head(handleStrings(hs)))
						return
					}
					st.finds++
				}

				// Destroy one in three.
				if seq%3 == 1 {
					victim := hs[rng.IntN(len(hs))]
					if err := p.DestroyObject(sh, victim); err != nil {
						fail("C_DestroyObject(%d): %v", victim, err)
						return
					}
					delete(st.live, victim)
					if _, err := attr(p, sh, victim, pkcs11.CKA_LABEL); !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
						fail("reading destroyed object %d: %v, want CKR_OBJECT_HANDLE_INVALID", victim, rvString(err))
						return
					}
					st.destroys++
				}

				// The session's state follows the other goroutine's login.
				if seq%8 == 0 {
					info, err := p.GetSessionInfo(sh)
					if err != nil {
						fail("C_GetSessionInfo: %v", err)
						return
					}
					if info.State != pkcs11.CKS_RW_PUBLIC_SESSION && info.State != pkcs11.CKS_RW_USER_FUNCTIONS {
						fail("session state %d", info.State)
						return
					}
					st.infos++
				}
			}
		}()
	}

	// The ninth goroutine: login/logout cycles on its own session.
	var cycles atomic.Int64
	loginSh := openRW(t, p, slot)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := p.Login(loginSh, pkcs11.CKU_USER, userPIN); err != nil {
				t.Errorf("login goroutine: C_Login: %v", err)
				stop.Store(true)
				return
			}
			if info, err := p.GetSessionInfo(loginSh); err != nil || info.State != pkcs11.CKS_RW_USER_FUNCTIONS {
				t.Errorf("login goroutine: state after login %v, %v", info.State, err)
				stop.Store(true)
				return
			}
			if err := p.Logout(loginSh); err != nil {
				t.Errorf("login goroutine: C_Logout: %v", err)
				stop.Store(true)
				return
			}
			cycles.Add(1)
		}
	}()

	// At least duration, and on (up to 15 s) until the login goroutine has
	// done 10 cycles: each is a PBKDF2 competing with eight busy workers for
	// two cores, and a fixed time gave 9 to 41 of them from run to run.
	time.Sleep(duration)
	for end := time.Now().Add(15 * time.Second); cycles.Load() < 10 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Final accounting, from a fresh session.
	check := openRO(t, p, slot)
	var creates, finds, reads, destroys, infos, liveAll, liveToken int
	for w, st := range results {
		creates += st.creates
		finds += st.finds
		reads += st.reads
		destroys += st.destroys
		infos += st.infos
		liveAll += len(st.live)
		for _, o := range st.live {
			if o.token {
				liveToken++
			}
		}
		if got := len(find(t, p, check, appTemplate(fmt.Sprintf("conc-w%d", w)))); got != len(st.live) {
			t.Errorf("worker %d holds %d objects, a search finds %d", w, len(st.live), got)
		}
		if st.creates-st.destroys != len(st.live) {
			t.Errorf("worker %d: %d creates - %d destroys != %d live", w, st.creates, st.destroys, len(st.live))
		}
	}
	if got := len(find(t, p, check, nil)); got != liveAll {
		t.Errorf("all objects: search finds %d, workers hold %d", got, liveAll)
	}
	// Closing the workers' sessions removes their session objects only.
	for _, st := range results {
		if err := p.CloseSession(st.sh); err != nil {
			t.Errorf("C_CloseSession: %v", err)
		}
	}
	if got := len(find(t, p, check, nil)); got != liveToken {
		t.Errorf("after closing the workers' sessions: %d objects, want the %d token objects", got, liveToken)
	}
	if creates < workers*10 || cycles.Load() < 10 {
		t.Errorf("too little work to mean anything: %d creates, %d login cycles", creates, cycles.Load())
	}
	t.Logf("%d goroutines × %v: %d creates, %d reads, %d searches (each equal to the holder's set), %d destroys, %d session-info checks; %d login/logout cycles alongside; end: %d live objects (%d token), counts agree",
		workers, duration, creates, reads, finds, destroys, infos, cycles.Load(), liveAll, liveToken)
}

func handleStrings(hs []pkcs11.ObjectHandle) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprint(uint(h))
	}
	return out
}

// TestKeyReadsDuringLogout: reading an extractable key's CKA_VALUE while
// another session logs the user in and out. Each read must return the
// key's exact bytes, or refuse (CKR_ATTRIBUTE_SENSITIVE for the public key
// whose sealed value needs a login, CKR_OBJECT_HANDLE_INVALID for the
// private key while nobody is logged in); CKR_OK with other bytes is never
// acceptable.
func TestKeyReadsDuringLogout(t *testing.T) {
	const duration = 1500 * time.Millisecond
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	type key struct {
		name  string
		h     pkcs11.ObjectHandle
		value []byte
	}
	var keys []key
	for _, private := range []bool{false, true} {
		v := randBytes(t, 32)
		name := fmt.Sprintf("extractable AES key, CKA_PRIVATE %v", private)
		h := create(t, p, sh, aesTemplate(name, v, true,
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)), name)
		keys = append(keys, key{name, h, v})
	}

	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[string]int{}
		wrong  []string
	)
	for r := range 4 {
		rs := openRO(t, p, slot)
		k := keys[r%len(keys)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v, err := attr(p, rs, k.h, pkcs11.CKA_VALUE)
				var what string
				switch {
				case err == nil && bytes.Equal(v, k.value):
					what = "equal"
				case err == nil:
					what = "WRONG"
				case isRV(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE), isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID):
					what = "refused"
				default:
					what = rvString(err)
				}
				mu.Lock()
				counts[what]++
				if what == "WRONG" && len(wrong) < 3 {
					wrong = append(wrong, fmt.Sprintf("%s: got %x, want %x", k.name, v, k.value))
				}
				mu.Unlock()
			}
		}()
	}
	if err := p.Logout(sh); err != nil {
		t.Fatal(err)
	}
	cycles := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := p.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
				t.Errorf("C_Login: %v", err)
				return
			}
			if err := p.Logout(sh); err != nil {
				t.Errorf("C_Logout: %v", err)
				return
			}
			cycles++
		}
	}()
	time.Sleep(duration)
	stop.Store(true)
	wg.Wait()
	for k, n := range counts {
		if k != "equal" && k != "refused" {
			t.Errorf("%d reads of CKA_VALUE ended %s", n, k)
		}
	}
	for _, w := range wrong {
		t.Errorf("CKR_OK with the wrong key bytes during a concurrent C_Logout: %s", w)
	}
	if counts["equal"] == 0 {
		t.Errorf("no read ever returned the key: nothing was tested (%v)", counts)
	}
	t.Logf("%d login/logout cycles; CKA_VALUE reads: %v", cycles, counts)
}
