package pkcs11

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/config"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const (
	soPIN   = "12345678"
	userPIN = "87654321"
)

// testConfig is a configuration over a fresh store directory, with a cheap
// KDF so tests run fast.
func testConfig(t testing.TB, dir string) *config.Config {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = dir
	cfg.PIN.KDFIterations = 1000
	cfg.PIN.MaxFailures = 3
	cfg.Log.Level = "debug"
	return cfg
}

func newModule(t testing.TB, cfg *config.Config) *Module {
	t.Helper()
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok {
		log = zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
	}
	j, err := gcmjournal.Open(gcmjournal.Options{Path: filepath.Join(cfg.Store.Path, "gcm.journal"), Max: cfg.GCM.MaxEncryptions, Sealer: backend.JournalSealer{}})
	must(t, err)
	// Runs after Finalize (cleanups run last first), and before the
	// directory is removed: it waits for the journal's background writer,
	// which may still be fetching a block ahead.
	t.Cleanup(func() { j.Close() })
	m := NewWithOptions(Options{Config: cfg, Logger: log, Journal: j})
	must(t, m.Initialize(ck.InitArgs{}))
	t.Cleanup(func() { m.Finalize() })
	return m
}

// readyModule is an initialised token with SO and user PINs set and no
// session open.
func readyModule(t testing.TB) (*Module, *config.Config) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	m := newModule(t, cfg)
	must(t, m.CloseSession(initUser(t, m, "test")))
	return m, cfg
}

// initUser initialises slot 0's token with soPIN and userPIN and returns a
// read/write session logged in as the user.
func initUser(t testing.TB, m *Module, label string) uint64 {
	t.Helper()
	must(t, m.InitToken(0, []byte(soPIN), padLabel(label)))
	sh := open(t, m, true)
	must(t, m.Login(sh, ck.CKU_SO, []byte(soPIN)))
	must(t, m.InitPIN(sh, []byte(userPIN)))
	must(t, m.Logout(sh))
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	return sh
}

func padLabel(s string) []byte {
	b := []byte(s)
	for len(b) < 32 {
		b = append(b, ' ')
	}
	return b
}

func open(t testing.TB, m *Module, rw bool) uint64 {
	t.Helper()
	flags := uint64(ck.CKF_SERIAL_SESSION)
	if rw {
		flags |= ck.CKF_RW_SESSION
	}
	sh, err := m.OpenSession(0, flags)
	must(t, err)
	return sh
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantRV fails unless err carries rv.
func wantRV(t testing.TB, err error, rv ck.RV) {
	t.Helper()
	if rv == ck.CKR_OK {
		if err != nil {
			t.Fatalf("got %v, want CKR_OK", err)
		}
		return
	}
	if !errors.Is(err, rv) {
		t.Fatalf("got %v, want %v", err, rv)
	}
}

func attr(typ uint64, v any) ck.Attribute {
	switch x := v.(type) {
	case bool:
		return ck.Attribute{Type: typ, Value: ck.Bool(x)}
	case int:
		return ck.Attribute{Type: typ, Value: ck.ULong(uint64(x))}
	case uint64:
		return ck.Attribute{Type: typ, Value: ck.ULong(x)}
	case string:
		return ck.Attribute{Type: typ, Value: []byte(x)}
	case []byte:
		return ck.Attribute{Type: typ, Value: x}
	}
	panic("attr: unsupported value")
}

func find(t testing.TB, m *Module, sh uint64, tmpl ...ck.Attribute) []uint64 {
	t.Helper()
	must(t, m.FindObjectsInit(sh, tmpl))
	var all []uint64
	for {
		hs, err := m.FindObjects(sh, 7)
		must(t, err)
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	must(t, m.FindObjectsFinal(sh))
	return all
}

func getAttr(t testing.TB, m *Module, sh, oh, typ uint64) ([]byte, error) {
	t.Helper()
	ans, err := m.GetAttributeValue(sh, oh, []ck.AttrQuery{{Type: typ, Cap: 1 << 20}})
	if err != nil {
		return nil, err
	}
	return ans[0].Value, nil
}
