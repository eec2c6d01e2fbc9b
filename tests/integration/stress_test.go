//go:build integration

package integration

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

// TestStressConcurrency drives the module through the .so from many
// goroutines at once for about ten seconds:
//
//   - ten workers, six on sessions of their own and four on two shared
//     sessions, each doing ECDSA P-256 sign and verify, AES-GCM encryption,
//     searches, and the creation and destruction of public token data
//     objects;
//   - one goroutine logging the user in and out;
//   - one calling C_CloseAllSessions about every 500 ms;
//   - one calling C_Finalize then C_Initialize about every 500 ms.
//
// Every call must answer CKR_OK or a code the races allow (a session closed
// or the library finalised under the caller, the user logged out, a key
// handle gone with the login, an operation ended or started by another
// thread on a shared session); never CKR_GENERAL_ERROR or anything else.
// At the end every token object whose C_CreateObject returned CKR_OK and
// whose C_DestroyObject did not is found exactly once, no object is found
// twice, and nothing is found that a failed create made or an OK destroy
// removed. A watchdog fails the test, with a goroutine dump, if it has not
// finished in 60 s (a deadlock).
func TestStressConcurrency(t *testing.T) {
	const (
		ownWorkers    = 6
		sharedWorkers = 4
		nShared       = 2
		duration      = 10 * time.Second
		watchdog      = 60 * time.Second
		cyclePeriod   = 500 * time.Millisecond
		app           = "craton-stress"
	)
	start := time.Now()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(watchdog):
			buf := make([]byte, 8<<20)
			n := runtime.Stack(buf, true)
			fmt.Fprintf(os.Stderr, "TestStressConcurrency: not finished after %v: a deadlock in libcraton.so or in the test. Goroutines:\n%s\n", watchdog, buf[:n])
			panic("TestStressConcurrency: watchdog: no progress in 60 s (goroutine dump above)")
		}
	}()

	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)
	conf := cString(e.conf) // C memory, kept for every C_Initialize of the run

	// The keys, as token objects so that they outlive every session, login
	// and C_Finalize: an EC P-256 pair (the private half private) and an
	// AES-256 key (public, so encryption works logged out too).
	{
		sh := openRW(t, p, slot)
		loginUser(t, p, sh)
		ecParams := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
		_, _, err := p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ecParams),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "stress-ec"),
			},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "stress-ec"),
			})
		if err != nil {
			t.Fatalf("C_GenerateKeyPair(P-256): %v", err)
		}
		_, err = p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "stress-aes"),
			})
		if err != nil {
			t.Fatalf("C_GenerateKey(AES-256): %v", err)
		}
		if err := p.CloseSession(sh); err != nil {
			t.Fatalf("C_CloseSession: %v", err)
		}
	}

	// The return values the races allow.
	allowed := map[uint]bool{
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:  true,
		pkcs11.CKR_SESSION_HANDLE_INVALID:    true,
		pkcs11.CKR_SESSION_CLOSED:            true,
		pkcs11.CKR_USER_NOT_LOGGED_IN:        true,
		pkcs11.CKR_USER_ALREADY_LOGGED_IN:    true,
		pkcs11.CKR_OBJECT_HANDLE_INVALID:     true,
		pkcs11.CKR_KEY_HANDLE_INVALID:        true,
		pkcs11.CKR_OPERATION_NOT_INITIALIZED: true,
		pkcs11.CKR_OPERATION_ACTIVE:          true,
	}
	var (
		statsMu sync.Mutex
		stats   = map[string]map[string]int{} // call → return value → count
		bad     atomic.Int64                  // calls with a code outside allowed
		stop    atomic.Bool
		// epoch is odd while a C_CloseAllSessions or a C_Finalize/
		// C_Initialize is under way and grows by two for each: a check
		// that needs its session to stay the same compares it.
		epoch atomic.Uint64
	)
	rvName := func(err error) string {
		if err == nil {
			return "CKR_OK"
		}
		if e, ok := err.(pkcs11.Error); ok {
			return pkcs11.Error(e).Error()
		}
		return err.Error()
	}
	// check records a call's result; it fails the test for a code the races
	// do not allow and returns whether the call succeeded.
	check := func(who, call string, err error) bool {
		name := rvName(err)
		statsMu.Lock()
		m := stats[call]
		if m == nil {
			m = map[string]int{}
			stats[call] = m
		}
		m[name]++
		statsMu.Unlock()
		if err == nil {
			return true
		}
		var rv pkcs11.Error
		if e, ok := err.(pkcs11.Error); ok {
			rv = e
		}
		if !allowed[uint(rv)] {
			if bad.Add(1) <= 30 {
				t.Errorf("%s: %s: %v, which no race explains (at %v)", who, call, name, time.Since(start).Round(time.Millisecond))
			}
		}
		return false
	}
	sessionGone := func(err error) bool {
		return isRV(err, pkcs11.CKR_SESSION_HANDLE_INVALID) || isRV(err, pkcs11.CKR_SESSION_CLOSED) ||
			isRV(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	openSession := func(who string) (pkcs11.SessionHandle, bool) {
		sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		return sh, check(who, "C_OpenSession", err)
	}

	// Find the keys again (their handles could change with a new
	// C_Initialize). The search runs on a session of its own: a search is
	// per-session state, and on a shared session another worker's search
	// would interleave with this one (an application error PKCS#11 leaves
	// to the caller, not a token bug). Object handles are valid in every
	// session of the process.
	type keys struct{ priv, pub, aes pkcs11.ObjectHandle }
	findKeys := func(who string, _ pkcs11.SessionHandle) (keys, error) {
		var k keys
		sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		if !check(who, "C_OpenSession(key search)", err) {
			return k, err
		}
		defer func() { check(who, "C_CloseSession(key search)", p.CloseSession(sh)) }()
		for _, q := range []struct {
			class uint
			label string
			dst   *pkcs11.ObjectHandle
		}{
			{pkcs11.CKO_PRIVATE_KEY, "stress-ec", &k.priv},
			{pkcs11.CKO_PUBLIC_KEY, "stress-ec", &k.pub},
			{pkcs11.CKO_SECRET_KEY, "stress-aes", &k.aes},
		} {
			if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, q.class),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, q.label),
			}); !check(who, "C_FindObjectsInit(key)", err) {
				return k, err
			}
			hs, _, err := p.FindObjects(sh, 4)
			ok := check(who, "C_FindObjects(key)", err)
			check(who, "C_FindObjectsFinal(key)", p.FindObjectsFinal(sh))
			if !ok {
				return k, err
			}
			if len(hs) > 1 {
				t.Errorf("%s: %d keys labelled %s of class %d, want 1", who, len(hs), q.label, q.class)
			}
			if len(hs) == 1 {
				*q.dst = hs[0]
			}
		}
		return k, nil
	}

	// The objects: label → fate. Only the creating worker writes its own.
	type fate struct {
		created, createFailed, destroyed bool
		handle                           pkcs11.ObjectHandle
		value                            []byte
	}
	var fatesMu sync.Mutex
	fates := map[string]*fate{}

	shared := make([]atomic.Uint64, nShared)
	for i := range shared {
		sh, ok := openSession("setup")
		if !ok {
			t.Fatal("cannot open the shared sessions")
		}
		shared[i].Store(uint64(sh))
	}

	var wg sync.WaitGroup
	counts := struct{ signs, verifies, encrypts, finds, findChecks, creates, destroys atomic.Int64 }{}

	worker := func(w int, useShared bool) {
		defer wg.Done()
		who := fmt.Sprintf("worker %d (%s sessions)", w, map[bool]string{false: "own", true: "shared"}[useShared])
		rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
		var (
			own      pkcs11.SessionHandle
			ownEpoch uint64
			haveOwn  bool
			k        keys
			kEpoch   = ^uint64(0)
			mine     []string // labels of my live objects
			seq      int
		)
		session := func() (pkcs11.SessionHandle, int, bool) {
			if useShared {
				i := rng.IntN(nShared)
				return pkcs11.SessionHandle(shared[i].Load()), i, true
			}
			if !haveOwn {
				ownEpoch = epoch.Load()
				sh, ok := openSession(who)
				if !ok {
					return 0, -1, false
				}
				own, haveOwn = sh, true
			}
			return own, -1, true
		}
		lost := func(sh pkcs11.SessionHandle, i int, err error) {
			if !sessionGone(err) {
				return
			}
			if i < 0 {
				haveOwn = false
				return
			}
			// Replace the shared session (another worker may have done it).
			if nsh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); check(who, "C_OpenSession(shared)", err) {
				shared[i].CompareAndSwap(uint64(sh), uint64(nsh))
			}
		}
		for !stop.Load() {
			sh, si, ok := session()
			if !ok {
				time.Sleep(time.Millisecond)
				continue
			}
			// The keys, again after a C_Initialize, or while the private
			// one was not visible (logged out when they were looked up).
			if e := epoch.Load(); e != kEpoch || (k.priv == 0 && rng.IntN(20) == 0) {
				nk, err := findKeys(who, sh)
				if err != nil {
					lost(sh, si, err)
					time.Sleep(time.Millisecond)
					continue
				}
				k, kEpoch = nk, e
			}
			var err error
			switch op := rng.IntN(10); {
			case op < 3: // ECDSA P-256 sign, then verify
				data := []byte(fmt.Sprintf("%s %d %d", who, seq, rng.Uint64()))
				seq++
				err = p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA_SHA256, nil)}, k.priv)
				if !check(who, "C_SignInit", err) {
					break
				}
				var sig []byte
				sig, err = p.Sign(sh, data)
				if !check(who, "C_Sign", err) {
					break
				}
				counts.signs.Add(1)
				if len(sig) != 64 {
					t.Errorf("%s: C_Sign gave %d bytes, want 64", who, len(sig))
				}
				err = p.VerifyInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA_SHA256, nil)}, k.pub)
				if !check(who, "C_VerifyInit", err) {
					break
				}
				// Every signature made anywhere in this test is by the one
				// key over the data its caller passed, so even on a shared
				// session (where this call may finish another thread's
				// verification) it must verify.
				err = p.Verify(sh, data, sig)
				if check(who, "C_Verify", err) {
					counts.verifies.Add(1)
				}
			case op < 5: // AES-GCM encryption
				iv := make([]byte, 12)
				for i := range iv {
					iv[i] = byte(rng.Uint32())
				}
				gp := pkcs11.NewGCMParams(iv, []byte(who), 128)
				err = p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gp)}, k.aes)
				if check(who, "C_EncryptInit(GCM)", err) {
					pt := make([]byte, 1+rng.IntN(200))
					var ct []byte
					ct, err = p.Encrypt(sh, pt)
					if check(who, "C_Encrypt(GCM)", err) {
						counts.encrypts.Add(1)
						if len(ct) != len(pt)+16 {
							t.Errorf("%s: GCM gave %d bytes for %d, want %d", who, len(ct), len(pt), len(pt)+16)
						}
					}
				}
				gp.Free()
			case op < 7: // a search: one of my objects, or every stress object
				tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app)}
				var label string
				if len(mine) > 0 && rng.IntN(2) == 0 {
					label = mine[rng.IntN(len(mine))]
					tmpl = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}
				}
				e0 := epoch.Load()
				if err = p.FindObjectsInit(sh, tmpl); !check(who, "C_FindObjectsInit", err) {
					break
				}
				var all []pkcs11.ObjectHandle
				okAll := true
				for {
					var hs []pkcs11.ObjectHandle
					hs, _, err = p.FindObjects(sh, 64)
					if !check(who, "C_FindObjects", err) {
						okAll = false
						break
					}
					if len(hs) == 0 {
						break
					}
					all = append(all, hs...)
				}
				if err2 := p.FindObjectsFinal(sh); !check(who, "C_FindObjectsFinal", err2) {
					okAll = false
					if err == nil {
						err = err2
					}
				}
				counts.finds.Add(1)
				// On my own session, untouched by any close since it opened,
				// one of my live objects is found exactly once.
				if okAll && label != "" && !useShared && e0 == ownEpoch && e0%2 == 0 && epoch.Load() == e0 {
					counts.findChecks.Add(1)
					if len(all) != 1 {
						t.Errorf("%s: search for my live object %s found %d objects, want 1", who, label, len(all))
					}
				}
			case op < 9 || len(mine) == 0: // create a public token data object
				label := fmt.Sprintf("stress-w%d-%d", w, seq)
				seq++
				value := sha256.Sum256([]byte(label))
				f := &fate{value: value[:]}
				fatesMu.Lock()
				fates[label] = f
				fatesMu.Unlock()
				var h pkcs11.ObjectHandle
				h, err = p.CreateObject(sh, []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
					pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
					pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app),
					pkcs11.NewAttribute(pkcs11.CKA_VALUE, value[:]),
				})
				fatesMu.Lock()
				if check(who, "C_CreateObject", err) {
					f.created, f.handle = true, h
					mine = append(mine, label)
					counts.creates.Add(1)
				} else {
					f.createFailed = true
				}
				fatesMu.Unlock()
			default: // destroy one of my objects
				i := rng.IntN(len(mine))
				label := mine[i]
				fatesMu.Lock()
				h := fates[label].handle
				fatesMu.Unlock()
				err = p.DestroyObject(sh, h)
				if check(who, "C_DestroyObject", err) {
					fatesMu.Lock()
					fates[label].destroyed = true
					fatesMu.Unlock()
					mine = append(mine[:i], mine[i+1:]...)
					counts.destroys.Add(1)
				}
			}
			if err != nil {
				lost(sh, si, err)
			}
		}
	}
	for w := range ownWorkers + sharedWorkers {
		wg.Add(1)
		go worker(w, w >= ownWorkers)
	}

	// Login and logout, on a session of its own.
	wg.Add(1)
	go func() {
		defer wg.Done()
		const who = "login/logout"
		var sh pkcs11.SessionHandle
		have := false
		for i := 0; !stop.Load(); i++ {
			if !have {
				var ok bool
				if sh, ok = openSession(who); !ok {
					time.Sleep(2 * time.Millisecond)
					continue
				}
				have = true
			}
			// Logged in most of the time (signing needs it), out in bursts.
			var err error
			pause := time.Duration(5+rand.IntN(15)) * time.Millisecond
			if i%2 == 0 {
				err = p.Login(sh, pkcs11.CKU_USER, userPIN)
				check(who, "C_Login", err)
				if err == nil || isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
					pause = time.Duration(30+rand.IntN(60)) * time.Millisecond
				} else {
					i-- // log in again at once
				}
			} else {
				err = p.Logout(sh)
				check(who, "C_Logout", err)
			}
			if sessionGone(err) {
				have = false
				pause = time.Millisecond
			}
			time.Sleep(pause)
		}
	}()

	// C_CloseAllSessions about every 500 ms.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			time.Sleep(cyclePeriod - 100*time.Millisecond + time.Duration(rand.IntN(200))*time.Millisecond)
			if stop.Load() {
				break
			}
			epoch.Add(1)
			check("close-all", "C_CloseAllSessions", p.CloseAllSessions(slot))
			epoch.Add(1)
		}
	}()

	// C_Finalize then C_Initialize about every 500 ms. Only this goroutine
	// does either, so both must succeed.
	var cycles atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			time.Sleep(cyclePeriod - 100*time.Millisecond + time.Duration(rand.IntN(200))*time.Millisecond)
			if stop.Load() {
				break
			}
			epoch.Add(1)
			if err := p.Finalize(); err != nil {
				t.Errorf("finalizer: C_Finalize: %v", rvName(err))
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // calls run against a finalised library
			if err := p.Initialize(pkcs11.InitializeWithReserved(conf)); err != nil {
				t.Errorf("finalizer: C_Initialize: %v\n%s", rvName(err), e.logTail())
				epoch.Add(1)
				stop.Store(true)
				return
			}
			epoch.Add(1)
			cycles.Add(1)
		}
	}()

	time.Sleep(duration)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)

	// The summary of what ran.
	var lines []string
	statsMu.Lock()
	for call, m := range stats {
		var parts []string
		for rv, n := range m {
			parts = append(parts, fmt.Sprintf("%s:%d", strings.TrimPrefix(rv, "pkcs11: "), n))
		}
		sort.Strings(parts)
		lines = append(lines, fmt.Sprintf("  %-26s %s", call, strings.Join(parts, " ")))
	}
	statsMu.Unlock()
	sort.Strings(lines)
	t.Logf("%v: %d signatures, %d verifications, %d GCM encryptions, %d searches (%d checked), %d creates, %d destroys, %d finalize/initialize cycles\n%s",
		elapsed.Round(time.Millisecond), counts.signs.Load(), counts.verifies.Load(), counts.encrypts.Load(),
		counts.finds.Load(), counts.findChecks.Load(), counts.creates.Load(), counts.destroys.Load(), cycles.Load(),
		strings.Join(lines, "\n"))
	if n := bad.Load(); n > 0 {
		t.Errorf("%d calls answered a code outside the ones the races allow", n)
	}
	if cycles.Load() == 0 || counts.signs.Load() == 0 || counts.encrypts.Load() == 0 || counts.creates.Load() == 0 {
		t.Errorf("the run did too little to mean anything (see the counts above)")
	}

	// Nothing lost, nothing duplicated. The library is initialised (the
	// finalizer always ends with C_Initialize); a fresh session sees every
	// public token object.
	sh := openRW(t, p, slot)
	found := map[string][]pkcs11.ObjectHandle{}
	for _, h := range find(t, p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app)}) {
		label := string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "stress object"))
		found[label] = append(found[label], h)
		if v, f := mustAttr(t, p, sh, h, pkcs11.CKA_VALUE, label), fates[label]; f != nil && string(v) != string(f.value) {
			t.Errorf("object %s: CKA_VALUE is not the value it was created with", label)
		}
	}
	var live, lostN, dupN, phantomN, zombieN int
	for label, f := range fates {
		n := len(found[label])
		switch {
		case f.created && !f.destroyed:
			live++
			if n == 0 {
				lostN++
				if lostN <= 20 {
					t.Errorf("object %s (handle %d): created with CKR_OK, never destroyed, but not found: lost", label, f.handle)
				}
			}
		case f.destroyed:
			if n > 0 {
				zombieN++
				t.Errorf("object %s: C_DestroyObject returned CKR_OK but it is still found (%d times)", label, n)
			}
		case f.createFailed:
			if n > 0 {
				phantomN++
				t.Errorf("object %s: C_CreateObject failed but the object exists (%d times)", label, n)
			}
		}
		if n > 1 {
			dupN++
			t.Errorf("object %s: found %d times (handles %v), want once", label, n, found[label])
		}
	}
	for label := range found {
		if _, ok := fates[label]; !ok {
			t.Errorf("object %s found, which no worker tried to create", label)
		}
	}
	t.Logf("%d objects should live, %d found; lost %d, duplicated %d, phantom %d, destroyed-but-found %d",
		live, len(found), lostN, dupN, phantomN, zombieN)
	if log, err := os.ReadFile(e.log); err == nil &&
		(strings.Contains(string(log), "recovered panic") || strings.Contains(string(log), "error without a CK_RV")) {
		t.Errorf("the module log has a recovered panic or an unmapped error:\n%s", e.logTail())
	}
}
