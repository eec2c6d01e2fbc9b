package pkcs11

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

func TestGetAttributeValueConvention(t *testing.T) {
	m, _ := readyModule(t)
	sh := open(t, m, true)
	oh, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_LABEL, "abcdef")})
	must(t, err)
	// Length query.
	ans, err := m.GetAttributeValue(sh, oh, []ck.AttrQuery{{Type: ck.CKA_LABEL, Cap: -1}})
	must(t, err)
	if ans[0].Len != 6 || ans[0].Value != nil {
		t.Fatalf("length query: %+v", ans[0])
	}
	// Short buffer: this entry unavailable, the others still answered.
	ans, err = m.GetAttributeValue(sh, oh, []ck.AttrQuery{{Type: ck.CKA_LABEL, Cap: 3}, {Type: ck.CKA_CLASS, Cap: 8}})
	wantRV(t, err, ck.CKR_BUFFER_TOO_SMALL)
	if ans[0].Len != ck.Unavailable || ans[1].Len != 8 {
		t.Fatalf("short buffer: %+v", ans)
	}
	// Type invalid wins over buffer too small; sensitive wins over both.
	_, err = m.GetAttributeValue(sh, oh, []ck.AttrQuery{{Type: ck.CKA_LABEL, Cap: 3}, {Type: ck.CKA_MODULUS, Cap: 8}})
	wantRV(t, err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
	_, err = m.GetAttributeValue(sh, 0xdead, []ck.AttrQuery{{Type: ck.CKA_LABEL, Cap: 3}})
	wantRV(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	_, err = m.GetAttributeValue(0xdead, oh, nil)
	wantRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	size, err := m.GetObjectSize(sh, oh)
	must(t, err)
	if size == 0 {
		t.Fatal("object size 0")
	}
}

func TestModifyCopyDestroy(t *testing.T) {
	m, _ := readyModule(t)
	sh := open(t, m, true)
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	val := bytes.Repeat([]byte{1}, 16)
	key, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES), attr(ck.CKA_TOKEN, true),
		attr(ck.CKA_VALUE, val), attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true), attr(ck.CKA_LABEL, "k")})
	must(t, err)
	if got, err := getAttr(t, m, sh, key, ck.CKA_VALUE); err != nil || !bytes.Equal(got, val) {
		t.Fatalf("non-sensitive value: %x %v", got, err)
	}
	must(t, m.SetAttributeValue(sh, key, ck.Template{attr(ck.CKA_LABEL, "renamed"), attr(ck.CKA_ID, []byte{9})}))
	if got := find(t, m, sh, attr(ck.CKA_LABEL, "renamed"), attr(ck.CKA_ID, []byte{9})); len(got) != 1 || got[0] != key {
		t.Fatalf("find after rename: %v", got)
	}
	if got := find(t, m, sh, attr(ck.CKA_LABEL, "k")); len(got) != 0 {
		t.Fatalf("old label still found: %v", got)
	}
	// A copy to a session object, made sensitive on the way.
	cp, err := m.CopyObject(sh, key, ck.Template{attr(ck.CKA_TOKEN, false), attr(ck.CKA_SENSITIVE, true), attr(ck.CKA_MODIFIABLE, false), attr(ck.CKA_DESTROYABLE, false)})
	must(t, err)
	_, err = getAttr(t, m, sh, cp, ck.CKA_VALUE)
	wantRV(t, err, ck.CKR_ATTRIBUTE_SENSITIVE)
	if uid1, _ := getAttr(t, m, sh, key, ck.CKA_UNIQUE_ID); true {
		uid2, _ := getAttr(t, m, sh, cp, ck.CKA_UNIQUE_ID)
		if bytes.Equal(uid1, uid2) || len(uid2) == 0 {
			t.Fatal("copy shares the unique id")
		}
	}
	wantRV(t, m.SetAttributeValue(sh, cp, ck.Template{attr(ck.CKA_LABEL, "x")}), ck.CKR_ACTION_PROHIBITED)
	wantRV(t, m.DestroyObject(sh, cp), ck.CKR_ACTION_PROHIBITED)
	nc, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_COPYABLE, false)})
	must(t, err)
	_, err = m.CopyObject(sh, nc, nil)
	wantRV(t, err, ck.CKR_ACTION_PROHIBITED)
	// Read-only sessions cannot touch token objects.
	ro := open(t, m, false)
	wantRV(t, m.SetAttributeValue(ro, key, ck.Template{attr(ck.CKA_LABEL, "y")}), ck.CKR_SESSION_READ_ONLY)
	wantRV(t, m.DestroyObject(ro, key), ck.CKR_SESSION_READ_ONLY)
	_, err = m.CreateObject(ro, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true)})
	wantRV(t, err, ck.CKR_SESSION_READ_ONLY)
	_, err = m.CreateObject(ro, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA)})
	must(t, err) // a session object is fine in a read-only session
	must(t, m.DestroyObject(sh, key))
	if got := find(t, m, sh, attr(ck.CKA_LABEL, "renamed")); len(got) != 1 || got[0] != cp {
		t.Fatalf("after destroying the key, found %v; want only its copy %d", got, cp)
	}
}

func TestFindOperationState(t *testing.T) {
	m, _ := readyModule(t)
	sh := open(t, m, true)
	_, err := m.FindObjects(sh, 1)
	wantRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, m.FindObjectsFinal(sh), ck.CKR_OPERATION_NOT_INITIALIZED)
	must(t, m.FindObjectsInit(sh, nil))
	wantRV(t, m.FindObjectsInit(sh, nil), ck.CKR_OPERATION_ACTIVE)
	must(t, m.SessionCancel(sh, ck.CKF_FIND_OBJECTS))
	must(t, m.FindObjectsInit(sh, nil))
	must(t, m.FindObjectsFinal(sh))
}

func TestInitializeArgsAndFinalize(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	m := NewWithOptions(Options{Config: cfg})
	wantRV(t, m.Finalize(), ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	_, err := m.OpenSession(0, ck.CKF_SERIAL_SESSION)
	wantRV(t, err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	wantRV(t, m.Initialize(ck.InitArgs{HasArgs: true, MutexCallbacks: 2}), ck.CKR_ARGUMENTS_BAD)
	wantRV(t, m.Initialize(ck.InitArgs{HasArgs: true, NoOSThreads: true}), ck.CKR_NEED_TO_CREATE_THREADS)
	// p11-kit's and NSS's default: both flags. Accepted (then finalised).
	must(t, m.Initialize(ck.InitArgs{HasArgs: true, NoOSThreads: true, OSLockingOK: true}))
	must(t, m.Finalize())
	wantRV(t, m.Initialize(ck.InitArgs{HasArgs: true, MutexCallbacks: 4}), ck.CKR_CANT_LOCK)
	must(t, m.Initialize(ck.InitArgs{HasArgs: true, MutexCallbacks: 4, OSLockingOK: true}))
	wantRV(t, m.Initialize(ck.InitArgs{}), ck.CKR_CRYPTOKI_ALREADY_INITIALIZED)
	sh := open(t, m, true)
	must(t, m.Finalize())
	must(t, m.Initialize(ck.InitArgs{}))
	defer m.Finalize()
	_, err = m.GetSessionInfo(sh)
	wantRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	if info, _ := m.GetTokenInfo(0); info.SessionCount != 0 {
		t.Fatalf("sessions survived C_Finalize: %d", info.SessionCount)
	}
}

func TestBadConfigurationRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CRATON_CONF", dir+"/missing.toml")
	m := New()
	err := m.Initialize(ck.InitArgs{})
	wantRV(t, err, ck.CKR_FUNCTION_FAILED)
}

// TestConcurrentSessions runs many sessions at once on one module under the
// race detector: creates, finds, reads and destroys, while C_Finalize waits
// for calls in flight at the end.
func TestConcurrentSessions(t *testing.T) {
	m, _ := readyModule(t)
	var wg sync.WaitGroup
	const workers, rounds = 8, 25
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh, err := m.OpenSession(0, ck.CKF_SERIAL_SESSION|ck.CKF_RW_SESSION)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range rounds {
				label := fmt.Sprintf("w%d-%d", w, i)
				oh, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, i%2 == 0), attr(ck.CKA_LABEL, label)})
				if err != nil {
					t.Error(err)
					return
				}
				if err := m.FindObjectsInit(sh, ck.Template{attr(ck.CKA_LABEL, label)}); err != nil {
					t.Error(err)
					return
				}
				hs, err := m.FindObjects(sh, 10)
				m.FindObjectsFinal(sh)
				if err != nil || len(hs) != 1 || hs[0] != oh {
					t.Errorf("%s: found %v (%v)", label, hs, err)
					return
				}
				if i%3 == 0 {
					if err := m.DestroyObject(sh, oh); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	sh := open(t, m, false)
	got := find(t, m, sh, attr(ck.CKA_CLASS, ck.CKO_DATA))
	// Per worker: 25 created, 9 destroyed (i = 0, 3, …, 24) → 16 left, all of
	// them visible (session objects of closed sessions are not: none closed).
	if len(got) != workers*16 {
		t.Fatalf("found %d objects, want %d", len(got), workers*16)
	}
}

// TestCloseSessionRacesObjectCreation: a session closed by one thread while
// another creates session keys in it leaves none of them behind, whichever
// finishes first: the creator destroys a key its closed session missed.
func TestCloseSessionRacesObjectCreation(t *testing.T) {
	m, _ := readyModule(t)
	watcher := open(t, m, false) // keeps the login; sees every session object
	must(t, m.Login(watcher, ck.CKU_USER, []byte(userPIN)))
	tmpl := ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, false), attr(ck.CKA_ENCRYPT, true)}
	made := 0
	for range 200 {
		s := open(t, m, false)
		created := make(chan struct{})
		done := make(chan int)
		go func() {
			n := 0
			for i := 0; ; i++ {
				_, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, tmpl)
				if i == 0 {
					close(created)
				}
				if err != nil {
					if !errors.Is(err, ck.CKR_SESSION_HANDLE_INVALID) {
						t.Errorf("GenerateKey: %v", err)
					}
					done <- n
					return
				}
				n++
			}
		}()
		<-created
		must(t, m.CloseSession(s))
		made += <-done
		must(t, m.FindObjectsInit(watcher, ck.Template{attr(ck.CKA_TOKEN, false)}))
		left, err := m.FindObjects(watcher, 100)
		must(t, err)
		must(t, m.FindObjectsFinal(watcher))
		if len(left) > 0 {
			t.Fatalf("%d session keys of a closed session are left", len(left))
		}
	}
	t.Logf("%d keys made in 200 sessions closed under their maker", made)
}
