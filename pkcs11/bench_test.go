package pkcs11

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
)

// BenchmarkGCM64 measures a 64-byte AES-GCM encryption through the Go face
// of the token (C_EncryptInit + C_Encrypt), with the crash-safe file
// journal and with an in-memory one (the same counting, no durability).
// Issue 4 asks the file journal to keep at least 90% of the throughput.
// `make bench` runs it (make test never does).
//
// flush-floor is the in-memory journal plus what SPEC §5 makes any durable
// journal do at the least: one write and fdatasync per 1,024 encryptions,
// here of a scratch file by another goroutine that the encrypting loop never
// waits for. Its ratio to memory-journal is the most a journal that keeps
// the SPEC's flush rate can reach on the machine, whatever its design.
func BenchmarkGCM64(b *testing.B) {
	for _, name := range []string{"memory-journal", "file-journal", "flush-floor"} {
		b.Run(name, func(b *testing.B) {
			m, sh := benchToken(b, name == "file-journal")
			key, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true)})
			must(b, err)
			g := gcmMech(make([]byte, 12), nil, 128)
			msg := make([]byte, 64)
			var kick chan struct{}
			if name == "flush-floor" {
				kick = flusher(b)
			}
			b.SetBytes(64)
			b.ResetTimer()
			for i := range b.N {
				if err := m.EncryptInit(sh, g, key); err != nil {
					b.Fatal(err)
				}
				if _, _, err := m.Encrypt(sh, msg, 128); err != nil {
					b.Fatal(err)
				}
				if kick != nil && i%1024 == 1023 {
					select {
					case kick <- struct{}{}:
					default: // the previous flush is still running: never wait
					}
				}
			}
		})
	}
}

// flusher starts a goroutine that, for each value sent on the returned
// channel, writes 96 bytes in place into a scratch file and fdatasyncs it
// (what a journal raise does); it stops when the benchmark ends.
func flusher(b *testing.B) chan struct{} {
	f, err := os.Create(filepath.Join(b.TempDir(), "scratch"))
	must(b, err)
	must(b, f.Truncate(32<<10))
	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 96)
		for n := 0; ; n++ {
			if _, ok := <-kick; !ok {
				return
			}
			if _, err := f.WriteAt(buf, int64(n%2)*16<<10); err != nil {
				b.Error(err)
			}
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Error(err)
			}
		}
	}()
	b.Cleanup(func() { close(kick); <-done; f.Close() })
	return kick
}

// benchToken is a module with an initialised token, a user session logged
// in, and a GCM journal: in memory, or a crash-safe file (durable).
func benchToken(b *testing.B, durable bool) (*Module, uint64) {
	cfg := testConfig(b, b.TempDir())
	cfg.Log.Level = "error"
	path := ""
	if durable {
		path = filepath.Join(cfg.Store.Path, "gcm.journal")
	}
	j, err := gcmjournal.Open(gcmjournal.Options{Path: path, Max: 1 << 32, Sealer: backend.JournalSealer{}})
	must(b, err)
	b.Cleanup(func() { j.Close() }) // after Finalize: waits for the background writer before the directory goes
	m := NewWithOptions(Options{Config: cfg, Journal: j})
	must(b, m.Initialize(ck.InitArgs{}))
	b.Cleanup(func() { m.Finalize() })
	return m, initUser(b, m, "bench")
}

// BenchmarkSign measures C_SignInit + C_Sign through the Go face of the
// token, on token keys: the fixed cost around each signature (key lookup,
// operation set-up) beside the primitive's own. `make bench` runs it.
func BenchmarkSign(b *testing.B) {
	ecParams := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	for _, tc := range []struct {
		name string
		mech uint64
		msg  int
		key  func(m *Module, sh uint64) uint64
	}{
		{"hmac-sha256-1k", ck.CKM_SHA256_HMAC, 1024, func(m *Module, sh uint64) uint64 {
			k, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_GENERIC_SECRET_KEY_GEN},
				ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true), attr(ck.CKA_SIGN, true)})
			must(b, err)
			return k
		}},
		{"ecdsa-p256", ck.CKM_ECDSA, 32, func(m *Module, sh uint64) uint64 {
			_, k, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
				ck.Template{attr(ck.CKA_EC_PARAMS, ecParams), attr(ck.CKA_TOKEN, true)},
				ck.Template{attr(ck.CKA_TOKEN, true), attr(ck.CKA_SIGN, true)})
			must(b, err)
			return k
		}},
		{"rsa2048-pkcs1-sha256", ck.CKM_SHA256_RSA_PKCS, 64, func(m *Module, sh uint64) uint64 {
			_, k, err := m.GenerateKeyPair(sh, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
				ck.Template{attr(ck.CKA_MODULUS_BITS, 2048), attr(ck.CKA_TOKEN, true)},
				ck.Template{attr(ck.CKA_TOKEN, true), attr(ck.CKA_SIGN, true)})
			must(b, err)
			return k
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, sh := benchToken(b, false)
			key := tc.key(m, sh)
			msg := make([]byte, tc.msg)
			b.ReportAllocs()
			for b.Loop() {
				if err := m.SignInit(sh, ck.Mechanism{Type: tc.mech}, key); err != nil {
					b.Fatal(err)
				}
				if _, _, err := m.Sign(sh, msg, 1024); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHMACParallel is BenchmarkSign's HMAC from GOMAXPROCS goroutines,
// each on its own session, all on one token key: run with -cpu 1,2 to see
// what a second thread adds (issue 6 asks 1.8x on two cores).
func BenchmarkHMACParallel(b *testing.B) {
	m, sh := benchToken(b, false)
	key, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_GENERIC_SECRET_KEY_GEN},
		ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true), attr(ck.CKA_SIGN, true)})
	must(b, err)
	msg := make([]byte, 1024)
	b.RunParallel(func(pb *testing.PB) {
		s := open(b, m, false)
		for pb.Next() {
			if err := m.SignInit(s, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, key); err != nil {
				b.Error(err)
				return
			}
			if _, _, err := m.Sign(s, msg, 1024); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFind is p11bench's find-label-1k and -10k through the Go face:
// C_FindObjectsInit({CKA_CLASS = CKO_DATA, CKA_LABEL = one of n}) +
// C_FindObjects + C_FindObjectsFinal, exactly one hit, from GOMAXPROCS
// goroutines with a session each (-cpu 1,2 shows what a second thread adds).
// Each token is filled once (10,000 objects take some seconds).
func BenchmarkFind(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		m, sh := benchToken(b, false)
		for i := range n {
			_, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true),
				{Type: ck.CKA_LABEL, Value: fmt.Appendf(nil, "obj-%05d", i)}, {Type: ck.CKA_VALUE, Value: []byte("data")}})
			must(b, err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var seed atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				s := open(b, m, false)
				r := rand.New(rand.NewPCG(seed.Add(1), 0))
				for pb.Next() {
					label := fmt.Appendf(nil, "obj-%05d", r.IntN(n))
					if err := m.FindObjectsInit(s, ck.Template{attr(ck.CKA_CLASS, ck.CKO_DATA), {Type: ck.CKA_LABEL, Value: label}}); err != nil {
						b.Error(err)
						return
					}
					hs, err := m.FindObjects(s, 2)
					if err != nil || len(hs) != 1 {
						b.Errorf("found %d objects (%v), want 1", len(hs), err)
						return
					}
					if err := m.FindObjectsFinal(s); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkKeygenParallel is p11bench's ec-p256-keygen and aes256-keygen
// through the Go face: a session key (pair) generated and destroyed, from
// GOMAXPROCS goroutines with a session each (-cpu 1,2 shows what a second
// thread adds).
func BenchmarkKeygenParallel(b *testing.B) {
	ecParams := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	gen := map[string]func(m *Module, s uint64) error{
		"ec-p256": func(m *Module, s uint64) error {
			pub, priv, err := m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
				ck.Template{attr(ck.CKA_EC_PARAMS, ecParams), attr(ck.CKA_TOKEN, false), attr(ck.CKA_VERIFY, true)},
				ck.Template{attr(ck.CKA_TOKEN, false), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_SENSITIVE, true), attr(ck.CKA_SIGN, true)})
			if err != nil {
				return err
			}
			if err := m.DestroyObject(s, priv); err != nil {
				return err
			}
			return m.DestroyObject(s, pub)
		},
		"aes256": func(m *Module, s uint64) error {
			k, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN},
				ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, false), attr(ck.CKA_SENSITIVE, true),
					attr(ck.CKA_ENCRYPT, true), attr(ck.CKA_DECRYPT, true)})
			if err != nil {
				return err
			}
			return m.DestroyObject(s, k)
		},
	}
	for _, name := range []string{"ec-p256", "aes256"} {
		b.Run(name, func(b *testing.B) {
			m, _ := benchToken(b, false)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := open(b, m, false)
				for pb.Next() {
					if err := gen[name](m, s); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGCM64Parallel is BenchmarkGCM64 on every goroutine at once, each
// with its session, all with one key: what two threads encrypting under
// one key share (its count in the journal, its cached cipher) without the
// C ABI around it.
func BenchmarkGCM64Parallel(b *testing.B) {
	for _, name := range []string{"memory-journal", "file-journal"} {
		b.Run(name, func(b *testing.B) {
			m, sh := benchToken(b, name == "file-journal")
			key, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_TOKEN, true)})
			must(b, err)
			b.SetBytes(64)
			b.RunParallel(func(pb *testing.PB) {
				s := open(b, m, false)
				g := gcmMech(make([]byte, 12), nil, 128)
				msg := make([]byte, 64)
				for pb.Next() {
					if err := m.EncryptInit(s, g, key); err != nil {
						b.Error(err)
						return
					}
					if _, _, err := m.Encrypt(s, msg, 128); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
