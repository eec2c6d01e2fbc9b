// Command soak drives libcraton.so with a mixed workload for a long time
// (issue 7, "Soak") and checks that the process stays healthy: resident
// memory flat after warm-up, no file-descriptor, session or object leak,
// and no call failing.
//
//	go run ./tests/soak -so $PWD/libcraton.so -duration 10m
//	make soak SOAK_DURATION=10m
//
// Several workers, each with its own session, loop over sign/verify
// (ECDSA P-256, RSA-2048 PKCS#1 v1.5 and PSS), encrypt/decrypt (AES-GCM,
// AES-CBC-PAD), digest, random, find, create/read/destroy of token and
// session objects, session-key generation and session open/close. A login
// cycler logs the process out and in again every second (login state is
// per process in PKCS#11, so it takes a write lock the workers hold for
// reading around each operation; while logged out it checks that private
// objects are invisible and public ones usable).
//
// Every interval it prints the process's resident memory (/proc/self/statm),
// its open file descriptors (/proc/self/fd), the token's session count and
// the operation rate. It fails (exit status 1) if:
//   - any call returns anything but what it should;
//   - resident memory, as the median of the last three samples, exceeds
//     the median of the first three after warm-up by more than -rss-growth
//     (10%);
//   - the most file descriptors in the last three samples exceed the most
//     in the first three after warm-up;
//   - sessions or token objects are left over at the end, or the module
//     logged an error.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

const (
	soPIN   = "12345678"
	userPIN = "87654321"
)

var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

var (
	flagSO         = flag.String("so", os.Getenv("CRATON_SO"), "absolute path of libcraton.so (default $CRATON_SO)")
	flagDuration   = flag.Duration("duration", 10*time.Minute, "how long the workload runs")
	flagWorkers    = flag.Int("workers", 8, "worker goroutines, one session each")
	flagInterval   = flag.Duration("interval", 10*time.Second, "sampling interval")
	flagWarmup     = flag.Duration("warmup", 0, "warm-up excluded from the memory check (0: a fifth of -duration, between 30 s and 2 min)")
	flagDir        = flag.String("dir", "", "scratch directory for the store, journal and log (default: a new temporary directory, removed at the end)")
	flagKDF        = flag.Int("kdf", 1000, "pin.kdf_iterations of the scratch token")
	flagRSSGrowth  = flag.Float64("rss-growth", 0.10, "allowed growth of resident memory after warm-up")
	flagLoginEvery = flag.Duration("login-every", time.Second, "how often the login cycler logs out and in")
	flagLeak       = flag.Int("leak-sessions", 0, "checks the checker: leave every Nth session of session-open-close open (0: never)")
)

var opened atomic.Int64 // sessions opened by session-open-close

// ops is the workload: name and function. Each returns an error for any
// unexpected result.
type op struct {
	name string
	run  func(w *worker) error
}

type soak struct {
	p      *pkcs11.Ctx
	slot   uint
	anchor pkcs11.SessionHandle // holds the login for the process
	login  sync.RWMutex         // workers hold it for reading; the login cycler for writing

	aes, ecPub, ecPriv, rsaPub, rsaPriv pkcs11.ObjectHandle
	ecSig                               []byte // an ECDSA signature made at setup, verified while logged out
	msg                                 []byte

	counts   map[string]*atomic.Int64
	total    atomic.Int64
	errCount atomic.Int64
	errMu    sync.Mutex
	errs     []string
}

type worker struct {
	s   *soak
	sh  pkcs11.SessionHandle
	rng *mrand.Rand
}

func (s *soak) fail(what string, err error) {
	s.errCount.Add(1)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if len(s.errs) < 50 {
		s.errs = append(s.errs, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
	}
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "SOAK FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("SOAK PASS")
}

func run() error {
	if *flagSO == "" || !filepath.IsAbs(*flagSO) {
		return fmt.Errorf("-so must be the absolute path of libcraton.so (got %q)", *flagSO)
	}
	warmup := *flagWarmup
	if warmup == 0 {
		warmup = min(max(*flagDuration/5, 30*time.Second), 2*time.Minute)
	}
	if *flagDuration < warmup+6**flagInterval {
		return fmt.Errorf("-duration %v is too short: it needs the warm-up (%v) and six samples after it (%v each)", *flagDuration, warmup, *flagInterval)
	}
	dir := *flagDir
	if dir == "" {
		d, err := os.MkdirTemp("", "craton-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	conf := filepath.Join(dir, "craton.toml")
	logPath := filepath.Join(dir, "craton.log")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[store]
path = %q
[pin]
kdf_iterations = %d
[log]
level = "warn"
file = %q
[gcm]
journal = %q
`, filepath.Join(dir, "store"), *flagKDF, logPath, filepath.Join(dir, "gcm.journal"))), 0o600); err != nil {
		return err
	}
	// The module reads CRATON_* when it is loaded: keep them out, so the
	// configuration comes only through pReserved.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRATON_") {
			os.Unsetenv(k)
		}
	}
	if err := saveSIGURG(); err != nil {
		return err
	}
	p := pkcs11.New(*flagSO)
	if p == nil {
		restoreSIGURG()
		return fmt.Errorf("loading %s failed (dlopen or C_GetFunctionList)", *flagSO)
	}
	_, _ = p.GetInfo() // enter the module's runtime once, then restore SIGURG
	if err := restoreSIGURG(); err != nil {
		return err
	}
	if err := p.Initialize(pkcs11.InitializeWithReserved(cString(conf))); err != nil {
		return fmt.Errorf("C_Initialize: %w", err)
	}
	s := &soak{p: p, counts: map[string]*atomic.Int64{}, msg: []byte("soak: the quick brown fox jumps over the lazy dog")}
	if err := s.setup(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Printf("soak: %s, %d workers, %v (warm-up %v), sample every %v, store %s\n",
		*flagSO, *flagWorkers, *flagDuration, warmup, *flagInterval, dir)

	ops := s.ops()
	for _, o := range ops {
		s.counts[o.name] = new(atomic.Int64)
	}
	s.counts["login-cycle"] = new(atomic.Int64)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	workers := make([]*worker, *flagWorkers)
	for i := range workers {
		sh, err := p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("C_OpenSession: %w", err)
		}
		workers[i] = &worker{s: s, sh: sh, rng: mrand.New(mrand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := ops[w.rng.IntN(len(ops))]
				s.login.RLock()
				err := o.run(w)
				s.login.RUnlock()
				if err != nil {
					s.fail(o.name, err)
				}
				s.counts[o.name].Add(1)
				s.total.Add(1)
			}
		}(workers[i])
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(*flagLoginEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if err := s.loginCycle(); err != nil {
				s.fail("login-cycle", err)
			}
			s.counts["login-cycle"].Add(1)
		}
	}()

	// Sampling.
	type sample struct {
		at       time.Duration
		rss      int64
		fds      int
		sessions uint
		ops      int64
	}
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(*flagInterval)
	lastOps := int64(0)
	for time.Since(start) < *flagDuration {
		<-tick.C
		rss, err := rssBytes()
		if err != nil {
			return err
		}
		fds, err := fdCount()
		if err != nil {
			return err
		}
		ti, err := p.GetTokenInfo(s.slot)
		if err != nil {
			s.fail("C_GetTokenInfo", err)
		}
		n := s.total.Load()
		smp := sample{at: time.Since(start).Round(time.Second), rss: rss, fds: fds, sessions: ti.SessionCount, ops: n}
		samples = append(samples, smp)
		phase := ""
		if smp.at <= warmup {
			phase = " (warm-up)"
		}
		fmt.Printf("t=%-6v rss=%6.1f MiB  fds=%3d  sessions=%2d  ops=%9d  (%6.0f/s)  errors=%d%s\n",
			smp.at, float64(rss)/(1<<20), fds, ti.SessionCount, n, float64(n-lastOps)/interval().Seconds(), s.errCount.Load(), phase)
		lastOps = n
		if s.errCount.Load() > 1000 {
			break
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	// Verdict.
	var problems []string
	if n := s.errCount.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d calls failed; first ones:\n  %s", n, strings.Join(s.errs, "\n  ")))
	}
	var after []sample
	for _, smp := range samples {
		if smp.at > warmup {
			after = append(after, smp)
		}
	}
	var rssBase, rssEnd float64
	var fdBase, fdEnd int
	if len(after) < 6 {
		problems = append(problems, fmt.Sprintf("only %d samples after warm-up: no verdict on memory and descriptors", len(after)))
	} else {
		first, last := after[:3], after[len(after)-3:]
		rssBase = median(first, func(x sample) float64 { return float64(x.rss) })
		rssEnd = median(last, func(x sample) float64 { return float64(x.rss) })
		if rssEnd > rssBase*(1+*flagRSSGrowth) {
			problems = append(problems, fmt.Sprintf("resident memory grew %.1f%% after warm-up (%.1f → %.1f MiB; allowed %.0f%%)",
				100*(rssEnd/rssBase-1), rssBase/(1<<20), rssEnd/(1<<20), 100**flagRSSGrowth))
		}
		for _, x := range first {
			fdBase = max(fdBase, x.fds)
		}
		for _, x := range last {
			fdEnd = max(fdEnd, x.fds)
		}
		if fdEnd > fdBase {
			problems = append(problems, fmt.Sprintf("open file descriptors grew after warm-up (at most %d in the first three samples, %d in the last three)", fdBase, fdEnd))
		}
		var sess []uint
		for _, x := range after {
			sess = append(sess, x.sessions)
		}
		// The anchor and one session per worker, plus at most one more per
		// worker inside session-open-close: anything above is a leak (the
		// exact count is checked at the end, with the workers stopped).
		if lo, hi := slices.Min(sess), slices.Max(sess); lo < uint(1+*flagWorkers) || hi > uint(1+2**flagWorkers) {
			problems = append(problems, fmt.Sprintf("the token's session count left %d..%d during the run: %v", 1+*flagWorkers, 1+2**flagWorkers, sess))
		}
	}

	// Leftovers: sessions and objects.
	for _, w := range workers {
		if err := p.CloseSession(w.sh); err != nil {
			problems = append(problems, fmt.Sprintf("C_CloseSession of a worker session: %v", err))
		}
	}
	ti, err := p.GetTokenInfo(s.slot)
	if err != nil {
		problems = append(problems, fmt.Sprintf("C_GetTokenInfo at the end: %v", err))
	} else if ti.SessionCount != 1 {
		problems = append(problems, fmt.Sprintf("%d sessions open at the end, want 1 (the anchor)", ti.SessionCount))
	}
	objs, err := s.findAll(s.anchor, nil)
	if err != nil {
		problems = append(problems, fmt.Sprintf("finding the objects at the end: %v", err))
	} else if len(objs) != 6 {
		problems = append(problems, fmt.Sprintf("%d objects on the token at the end, want the 6 made at setup (objects leaked or lost)", len(objs)))
	}
	if err := p.CloseAllSessions(s.slot); err != nil {
		problems = append(problems, fmt.Sprintf("C_CloseAllSessions: %v", err))
	}
	if err := p.Finalize(); err != nil {
		problems = append(problems, fmt.Sprintf("C_Finalize: %v", err))
	}
	logErrors, logWarns := logLevels(logPath)
	if len(logErrors) > 0 {
		problems = append(problems, fmt.Sprintf("the module logged %d errors:\n  %s", len(logErrors), strings.Join(head(logErrors, 10), "\n  ")))
	}

	// Summary.
	var names []string
	for k := range s.counts {
		names = append(names, k)
	}
	sort.Strings(names)
	var per []string
	for _, k := range names {
		per = append(per, fmt.Sprintf("%s %d", k, s.counts[k].Load()))
	}
	total := s.total.Load()
	fmt.Printf("summary: %v, %d operations (%.0f/s), %d errors; %s\n", elapsed.Round(time.Second), total, float64(total)/elapsed.Seconds(), s.errCount.Load(), strings.Join(per, ", "))
	if len(after) >= 6 {
		var sess []uint
		for _, x := range after {
			sess = append(sess, x.sessions)
		}
		fmt.Printf("summary: rss after warm-up %.1f MiB → %.1f MiB (%+.1f%%, limit %+.0f%%); fds %d → %d; sessions %d..%d while running, %d at the end; %d token objects at the end; module log: %d errors, %d warnings\n",
			rssBase/(1<<20), rssEnd/(1<<20), 100*(rssEnd/rssBase-1), 100**flagRSSGrowth, fdBase, fdEnd, slices.Min(sess), slices.Max(sess), ti.SessionCount, len(objs), len(logErrors), logWarns)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func interval() time.Duration { return *flagInterval }

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// rssBytes is the resident set size from /proc/self/statm.
func rssBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// fdCount counts /proc/self/fd (including the descriptor reading it, the
// same in every sample).
func fdCount() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	return len(ents), err
}

// logLevels returns the module log's error lines and counts its warnings.
func logLevels(path string) (errs []string, warns int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(l, "\terror\t"):
			errs = append(errs, l)
		case strings.Contains(l, "\twarn\t"):
			warns++
		}
	}
	return errs, warns
}

// ---- setup ----------------------------------------------------------------

func (s *soak) setup() error {
	p := s.p
	slots, err := p.GetSlotList(true)
	if err != nil || len(slots) == 0 {
		return fmt.Errorf("C_GetSlotList: %v (%d slots)", err, len(slots))
	}
	s.slot = slots[0]
	if err := p.InitToken(s.slot, soPIN, "craton-soak"); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	sh, err := p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("C_Login(SO): %w", err)
	}
	if err := p.InitPIN(sh, userPIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	if err := p.Logout(sh); err != nil {
		return err
	}
	if err := p.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
		return fmt.Errorf("C_Login(USER): %w", err)
	}
	s.anchor = sh
	tok := pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)
	if s.aes, err = p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		tok, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-aes"), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
	}); err != nil {
		return fmt.Errorf("AES key: %w", err)
	}
	if s.ecPub, s.ecPriv, err = p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{tok, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-ec"), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true)},
		[]*pkcs11.Attribute{tok, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-ec"), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true)}); err != nil {
		return fmt.Errorf("EC key pair: %w", err)
	}
	if s.rsaPub, s.rsaPriv, err = p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{tok, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-rsa"), pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true)},
		[]*pkcs11.Attribute{tok, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-rsa"), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true)}); err != nil {
		return fmt.Errorf("RSA key pair: %w", err)
	}
	if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA), tok, pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-public"), pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte("public")),
	}); err != nil {
		return fmt.Errorf("public data object: %w", err)
	}
	if err := p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA_SHA256, nil)}, s.ecPriv); err != nil {
		return err
	}
	if s.ecSig, err = p.Sign(sh, s.msg); err != nil {
		return err
	}
	return nil
}

// loginCycle logs the process out, checks what a logged-out process sees,
// and logs in again.
func (s *soak) loginCycle() error {
	s.login.Lock()
	defer s.login.Unlock()
	p := s.p
	if err := p.Logout(s.anchor); err != nil {
		return fmt.Errorf("C_Logout: %w", err)
	}
	// Logged out: private keys invisible, the public objects usable.
	priv, err := s.findAll(s.anchor, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)})
	if err != nil {
		return err
	}
	if len(priv) != 0 {
		return fmt.Errorf("logged out, %d private keys visible", len(priv))
	}
	pub, err := s.findAll(s.anchor, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-public")})
	if err != nil {
		return err
	}
	if len(pub) != 1 {
		return fmt.Errorf("logged out, %d public data objects found, want 1", len(pub))
	}
	if err := p.VerifyInit(s.anchor, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA_SHA256, nil)}, s.ecPub); err != nil {
		return fmt.Errorf("logged out, C_VerifyInit: %w", err)
	}
	if err := p.Verify(s.anchor, s.msg, s.ecSig); err != nil {
		return fmt.Errorf("logged out, C_Verify: %w", err)
	}
	if err := p.Login(s.anchor, pkcs11.CKU_USER, userPIN); err != nil {
		return fmt.Errorf("C_Login: %w", err)
	}
	return nil
}

func (s *soak) findAll(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := s.p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := s.p.FindObjects(sh, 64)
		if err != nil {
			s.p.FindObjectsFinal(sh)
			return nil, fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	if err := s.p.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("C_FindObjectsFinal: %w", err)
	}
	return out, nil
}

// ---- the workload -----------------------------------------------------------

func mech(m uint, param any) []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(m, param)}
}

func (w *worker) signVerify(m []*pkcs11.Mechanism, priv, pub pkcs11.ObjectHandle) error {
	p, sh, msg := w.s.p, w.sh, w.s.msg
	if err := p.SignInit(sh, m, priv); err != nil {
		return fmt.Errorf("C_SignInit: %w", err)
	}
	sig, err := p.Sign(sh, msg)
	if err != nil {
		return fmt.Errorf("C_Sign: %w", err)
	}
	if err := p.VerifyInit(sh, m, pub); err != nil {
		return fmt.Errorf("C_VerifyInit: %w", err)
	}
	if err := p.Verify(sh, msg, sig); err != nil {
		return fmt.Errorf("C_Verify: %w", err)
	}
	// A wrong signature must be refused.
	sig[len(sig)/2] ^= 1
	if err := p.VerifyInit(sh, m, pub); err != nil {
		return fmt.Errorf("C_VerifyInit: %w", err)
	}
	if err := p.Verify(sh, msg, sig); !isRV(err, pkcs11.CKR_SIGNATURE_INVALID) {
		return fmt.Errorf("C_Verify of a damaged signature: %v, want CKR_SIGNATURE_INVALID", err)
	}
	return nil
}

func (w *worker) roundTrip(m func() []*pkcs11.Mechanism, key pkcs11.ObjectHandle, pt []byte) error {
	p, sh := w.s.p, w.sh
	if err := p.EncryptInit(sh, m(), key); err != nil {
		return fmt.Errorf("C_EncryptInit: %w", err)
	}
	ct, err := p.Encrypt(sh, pt)
	if err != nil {
		return fmt.Errorf("C_Encrypt: %w", err)
	}
	if err := p.DecryptInit(sh, m(), key); err != nil {
		return fmt.Errorf("C_DecryptInit: %w", err)
	}
	got, err := p.Decrypt(sh, ct)
	if err != nil {
		return fmt.Errorf("C_Decrypt: %w", err)
	}
	if !bytes.Equal(got, pt) {
		return errors.New("decryption returned other bytes")
	}
	return nil
}

func (w *worker) randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

func (s *soak) ops() []op {
	return []op{
		{"ecdsa-sign-verify", func(w *worker) error {
			return w.signVerify(mech(pkcs11.CKM_ECDSA_SHA256, nil), s.ecPriv, s.ecPub)
		}},
		{"rsa-pkcs1-sign-verify", func(w *worker) error {
			return w.signVerify(mech(pkcs11.CKM_SHA256_RSA_PKCS, nil), s.rsaPriv, s.rsaPub)
		}},
		{"rsa-pss-sign-verify", func(w *worker) error {
			return w.signVerify(mech(pkcs11.CKM_SHA256_RSA_PKCS_PSS, pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32)), s.rsaPriv, s.rsaPub)
		}},
		{"aes-gcm-encrypt-decrypt", func(w *worker) error {
			iv, aad := w.randomBytes(12), w.randomBytes(16)
			var params []*pkcs11.GCMParams
			defer func() {
				for _, gp := range params {
					gp.Free()
				}
			}()
			return w.roundTrip(func() []*pkcs11.Mechanism {
				gp := pkcs11.NewGCMParams(iv, aad, 128)
				params = append(params, gp)
				return mech(pkcs11.CKM_AES_GCM, gp)
			}, s.aes, w.randomBytes(1+w.rng.IntN(4096)))
		}},
		{"aes-cbc-encrypt-decrypt", func(w *worker) error {
			iv := w.randomBytes(16)
			return w.roundTrip(func() []*pkcs11.Mechanism { return mech(pkcs11.CKM_AES_CBC_PAD, iv) }, s.aes, w.randomBytes(1+w.rng.IntN(4096)))
		}},
		{"digest", func(w *worker) error {
			data := w.randomBytes(w.rng.IntN(8192))
			if err := s.p.DigestInit(w.sh, mech(pkcs11.CKM_SHA256, nil)); err != nil {
				return fmt.Errorf("C_DigestInit: %w", err)
			}
			d, err := s.p.Digest(w.sh, data)
			if err != nil {
				return fmt.Errorf("C_Digest: %w", err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(d, want[:]) {
				return errors.New("wrong SHA-256")
			}
			return nil
		}},
		{"random", func(w *worker) error {
			b, err := s.p.GenerateRandom(w.sh, 64)
			if err == nil && len(b) != 64 {
				err = fmt.Errorf("%d bytes", len(b))
			}
			return err
		}},
		{"find", func(w *worker) error {
			for _, c := range []struct {
				tmpl []*pkcs11.Attribute
				want int
			}{
				{[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-aes")}, 1},
				{[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}, 2},
				{[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-ec"), pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY)}, 1},
			} {
				hs, err := s.findAll(w.sh, c.tmpl)
				if err != nil {
					return err
				}
				if len(hs) != c.want {
					return fmt.Errorf("found %d objects, want %d", len(hs), c.want)
				}
			}
			return nil
		}},
		{"token-object-create-read-destroy", func(w *worker) error {
			value := w.randomBytes(1 + w.rng.IntN(2048))
			h, err := s.p.CreateObject(w.sh, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, w.rng.IntN(2) == 0), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-temp"),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
			})
			if err != nil {
				return fmt.Errorf("C_CreateObject: %w", err)
			}
			as, err := s.p.GetAttributeValue(w.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
			if err != nil {
				return fmt.Errorf("C_GetAttributeValue: %w", err)
			}
			if !bytes.Equal(as[0].Value, value) {
				return errors.New("token object reads back other bytes")
			}
			if err := s.p.SetAttributeValue(w.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-temp-renamed")}); err != nil {
				return fmt.Errorf("C_SetAttributeValue: %w", err)
			}
			if err := s.p.DestroyObject(w.sh, h); err != nil {
				return fmt.Errorf("C_DestroyObject: %w", err)
			}
			return nil
		}},
		{"session-object-create-destroy", func(w *worker) error {
			h, err := s.p.CreateObject(w.sh, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "soak-session"), pkcs11.NewAttribute(pkcs11.CKA_VALUE, w.randomBytes(256)),
			})
			if err != nil {
				return fmt.Errorf("C_CreateObject: %w", err)
			}
			if err := s.p.DestroyObject(w.sh, h); err != nil {
				return fmt.Errorf("C_DestroyObject: %w", err)
			}
			return nil
		}},
		{"session-key-generate-use-destroy", func(w *worker) error {
			h, err := s.p.GenerateKey(w.sh, mech(pkcs11.CKM_AES_KEY_GEN, nil), []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			})
			if err != nil {
				return fmt.Errorf("C_GenerateKey: %w", err)
			}
			iv := w.randomBytes(16)
			if err := w.roundTrip(func() []*pkcs11.Mechanism { return mech(pkcs11.CKM_AES_CBC_PAD, iv) }, h, w.randomBytes(100)); err != nil {
				return err
			}
			if err := s.p.DestroyObject(w.sh, h); err != nil {
				return fmt.Errorf("C_DestroyObject: %w", err)
			}
			return nil
		}},
		{"session-open-close", func(w *worker) error {
			sh, err := s.p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				return fmt.Errorf("C_OpenSession: %w", err)
			}
			info, err := s.p.GetSessionInfo(sh)
			if err != nil {
				s.p.CloseSession(sh)
				return fmt.Errorf("C_GetSessionInfo: %w", err)
			}
			if info.State != pkcs11.CKS_RO_USER_FUNCTIONS {
				s.p.CloseSession(sh)
				return fmt.Errorf("a new session while logged in is in state %d, want CKS_RO_USER_FUNCTIONS", info.State)
			}
			if n := opened.Add(1); *flagLeak > 0 && n%int64(*flagLeak) == 0 {
				return nil // the deliberate leak of -leak-sessions
			}
			if err := s.p.CloseSession(sh); err != nil {
				return fmt.Errorf("C_CloseSession: %w", err)
			}
			return nil
		}},
	}
}
