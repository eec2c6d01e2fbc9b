//go:build integration

package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
)

const wrongPIN = "00000000"

func init() {
	helperRoles["lockout-step"] = helperLockoutStep
}

// pinFlags names the user-PIN flags in f.
func pinFlags(f uint) string {
	var s []string
	for _, x := range []struct {
		bit  uint
		name string
	}{
		{pkcs11.CKF_USER_PIN_COUNT_LOW, "COUNT_LOW"},
		{pkcs11.CKF_USER_PIN_FINAL_TRY, "FINAL_TRY"},
		{pkcs11.CKF_USER_PIN_LOCKED, "LOCKED"},
	} {
		if f&x.bit != 0 {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// userPINState reads the user-PIN flags of the token.
func userPINState(t testing.TB, p *pkcs11.Ctx, slot uint) string {
	t.Helper()
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		t.Fatalf("C_GetTokenInfo: %v", err)
	}
	return pinFlags(info.Flags)
}

// wantPINState fails unless the token's user-PIN flags are want: exactly,
// except that a locked PIN may also keep COUNT_LOW (PKCS#11 allows it).
func wantPINState(t testing.TB, p *pkcs11.Ctx, slot uint, want, when string) {
	t.Helper()
	got := userPINState(t, p, slot)
	if want == "LOCKED" && got == "COUNT_LOW|LOCKED" {
		return
	}
	if got != want {
		t.Errorf("%s: user PIN flags %s, want %s", when, got, want)
	}
}

// loginAttempts runs a script of logins on the token: "w" a wrong PIN that
// must give CKR_PIN_INCORRECT, "W" a wrong PIN that must give
// CKR_PIN_LOCKED, "L" the right PIN that must give CKR_PIN_LOCKED, "c" the
// right PIN that must succeed (followed by a logout). After each step the
// flags must be those listed in flags (one per step).
func loginAttempts(t testing.TB, p *pkcs11.Ctx, slot uint, script string, flags []string, who string) {
	t.Helper()
	if len(flags) != len(script) {
		t.Fatalf("bad script")
	}
	sh := openRO(t, p, slot)
	defer p.CloseSession(sh)
	for i, step := range script {
		what := fmt.Sprintf("%s: attempt %d (%c)", who, i+1, step)
		switch step {
		case 'w':
			wantRV(t, p.Login(sh, pkcs11.CKU_USER, wrongPIN), pkcs11.CKR_PIN_INCORRECT, what+": wrong user PIN")
		case 'W':
			wantRV(t, p.Login(sh, pkcs11.CKU_USER, wrongPIN), pkcs11.CKR_PIN_LOCKED, what+": wrong user PIN on a locked token")
		case 'L':
			wantRV(t, p.Login(sh, pkcs11.CKU_USER, userPIN), pkcs11.CKR_PIN_LOCKED, what+": right user PIN on a locked token")
		case 'c':
			if err := p.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
				t.Fatalf("%s: right user PIN: %v", what, err)
			}
			if err := p.Logout(sh); err != nil {
				t.Fatalf("%s: C_Logout: %v", what, err)
			}
		}
		wantPINState(t, p, slot, flags[i], what)
	}
}

// helperLockoutStep runs a login script in a fresh process.
func helperLockoutStep(t *testing.T, h *helper) {
	p := h.env.open(t)
	slot := firstSlot(t, p)
	wantPINState(t, p, slot, h.arg(t, "START"), "child: at start")
	script := h.arg(t, "SCRIPT")
	loginAttempts(t, p, slot, script, strings.Split(h.arg(t, "FLAGS"), ","), "child")
	if t.Failed() {
		return
	}
	h.result("attempts", len(script))
	h.result("flags", userPINState(t, p, slot))
}

// TestLockoutPersists: max_failures = 5. Failures count across processes,
// COUNT_LOW and FINAL_TRY show on the way, the fifth failure locks, and the
// lock survives C_Finalize and a new process; only the SO unlocks it.
func TestLockoutPersists(t *testing.T) {
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)
	wantPINState(t, p, slot, "none", "fresh token")

	// A success resets the count.
	loginAttempts(t, p, slot, "wwc", []string{"COUNT_LOW", "COUNT_LOW", "none"}, "parent, reset")
	// Two failures here…
	loginAttempts(t, p, slot, "ww", []string{"COUNT_LOW", "COUNT_LOW"}, "parent")
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
	// …two more in another process reach the final try, the fifth locks.
	res := runChild(t, e, childSpec{role: "lockout-step", args: map[string]string{
		"START":  "COUNT_LOW",
		"SCRIPT": "wwwLW",
		"FLAGS":  "COUNT_LOW,COUNT_LOW|FINAL_TRY,LOCKED,LOCKED,LOCKED",
	}})
	if got := one(t, res, "flags"); !strings.Contains(got, "LOCKED") {
		t.Errorf("child ended with flags %s", got)
	}
	// Another new process: still locked, even with the right PIN.
	res = runChild(t, e, childSpec{role: "lockout-step", args: map[string]string{
		"START": "LOCKED", "SCRIPT": "LL", "FLAGS": "LOCKED,LOCKED",
	}})
	if got := one(t, res, "flags"); !strings.Contains(got, "LOCKED") {
		t.Errorf("second child ended with flags %s", got)
	}

	// This process again, after C_Finalize and C_Initialize: still locked.
	p = e.open(t)
	wantPINState(t, p, slot, "LOCKED", "parent after re-initialisation")
	loginAttempts(t, p, slot, "L", []string{"LOCKED"}, "parent after re-initialisation")

	// The SO sets a new user PIN, which unlocks it.
	sh := openRW(t, p, slot)
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		t.Fatalf("C_Login(SO) with the user PIN locked: %v", err)
	}
	if err := p.InitPIN(sh, userPIN); err != nil {
		t.Fatalf("C_InitPIN to unlock: %v", err)
	}
	if err := p.Logout(sh); err != nil {
		t.Fatal(err)
	}
	if err := p.CloseSession(sh); err != nil {
		t.Fatal(err)
	}
	wantPINState(t, p, slot, "none", "after C_InitPIN by the SO")
	loginAttempts(t, p, slot, "c", []string{"none"}, "after unlock")
	t.Logf("user PIN: 2 failures + success reset; 2 failures (parent) + 3 (child) locked at the 5th; CKR_PIN_LOCKED for the right PIN in 2 later processes (3 attempts) and after C_Finalize; SO C_InitPIN unlocked")
}

// TestLockoutConcurrentGuesses: the limit holds when wrong PINs arrive all
// at once. 32 sessions of one process call C_Login with different wrong
// PINs together; with max_failures = 5, at most five may be judged
// (CKR_PIN_INCORRECT), every other attempt must get CKR_PIN_LOCKED.
// Otherwise parallel callers get more guesses than the limit allows.
func TestLockoutConcurrentGuesses(t *testing.T) {
	const n = 32
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)
	shs := make([]pkcs11.SessionHandle, n)
	for i := range shs {
		shs[i] = openRO(t, p, slot)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[string]int{}
		start  = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := p.Login(shs[i], pkcs11.CKU_USER, fmt.Sprintf("%08d", 10000000+i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case isRV(err, pkcs11.CKR_PIN_INCORRECT):
				counts["incorrect"]++
			case isRV(err, pkcs11.CKR_PIN_LOCKED):
				counts["locked"]++
			default:
				counts[rvString(err)]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if counts["incorrect"]+counts["locked"] != n {
		t.Errorf("unexpected return values: %v", counts)
	}
	if counts["incorrect"] > e.maxFailures {
		t.Errorf("%d of %d concurrent wrong PINs were judged (CKR_PIN_INCORRECT), max_failures is %d: the lockout admits extra guesses when attempts overlap (%v)",
			counts["incorrect"], n, e.maxFailures, counts)
	}
	wantPINState(t, p, slot, "LOCKED", "after the concurrent guesses")
	wantRV(t, p.Login(shs[0], pkcs11.CKU_USER, userPIN), pkcs11.CKR_PIN_LOCKED, "right PIN after the concurrent guesses")
	t.Logf("%d concurrent wrong C_Login: %d CKR_PIN_INCORRECT, %d CKR_PIN_LOCKED (limit %d)", n, counts["incorrect"], counts["locked"], e.maxFailures)
}
