package pkcs11

import (
	"bytes"
	"testing"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

func TestTokenLifecycle(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	m := newModule(t, cfg)
	info, err := m.GetTokenInfo(0)
	must(t, err)
	if info.Flags&ck.CKF_TOKEN_INITIALIZED != 0 {
		t.Fatal("fresh token claims to be initialised")
	}
	must(t, m.InitToken(0, []byte(soPIN), padLabel("my token")))
	info, err = m.GetTokenInfo(0)
	must(t, err)
	if info.Label != "my token" || info.Flags&ck.CKF_TOKEN_INITIALIZED == 0 || info.Flags&ck.CKF_USER_PIN_INITIALIZED != 0 {
		t.Fatalf("after InitToken: %+v", info)
	}
	sh := open(t, m, true)
	wantRV(t, m.InitToken(0, []byte(soPIN), padLabel("x")), ck.CKR_SESSION_EXISTS)
	wantRV(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)), ck.CKR_USER_PIN_NOT_INITIALIZED)
	wantRV(t, m.InitPIN(sh, []byte(userPIN)), ck.CKR_USER_NOT_LOGGED_IN)
	must(t, m.Login(sh, ck.CKU_SO, []byte(soPIN)))
	wantRV(t, m.Login(sh, ck.CKU_SO, []byte(soPIN)), ck.CKR_USER_ALREADY_LOGGED_IN)
	wantRV(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)), ck.CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
	si, err := m.GetSessionInfo(sh)
	must(t, err)
	if si.State != ck.CKS_RW_SO_FUNCTIONS {
		t.Fatalf("state %d", si.State)
	}
	_, err = m.OpenSession(0, ck.CKF_SERIAL_SESSION)
	wantRV(t, err, ck.CKR_SESSION_READ_WRITE_SO_EXISTS)
	wantRV(t, m.InitPIN(sh, []byte("12")), ck.CKR_PIN_LEN_RANGE)
	must(t, m.InitPIN(sh, []byte(userPIN)))
	must(t, m.Logout(sh))
	wantRV(t, m.Logout(sh), ck.CKR_USER_NOT_LOGGED_IN)
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	si, _ = m.GetSessionInfo(sh)
	if si.State != ck.CKS_RW_USER_FUNCTIONS {
		t.Fatalf("state %d", si.State)
	}
	// Change the user PIN while logged in, then use the new one.
	must(t, m.SetPIN(sh, []byte(userPIN), []byte("newpin99")))
	must(t, m.Logout(sh))
	wantRV(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)), ck.CKR_PIN_INCORRECT)
	must(t, m.Login(sh, ck.CKU_USER, []byte("newpin99")))
	must(t, m.CloseSession(sh))
	// The last session closing logs the token out.
	sh = open(t, m, false)
	si, _ = m.GetSessionInfo(sh)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatalf("state after last close %d", si.State)
	}
	wantRV(t, m.Login(sh, ck.CKU_SO, []byte(soPIN)), ck.CKR_SESSION_READ_ONLY_EXISTS)
	wantRV(t, m.SetPIN(sh, []byte("newpin99"), []byte("other999")), ck.CKR_SESSION_READ_ONLY)
	wantRV(t, m.Login(sh, 7, []byte(soPIN)), ck.CKR_USER_TYPE_INVALID)
	wantRV(t, m.CloseSession(sh+100), ck.CKR_SESSION_HANDLE_INVALID)
	must(t, m.CloseAllSessions(0))
	wantRV(t, m.CloseSession(sh), ck.CKR_SESSION_HANDLE_INVALID)
}

func TestLockoutSurvivesRestart(t *testing.T) {
	m, cfg := readyModule(t)
	sh := open(t, m, true)
	for i := 0; i < cfg.PIN.MaxFailures; i++ {
		wantRV(t, m.Login(sh, ck.CKU_USER, []byte("wrong-pin")), ck.CKR_PIN_INCORRECT)
		info, _ := m.GetTokenInfo(0)
		if i == cfg.PIN.MaxFailures-2 && info.Flags&ck.CKF_USER_PIN_FINAL_TRY == 0 {
			t.Fatalf("no FINAL_TRY after %d failures: %#x", i+1, info.Flags)
		}
	}
	wantRV(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)), ck.CKR_PIN_LOCKED)
	must(t, m.Finalize())
	m2 := newModule(t, cfg)
	info, err := m2.GetTokenInfo(0)
	must(t, err)
	if info.Flags&ck.CKF_USER_PIN_LOCKED == 0 {
		t.Fatalf("lock lost across restart: %#x", info.Flags)
	}
	sh = open(t, m2, true)
	wantRV(t, m2.Login(sh, ck.CKU_USER, []byte(userPIN)), ck.CKR_PIN_LOCKED)
	// The SO unlocks it by setting a new user PIN.
	must(t, m2.Login(sh, ck.CKU_SO, []byte(soPIN)))
	must(t, m2.InitPIN(sh, []byte("fresh-pin")))
	must(t, m2.Logout(sh))
	must(t, m2.Login(sh, ck.CKU_USER, []byte("fresh-pin")))
}

func TestObjectsAndVisibility(t *testing.T) {
	m, cfg := readyModule(t)
	sh := open(t, m, true)
	// A private object cannot be made before login.
	_, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true)})
	wantRV(t, err, ck.CKR_USER_NOT_LOGGED_IN)
	pub, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, "pub"), attr(ck.CKA_VALUE, "hello")})
	must(t, err)
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	priv, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_LABEL, "priv")})
	must(t, err)
	key := bytes.Repeat([]byte{0xA5}, 32)
	sk, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES), attr(ck.CKA_TOKEN, true), attr(ck.CKA_VALUE, key), attr(ck.CKA_LABEL, "aes")})
	must(t, err)
	sess, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_LABEL, "session")})
	must(t, err)
	if got := find(t, m, sh); len(got) != 4 {
		t.Fatalf("logged in: found %v", got)
	}
	if got := find(t, m, sh, attr(ck.CKA_LABEL, "aes")); len(got) != 1 || got[0] != sk {
		t.Fatalf("by label: %v", got)
	}
	// Sensitive by default: the value never comes back.
	ans, err := m.GetAttributeValue(sh, sk, []ck.AttrQuery{{Type: ck.CKA_VALUE, Cap: 64}, {Type: ck.CKA_VALUE_LEN, Cap: 8}, {Type: ck.CKA_MODULUS, Cap: 8}})
	wantRV(t, err, ck.CKR_ATTRIBUTE_SENSITIVE)
	if ans[0].Len != ck.Unavailable || ans[0].Value != nil || ans[2].Len != ck.Unavailable {
		t.Fatalf("answers %+v", ans)
	}
	if v, _ := ck.DecodeULong(ans[1].Value); v != 32 {
		t.Fatalf("CKA_VALUE_LEN %d", v)
	}
	for _, a := range []ck.Attribute{attr(ck.CKA_LOCAL, false), attr(ck.CKA_ALWAYS_SENSITIVE, false), attr(ck.CKA_NEVER_EXTRACTABLE, false)} {
		got, err := getAttr(t, m, sh, sk, a.Type)
		must(t, err)
		if !bytes.Equal(got, a.Value) {
			t.Fatalf("%s = %x", ck.AttrName(a.Type), got)
		}
	}
	// Sensitive cannot go back to false, even through a copy.
	wantRV(t, m.SetAttributeValue(sh, sk, ck.Template{attr(ck.CKA_SENSITIVE, false)}), ck.CKR_ATTRIBUTE_READ_ONLY)
	_, err = m.CopyObject(sh, sk, ck.Template{attr(ck.CKA_SENSITIVE, false)})
	wantRV(t, err, ck.CKR_ATTRIBUTE_READ_ONLY)
	_, err = m.CopyObject(sh, sk, ck.Template{attr(ck.CKA_EXTRACTABLE, true)})
	wantRV(t, err, ck.CKR_ATTRIBUTE_READ_ONLY)
	// Logout: private objects vanish; public ones stay.
	must(t, m.Logout(sh))
	got := find(t, m, sh)
	if len(got) != 2 {
		t.Fatalf("logged out: found %v, want the public data object and the session one", got)
	}
	_, err = getAttr(t, m, sh, priv, ck.CKA_LABEL)
	wantRV(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	_, err = getAttr(t, m, sh, sk, ck.CKA_LABEL)
	wantRV(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	if v, err := getAttr(t, m, sh, pub, ck.CKA_VALUE); err != nil || string(v) != "hello" {
		t.Fatalf("public value %q %v", v, err)
	}
	// Token objects survive a restart; session objects do not.
	must(t, m.Finalize())
	m2 := newModule(t, cfg)
	sh = open(t, m2, true)
	must(t, m2.Login(sh, ck.CKU_USER, []byte(userPIN)))
	got = find(t, m2, sh)
	if len(got) != 3 {
		t.Fatalf("after restart: %v", got)
	}
	_, err = getAttr(t, m2, sh, sess, ck.CKA_LABEL)
	wantRV(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	must(t, m2.DestroyObject(sh, priv))
	wantRV(t, m2.DestroyObject(sh, priv), ck.CKR_OBJECT_HANDLE_INVALID)
}
