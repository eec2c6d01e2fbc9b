//go:build integration

package integration

import (
	"testing"

	"github.com/miekg/pkcs11"
)

var stateNames = map[uint]string{
	pkcs11.CKS_RO_PUBLIC_SESSION: "RO_PUBLIC",
	pkcs11.CKS_RO_USER_FUNCTIONS: "RO_USER",
	pkcs11.CKS_RW_PUBLIC_SESSION: "RW_PUBLIC",
	pkcs11.CKS_RW_USER_FUNCTIONS: "RW_USER",
	pkcs11.CKS_RW_SO_FUNCTIONS:   "RW_SO",
}

// wantState checks C_GetSessionInfo of sh: slot, state and flags.
func wantState(t testing.TB, p *pkcs11.Ctx, slot uint, sh pkcs11.SessionHandle, want uint, when string) {
	t.Helper()
	info, err := p.GetSessionInfo(sh)
	if err != nil {
		t.Errorf("%s: C_GetSessionInfo(%d): %v", when, sh, err)
		return
	}
	if info.State != want {
		t.Errorf("%s: session %d state %s (%d), want %s", when, sh, stateNames[info.State], info.State, stateNames[want])
	}
	if info.SlotID != slot {
		t.Errorf("%s: session %d slot %d, want %d", when, sh, info.SlotID, slot)
	}
	rw := want == pkcs11.CKS_RW_PUBLIC_SESSION || want == pkcs11.CKS_RW_USER_FUNCTIONS || want == pkcs11.CKS_RW_SO_FUNCTIONS
	wantFlags := uint(pkcs11.CKF_SERIAL_SESSION)
	if rw {
		wantFlags |= pkcs11.CKF_RW_SESSION
	}
	if info.Flags != wantFlags {
		t.Errorf("%s: session %d flags %#x, want %#x", when, sh, info.Flags, wantFlags)
	}
}

func wantSessionCounts(t testing.TB, p *pkcs11.Ctx, slot uint, all, rw uint, when string) {
	t.Helper()
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		t.Fatalf("C_GetTokenInfo: %v", err)
	}
	if info.SessionCount != all || info.RwSessionCount != rw {
		t.Errorf("%s: token reports %d sessions (%d RW), want %d (%d RW)", when, info.SessionCount, info.RwSessionCount, all, rw)
	}
}

// TestSessionRules: session states across login and logout, the last
// session's close logging out, C_CloseAllSessions, and C_InitToken's rules.
func TestSessionRules(t *testing.T) {
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)

	// States across login/logout, in RO and RW sessions.
	ro, rw := openRO(t, p, slot), openRW(t, p, slot)
	wantSessionCounts(t, p, slot, 2, 1, "one RO + one RW session")
	wantState(t, p, slot, ro, pkcs11.CKS_RO_PUBLIC_SESSION, "fresh RO")
	wantState(t, p, slot, rw, pkcs11.CKS_RW_PUBLIC_SESSION, "fresh RW")
	wantRV(t, p.Logout(ro), pkcs11.CKR_USER_NOT_LOGGED_IN, "C_Logout while nobody is logged in")
	loginUser(t, p, ro) // login through the RO session: all sessions change
	wantState(t, p, slot, ro, pkcs11.CKS_RO_USER_FUNCTIONS, "user logged in (RO)")
	wantState(t, p, slot, rw, pkcs11.CKS_RW_USER_FUNCTIONS, "user logged in (RW)")
	wantRV(t, p.Login(rw, pkcs11.CKU_USER, userPIN), pkcs11.CKR_USER_ALREADY_LOGGED_IN, "second user login")
	wantRV(t, p.Login(rw, pkcs11.CKU_SO, soPIN), pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "SO login while the user is logged in")
	ro2 := openRO(t, p, slot) // a session opened while logged in starts logged in
	wantState(t, p, slot, ro2, pkcs11.CKS_RO_USER_FUNCTIONS, "RO session opened after login")
	if err := p.Logout(rw); err != nil { // logout through another session
		t.Fatalf("C_Logout: %v", err)
	}
	for _, s := range []pkcs11.SessionHandle{ro, ro2} {
		wantState(t, p, slot, s, pkcs11.CKS_RO_PUBLIC_SESSION, "after logout (RO)")
	}
	wantState(t, p, slot, rw, pkcs11.CKS_RW_PUBLIC_SESSION, "after logout (RW)")

	// The SO cannot log in while a read-only session exists, nor open one.
	wantRV(t, p.Login(rw, pkcs11.CKU_SO, soPIN), pkcs11.CKR_SESSION_READ_ONLY_EXISTS, "SO login with RO sessions open")
	for _, s := range []pkcs11.SessionHandle{ro, ro2} {
		if err := p.CloseSession(s); err != nil {
			t.Fatalf("C_CloseSession: %v", err)
		}
		_, err := p.GetSessionInfo(s)
		wantRV(t, err, pkcs11.CKR_SESSION_HANDLE_INVALID, "C_GetSessionInfo on a closed session")
	}
	if err := p.Login(rw, pkcs11.CKU_SO, soPIN); err != nil {
		t.Fatalf("C_Login(SO): %v", err)
	}
	wantState(t, p, slot, rw, pkcs11.CKS_RW_SO_FUNCTIONS, "SO logged in")
	_, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	wantRV(t, err, pkcs11.CKR_SESSION_READ_WRITE_SO_EXISTS, "opening an RO session while the SO is logged in")
	rw2 := openRW(t, p, slot)
	wantState(t, p, slot, rw2, pkcs11.CKS_RW_SO_FUNCTIONS, "RW session opened while the SO is logged in")
	_, err = p.OpenSession(slot, 0)
	wantRV(t, err, pkcs11.CKR_SESSION_PARALLEL_NOT_SUPPORTED, "C_OpenSession without CKF_SERIAL_SESSION")
	if err := p.Logout(rw2); err != nil {
		t.Fatalf("C_Logout(SO): %v", err)
	}
	wantState(t, p, slot, rw, pkcs11.CKS_RW_PUBLIC_SESSION, "after SO logout")

	// Closing the last session logs out; closing any other does not.
	loginUser(t, p, rw)
	if err := p.CloseSession(rw); err != nil {
		t.Fatal(err)
	}
	wantState(t, p, slot, rw2, pkcs11.CKS_RW_USER_FUNCTIONS, "after closing one of two sessions")
	if err := p.CloseSession(rw2); err != nil {
		t.Fatal(err)
	}
	wantSessionCounts(t, p, slot, 0, 0, "all closed")
	s := openRO(t, p, slot)
	wantState(t, p, slot, s, pkcs11.CKS_RO_PUBLIC_SESSION, "new session after the last one closed while logged in")
	wantRV(t, p.Logout(s), pkcs11.CKR_USER_NOT_LOGGED_IN, "C_Logout after the last session closed")
	if err := p.CloseSession(s); err != nil {
		t.Fatal(err)
	}

	// Session objects die with their session; token objects do not.
	a, b := openRW(t, p, slot), openRW(t, p, slot)
	sessObj := create(t, p, a, dataTemplate("sess-obj", []byte("x"), false, false), "session object")
	tokObj := create(t, p, a, dataTemplate("tok-obj", []byte("y"), true, false), "token object")
	if n := len(findLabel(t, p, b, "sess-obj")); n != 1 {
		t.Errorf("another session of the same process sees %d session objects, want 1", n)
	}
	if err := p.CloseSession(a); err != nil {
		t.Fatal(err)
	}
	if n := len(findLabel(t, p, b, "sess-obj")); n != 0 {
		t.Errorf("session object still found after its session closed (%d)", n)
	}
	_, err = attr(p, b, sessObj, pkcs11.CKA_VALUE)
	wantRV(t, err, pkcs11.CKR_OBJECT_HANDLE_INVALID, "reading a session object after its session closed")
	if v, err := attr(p, b, tokObj, pkcs11.CKA_VALUE); err != nil || string(v) != "y" {
		t.Errorf("token object after its creating session closed: %q, %v", v, err)
	}

	// A private session object exists only while the user is logged in.
	loginUser(t, p, b)
	privSess := create(t, p, b, dataTemplate("sess-private", []byte("w"), false, true), "private session object")
	if n := len(findLabel(t, p, b, "sess-private")); n != 1 {
		t.Errorf("private session object: %d found while logged in", n)
	}
	if err := p.Logout(b); err != nil {
		t.Fatal(err)
	}
	if n := len(findLabel(t, p, b, "sess-private")); n != 0 {
		t.Errorf("private session object found after logout (%d)", n)
	}
	_, err = attr(p, b, privSess, pkcs11.CKA_VALUE)
	wantRV(t, err, pkcs11.CKR_OBJECT_HANDLE_INVALID, "reading a private session object after logout")
	loginUser(t, p, b)
	if v, err := attr(p, b, privSess, pkcs11.CKA_VALUE); err != nil || string(v) != "w" {
		t.Errorf("private session object after logging in again: %q, %v", v, err)
	}
	if err := p.Logout(b); err != nil {
		t.Fatal(err)
	}

	// C_CloseAllSessions closes every session and logs out.
	hs := []pkcs11.SessionHandle{b, openRW(t, p, slot), openRO(t, p, slot)}
	loginUser(t, p, hs[1])
	create(t, p, hs[1], dataTemplate("sess-obj-2", []byte("z"), false, true), "private session object")
	wantSessionCounts(t, p, slot, 3, 2, "before C_CloseAllSessions")
	if err := p.CloseAllSessions(slot); err != nil {
		t.Fatalf("C_CloseAllSessions: %v", err)
	}
	for _, h := range hs {
		_, err := p.GetSessionInfo(h)
		wantRV(t, err, pkcs11.CKR_SESSION_HANDLE_INVALID, "C_GetSessionInfo after C_CloseAllSessions")
	}
	wantSessionCounts(t, p, slot, 0, 0, "after C_CloseAllSessions")
	wantRV(t, p.CloseAllSessions(slot+1000), pkcs11.CKR_SLOT_ID_INVALID, "C_CloseAllSessions on a bad slot")
	s = openRW(t, p, slot)
	wantState(t, p, slot, s, pkcs11.CKS_RW_PUBLIC_SESSION, "session after C_CloseAllSessions")
	loginUser(t, p, s)
	if n := len(findLabel(t, p, s, "sess-obj-2")); n != 0 {
		t.Errorf("session object survived C_CloseAllSessions (%d)", n)
	}

	// Objects for the re-initialisation checks: public, private, a key.
	create(t, p, s, dataTemplate("reinit-public", []byte("p"), true, false), "public token object")
	create(t, p, s, dataTemplate("reinit-private", []byte("q"), true, true), "private token object")
	create(t, p, s, aesTemplate("reinit-key", randBytes(t, 32), true), "token key")
	before := len(find(t, p, s, nil))
	if before != 4 { // with tok-obj
		t.Errorf("%d objects before re-initialisation, want 4", before)
	}

	// C_InitToken refuses while a session is open…
	wantRV(t, p.InitToken(slot, soPIN, "relabelled"), pkcs11.CKR_SESSION_EXISTS, "C_InitToken with a session open")
	if err := p.CloseSession(s); err != nil {
		t.Fatal(err)
	}
	// …refuses a wrong SO PIN and changes nothing…
	wantRV(t, p.InitToken(slot, "87654320", "relabelled"), pkcs11.CKR_PIN_INCORRECT, "C_InitToken with a wrong SO PIN")
	wantRV(t, p.InitToken(slot, userPIN, "relabelled"), pkcs11.CKR_PIN_INCORRECT, "C_InitToken with the user PIN as SO PIN")
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != tokenLabel {
		t.Errorf("label after refused C_InitToken: %q", info.Label)
	}
	if info.Flags&pkcs11.CKF_SO_PIN_COUNT_LOW == 0 {
		t.Errorf("no CKF_SO_PIN_COUNT_LOW after two wrong SO PINs (flags %#x)", info.Flags)
	}
	s = openRO(t, p, slot)
	loginUser(t, p, s)
	if n := len(find(t, p, s, nil)); n != before {
		t.Errorf("%d objects after refused C_InitToken, want %d", n, before)
	}
	if err := p.CloseSession(s); err != nil { // last session: logs out
		t.Fatal(err)
	}

	// …and with the right SO PIN wipes every object and the user PIN.
	if err := p.InitToken(slot, soPIN, "relabelled"); err != nil {
		t.Fatalf("C_InitToken with the right SO PIN: %v", err)
	}
	info, err = p.GetTokenInfo(slot)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != "relabelled" {
		t.Errorf("label after C_InitToken: %q, want %q", info.Label, "relabelled")
	}
	if info.Flags&pkcs11.CKF_USER_PIN_INITIALIZED != 0 {
		t.Errorf("CKF_USER_PIN_INITIALIZED still set after re-initialisation")
	}
	if info.Flags&(pkcs11.CKF_SO_PIN_COUNT_LOW|pkcs11.CKF_SO_PIN_FINAL_TRY|pkcs11.CKF_SO_PIN_LOCKED) != 0 {
		t.Errorf("SO PIN failure flags survive a successful C_InitToken: %#x", info.Flags)
	}
	s = openRW(t, p, slot)
	wantRV(t, p.Login(s, pkcs11.CKU_USER, userPIN), pkcs11.CKR_USER_PIN_NOT_INITIALIZED, "user login after re-initialisation")
	if n := len(find(t, p, s, nil)); n != 0 {
		t.Errorf("%d public objects after re-initialisation, want 0", n)
	}
	if err := p.Login(s, pkcs11.CKU_SO, soPIN); err != nil {
		t.Fatalf("SO login after re-initialisation: %v", err)
	}
	if err := p.InitPIN(s, userPIN); err != nil {
		t.Fatal(err)
	}
	if err := p.Logout(s); err != nil {
		t.Fatal(err)
	}
	loginUser(t, p, s)
	if n := len(find(t, p, s, nil)); n != 0 {
		t.Errorf("%d objects (private included) after re-initialisation, want 0", n)
	}
	if n := len(findLabel(t, p, s, "reinit-private")); n != 0 {
		t.Errorf("private object survived re-initialisation")
	}
	// In a new process too.
	if err := p.Finalize(); err != nil {
		t.Fatal(err)
	}
	p = e.open(t)
	s = openRO(t, p, slot)
	loginUser(t, p, s)
	if n := len(find(t, p, s, nil)); n != 0 {
		t.Errorf("%d objects after re-initialisation and C_Finalize/C_Initialize, want 0", n)
	}
}
