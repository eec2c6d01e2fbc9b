package pkcs11

import (
	"path/filepath"
	"testing"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
)

// BenchmarkGCM64 measures a 64-byte AES-GCM encryption through the Go face
// of the token (C_EncryptInit + C_Encrypt), with the crash-safe file
// journal and with an in-memory one (the same counting, no durability).
// Issue 4 asks the file journal to keep at least 90% of the throughput.
// Run with `make bench` (never by make test).
func BenchmarkGCM64(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "memory-journal"
		if durable {
			name = "file-journal"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig(b, b.TempDir())
			cfg.Log.Level = "error"
			path := ""
			if durable {
				path = filepath.Join(cfg.Store.Path, "gcm.journal")
			}
			j, err := gcmjournal.Open(gcmjournal.Options{Path: path, Max: 1 << 32, Sealer: backend.JournalSealer{}})
			must(b, err)
			m := NewWithOptions(Options{Config: cfg, Journal: j})
			must(b, m.Initialize(ck.InitArgs{}))
			defer m.Finalize()
			must(b, m.InitToken(0, []byte(soPIN), padLabel("bench")))
			sh := open(b, m, true)
			must(b, m.Login(sh, ck.CKU_SO, []byte(soPIN)))
			must(b, m.InitPIN(sh, []byte(userPIN)))
			must(b, m.Logout(sh))
			must(b, m.Login(sh, ck.CKU_USER, []byte(userPIN)))
			key, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true)})
			must(b, err)
			g := gcmMech(make([]byte, 12), nil, 128)
			msg := make([]byte, 64)
			b.SetBytes(64)
			b.ResetTimer()
			for range b.N {
				if err := m.EncryptInit(sh, g, key); err != nil {
					b.Fatal(err)
				}
				if _, _, err := m.Encrypt(sh, msg, 128); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
