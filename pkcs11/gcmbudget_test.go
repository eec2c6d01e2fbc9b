package pkcs11

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
)

// TestGCMBudget: with max_encryptions = 1000, encryption 1,000 succeeds,
// 1,001 fails with CKR_KEY_FUNCTION_NOT_PERMITTED, decryption still works,
// a length query counts nothing, the same key material imported twice
// shares one budget, and after a restart the key is still refused.
func TestGCMBudget(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.GCM.MaxEncryptions = 1000
	journal := filepath.Join(cfg.Store.Path, "gcm.journal")
	open1 := func() *Module {
		j, err := gcmjournal.Open(gcmjournal.Options{Path: journal, Max: 1000, Sealer: backend.JournalSealer{}})
		must(t, err)
		t.Cleanup(func() { j.Close() }) // its background writer is done before the directory goes
		m := NewWithOptions(Options{Config: cfg, Journal: j})
		must(t, m.Initialize(ck.InitArgs{}))
		return m
	}
	m := open1()
	sh := initUser(t, m, "gcm")
	value := bytes.Repeat([]byte{0x11}, 32)
	aesKey := func(label string) uint64 {
		h, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
			attr(ck.CKA_VALUE, value), attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, label)})
		must(t, err)
		return h
	}
	k1, k2 := aesKey("first"), aesKey("second import of the same bytes")
	remaining := func(h uint64) uint64 {
		v, err := getAttr(t, m, sh, h, ck.CKA_CRATON_GCM_REMAINING)
		must(t, err)
		n, _ := ck.DecodeULong(v)
		return n
	}
	if r := remaining(k1); r != 1000 {
		t.Fatalf("fresh key has %d remaining, want 1000", r)
	}
	g := gcmMech(make([]byte, 12), nil, 128)
	var lastCT []byte
	for i := 1; i <= 1000; i++ {
		key := k1
		if i%2 == 0 {
			key = k2 // the same material: one budget
		}
		must(t, m.EncryptInit(sh, g, key))
		if i == 1 {
			// A length query consumes nothing.
			_, _, err := m.Encrypt(sh, []byte("x"), -1)
			must(t, err)
			if r := remaining(k1); r != 1000 {
				t.Fatalf("a length query spent budget: %d", r)
			}
		}
		ct, _, err := m.Encrypt(sh, []byte("x"), 64)
		if err != nil {
			t.Fatalf("encryption %d: %v", i, err)
		}
		lastCT = ct
	}
	if r := remaining(k2); r != 0 {
		t.Fatalf("after 1000: %d remaining", r)
	}
	must(t, m.EncryptInit(sh, g, k1))
	_, _, err := m.Encrypt(sh, []byte("x"), 64)
	wantRV(t, err, ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
	// Decryption goes on.
	pt, err := decrypt(t, m, sh, g, k2, lastCT)
	if err != nil || string(pt) != "x" {
		t.Fatalf("decrypt after exhaustion: %q %v", pt, err)
	}
	// Other mechanisms on the same key are not GCM: unaffected.
	encrypt(t, m, sh, ck.Mechanism{Type: ck.CKM_AES_CBC_PAD, Param: make([]byte, 16)}, k1, []byte("cbc"))
	must(t, m.Finalize())

	m = open1()
	defer m.Finalize()
	sh = open(t, m, true)
	must(t, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
	must(t, m.EncryptInit(sh, g, k1))
	_, _, err = m.Encrypt(sh, []byte("x"), 64)
	wantRV(t, err, ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
}

// TestJournalPathForBenchmarks: the configured journal, unless the library
// was linked for `make bench-journal`, whose journal is in memory.
func TestJournalPathForBenchmarks(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	want := filepath.Join(cfg.Store.Path, "gcm.journal")
	if got := journalPath(cfg); got != want {
		t.Fatalf("journalPath = %q, want %q", got, want)
	}
	defer func(old string) { benchJournalInMemory = old }(benchJournalInMemory)
	benchJournalInMemory = "yes"
	if got := journalPath(cfg); got != "" {
		t.Fatalf("linked for bench-journal: journalPath = %q, want in memory", got)
	}
}
