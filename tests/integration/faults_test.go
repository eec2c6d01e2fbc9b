//go:build integration

package integration

// Faults under the token (issue 7, "Faults"): the store directory made
// read-only, a full disk, a corrupted or truncated store file, an
// unwritable GCM journal. Each must give a clear CK_RV (CKR_DEVICE_ERROR,
// or CKR_FUNCTION_FAILED from C_Initialize) and a log line, never a crash
// or a hang; nothing committed earlier may be lost; and the token must work
// again once the fault is gone.
//
// The token under fault always lives in a child process (role
// "fault-shell"), driven one command at a time over its stdin: a crash
// there is seen as the child's death (and reported with its signal) instead
// of taking this test binary down, a hang as a command that gets no answer,
// and each child installs the GCM journal its configuration names (a
// process installs one journal for good, see gcm_test.go), so the journal
// can be put where the fault is.
//
// How the faults are made. The tests run as root in CI, and root ignores
// permission bits, so:
//   - read-only store: `chattr +i` on the store directory and its files
//     (ext4, xfs and btrfs enforce it on descriptors that are already open,
//     unlike chmod for any user; see TestFaultStoreReadOnly for the -shm
//     and the change file);
//     as a non-root user, chmod 0500/0400 (which open descriptors ignore,
//     so writes may then succeed).
//   - read-only store, before C_Initialize: the child runs in its own mount
//     namespace (`unshare -m`, `-rm` for a non-root user) with the store
//     directory bind-mounted read-only over itself: EROFS, as for a
//     read-only filesystem.
//   - disk full: a 2 MiB tmpfs (`mount -t tmpfs -o size=2m`, root only)
//     holding the store and the journal, filled with a file.
//   - corruption: random bytes over a page in the middle of slot-0.db, or
//     the file truncated, while no process has it open.
//   - journal unwritable: its directory made read-only as above, or renamed
//     away and replaced by a plain file.
// A fault that cannot be made here fails the test with what is missing; it
// never skips.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

func init() {
	helperRoles["fault-shell"] = helperFaultShell
}

const (
	faultApp     = "craton-fault" // CKA_APPLICATION of every data object made here
	faultTimeout = 30 * time.Second
)

// ---- the child: a token driven line by line ---------------------------------

// rvName is the CKR_* name of err, "CKR_OK" for nil.
func faultRV(err error) string {
	if err == nil {
		return "CKR_OK"
	}
	var e pkcs11.Error
	if errors.As(err, &e) {
		s := e.Error() // "pkcs11: 0x30: CKR_DEVICE_ERROR"
		if i := strings.LastIndexByte(s, ' '); i >= 0 && strings.HasPrefix(s[i+1:], "CKR_") {
			return s[i+1:]
		}
		return fmt.Sprintf("CKR_0x%X", uint(e))
	}
	return "ERR:" + strings.ReplaceAll(err.Error(), " ", "_")
}

// faultValue is the CKA_VALUE of the data object labelled label: derived
// from the label, so any process can check it.
func faultValue(label string, size int) []byte {
	seed := sha256.Sum256([]byte(label))
	return bytes.Repeat(seed[:], size/len(seed)+1)[:size]
}

func faultDataTemplate(label string, size int, private bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, faultApp),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, faultValue(label, size)),
	}
}

// faultKeyValue is the value of the AES key labelled label.
func faultKeyValue(label string) []byte { return faultValue("aes-key:"+label, 32) }

var faultPlain = []byte("a plaintext the fault tests encrypt and decrypt")

// faultCheck reads the data object labelled label and compares its value:
// "CKR_OK", "MISSING", "DUP", "WRONG", or the CK_RV of the failing call.
func faultCheck(p *pkcs11.Ctx, sh pkcs11.SessionHandle, label string, size int) string {
	hs, err := findErr(p, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, faultApp),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	switch {
	case err != nil:
		return faultRV(errors.Unwrap(err))
	case len(hs) == 0:
		return "MISSING"
	case len(hs) > 1:
		return "DUP"
	}
	v, err := attr(p, sh, hs[0], pkcs11.CKA_VALUE)
	if err != nil {
		return faultRV(err)
	}
	if !bytes.Equal(v, faultValue(label, size)) {
		return "WRONG"
	}
	return "CKR_OK"
}

// helperFaultShell runs commands read from stdin, one per line, and answers
// each with one result line "R <CK_RV name or verdict> [data]".
func helperFaultShell(t *testing.T, h *helper) {
	p := module(t)
	var (
		slot uint
		sh   pkcs11.SessionHandle
		open bool
	)
	key := func(label string) (pkcs11.ObjectHandle, error) {
		hs, err := findErr(p, sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		})
		if err != nil {
			return 0, errors.Unwrap(err)
		}
		if len(hs) != 1 {
			return 0, fmt.Errorf("%d keys labelled %s", len(hs), label)
		}
		return hs[0], nil
	}
	gcm := func() (*pkcs11.GCMParams, []*pkcs11.Mechanism) {
		gp := pkcs11.NewGCMParams(make([]byte, 12), []byte("aad"), 128)
		return gp, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gp)}
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		num := func(i int) int { n, _ := strconv.Atoi(arg(i)); return n }
		var out string
		switch f[0] {
		case "quit":
			h.result("R", "CKR_OK bye")
			return
		case "init":
			err := p.Initialize()
			if err == nil {
				var ss []uint
				if ss, err = p.GetSlotList(true); err == nil && len(ss) > 0 {
					slot = ss[0]
				}
			}
			open = false
			out = faultRV(err)
		case "fin":
			out, open = faultRV(p.Finalize()), false
		case "login": // a fresh R/W session, user logged in
			if open {
				_ = p.CloseSession(sh)
				open = false
			}
			var err error
			if sh, err = p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err == nil {
				open = true
				if err = p.Login(sh, pkcs11.CKU_USER, userPIN); isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
					err = nil
				}
			}
			out = faultRV(err)
		case "create": // create LABEL SIZE PRIVATE(0|1)
			_, err := p.CreateObject(sh, faultDataTemplate(arg(1), num(2), arg(3) == "1"))
			out = faultRV(err)
		case "createn": // createn PREFIX FROM TO SIZE: private when odd; stops at the first error
			n := num(2)
			var err error
			for ; n < num(3); n++ {
				if _, err = p.CreateObject(sh, faultDataTemplate(fmt.Sprintf("%s-%d", arg(1), n), num(4), n%2 == 1)); err != nil {
					break
				}
			}
			out = fmt.Sprintf("%s %d", faultRV(err), n) // n: the first one not created
		case "check": // check LABEL SIZE
			out = faultCheck(p, sh, arg(1), num(2))
		case "checkn": // checkn PREFIX FROM TO SIZE: a tally of verdicts
			tally := map[string]int{}
			var bad []string
			for i := num(2); i < num(3); i++ {
				v := faultCheck(p, sh, fmt.Sprintf("%s-%d", arg(1), i), num(4))
				tally[v]++
				if v != "CKR_OK" && len(bad) < 8 {
					bad = append(bad, fmt.Sprintf("%d:%s", i, v))
				}
			}
			var parts []string
			for k, v := range tally {
				parts = append(parts, fmt.Sprintf("%s=%d", k, v))
			}
			sort.Strings(parts)
			out = "TALLY " + strings.Join(parts, ",") + " " + strings.Join(append([]string{"bad:"}, bad...), ",")
		case "count": // data objects of faultApp
			hs, err := findErr(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, faultApp)})
			out = fmt.Sprintf("%s %d", faultRV(errors.Unwrap(err)), len(hs))
		case "setlabel": // setlabel OLD NEW
			hs, err := findErr(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, arg(1))})
			switch {
			case err != nil:
				out = faultRV(errors.Unwrap(err))
			case len(hs) != 1:
				out = fmt.Sprintf("FOUND-%d", len(hs))
			default:
				out = faultRV(p.SetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, arg(2))}))
			}
		case "key": // key LABEL: a token AES-256 key for GCM and CBC
			_, err := p.CreateObject(sh, aesTemplate(arg(1), faultKeyValue(arg(1)), true,
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true)))
			out = faultRV(err)
		case "genc": // genc KEY: one AES-GCM encryption; answers the ciphertext in hex
			k, err := key(arg(1))
			var ct []byte
			if err == nil {
				gp, m := gcm()
				if err = p.EncryptInit(sh, m, k); err == nil {
					ct, err = p.Encrypt(sh, faultPlain)
				}
				gp.Free()
			}
			out = faultRV(err) + " " + hex.EncodeToString(ct)
		case "gdec": // gdec KEY HEX
			k, err := key(arg(1))
			ct, _ := hex.DecodeString(arg(2))
			var pt []byte
			if err == nil {
				gp, m := gcm()
				if err = p.DecryptInit(sh, m, k); err == nil {
					pt, err = p.Decrypt(sh, ct)
				}
				gp.Free()
			}
			out = faultRV(err)
			if err == nil && !bytes.Equal(pt, faultPlain) {
				out = "WRONG"
			}
		case "cbc": // cbc KEY: an AES-CBC-PAD round trip
			k, err := key(arg(1))
			var ct, pt []byte
			m := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, make([]byte, 16))}
			if err == nil {
				if err = p.EncryptInit(sh, m, k); err == nil {
					ct, err = p.Encrypt(sh, faultPlain)
				}
			}
			if err == nil {
				if err = p.DecryptInit(sh, m, k); err == nil {
					pt, err = p.Decrypt(sh, ct)
				}
			}
			out = faultRV(err)
			if err == nil && !bytes.Equal(pt, faultPlain) {
				out = "WRONG"
			}
		case "digest":
			var d []byte
			err := p.DigestInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)})
			if err == nil {
				d, err = p.Digest(sh, faultPlain)
			}
			out = faultRV(err)
			if want := sha256.Sum256(faultPlain); err == nil && !bytes.Equal(d, want[:]) {
				out = "WRONG"
			}
		case "random":
			_, err := p.GenerateRandom(sh, 32)
			out = faultRV(err)
		case "info":
			ti, err := p.GetTokenInfo(slot)
			out = faultRV(err) + " " + strings.TrimSpace(ti.Label)
		default:
			out = "UNKNOWN-COMMAND"
		}
		h.result("R", out)
	}
}

// ---- the parent's side: a child under command -------------------------------

// faultShell is a running fault-shell child.
type faultShell struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers chan string
	stderr  bytes.Buffer
	mu      sync.Mutex
	other   []string // stdout lines that are not answers (the child's test log)
	dead    bool
}

// faultEnv is a token for fault tests: a prepared token whose store
// directory and journal path the test chooses. The parent opens it through
// e.conf (which names the shared journal: see sharedJournal); children read
// childConf, which names the test's journal.
type faultEnv struct {
	*tokenEnv
	childConf, journal string
}

// newFaultEnv prepares a token with its store in storeDir (the usual
// <dir>/store when "") and a child journal at journal (<dir>/journal/gcm.journal
// when "").
func newFaultEnv(t *testing.T, storeDir, journal string) *faultEnv {
	t.Helper()
	e := newTokenEnv(t)
	if storeDir != "" {
		e.store = storeDir
	}
	if journal == "" {
		journal = filepath.Join(e.dir, "journal", "gcm.journal")
	}
	fe := &faultEnv{tokenEnv: e, childConf: filepath.Join(e.dir, "child.toml"), journal: journal}
	fe.writeConfs(t)
	p := e.open(t)
	prepareToken(t, p, firstSlot(t, p))
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
	return fe
}

func (fe *faultEnv) writeConfs(t *testing.T) {
	t.Helper()
	for _, c := range []struct{ path, journal string }{{fe.conf, sharedJournal}, {fe.childConf, fe.journal}} {
		conf := fmt.Sprintf("[store]\npath = %q\n[pin]\nkdf_iterations = 1000\nmax_failures = %d\n[log]\nlevel = \"info\"\nfile = %q\n[gcm]\njournal = %q\n",
			fe.store, fe.maxFailures, fe.log, c.journal)
		if err := os.WriteFile(c.path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// storeFile is the SQLite file of slot 0.
func (fe *faultEnv) storeFile() string { return filepath.Join(fe.store, "slot-0.db") }

// start runs a fault-shell child on fe. wrap, if not nil, rewrites the
// command line (to run it in a mount namespace).
func (fe *faultEnv) start(t *testing.T, name string, wrap func([]string) []string) *faultShell {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=170s"}
	if wrap != nil {
		args = wrap(args)
	}
	cmd := exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRATON_") && k != envSO {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, envConf+"="+fe.childConf, envHelper+"=fault-shell")
	s := &faultShell{t: t, name: name, cmd: cmd, answers: make(chan string, 16)}
	cmd.Stderr = &s.stderr
	var err error
	if s.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s (%s): %v", name, strings.Join(args, " "), err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(s.answers)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if k, v := cutResult(sc.Text()); k == "R" {
				s.answers <- v
				continue
			}
			s.mu.Lock()
			s.other = append(s.other, sc.Text())
			s.mu.Unlock()
		}
	}()
	return s
}

// died describes how the child ended, for a failure message.
func (s *faultShell) died() string {
	err := s.cmd.Wait()
	s.dead = true
	how := fmt.Sprint(err)
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		how = "killed by signal " + ws.Signal().String() + " (a crash)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s: %s\nstdout:\n%s\nstderr:\n%s", s.name, how, strings.Join(s.other, "\n"), faultTail(s.stderr.String(), 4000))
}

func faultTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// do sends one command and returns the child's answer: its first word (a
// CKR_* name or a verdict) and the rest. A child that dies or does not
// answer within faultTimeout fails the test: a crash or a hang.
func (s *faultShell) do(cmdline string) (string, string) {
	s.t.Helper()
	if s.dead {
		s.t.Fatalf("%s: %q sent to a dead child", s.name, cmdline)
	}
	if _, err := io.WriteString(s.in, cmdline+"\n"); err != nil {
		s.t.Fatalf("%s: sending %q: %v\n%s", s.name, cmdline, err, s.died())
	}
	select {
	case a, ok := <-s.answers:
		if !ok {
			s.t.Fatalf("%s: the child died during %q: %s", s.name, cmdline, s.died())
		}
		rv, rest, _ := strings.Cut(a, " ")
		return rv, rest
	case <-time.After(faultTimeout):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump on stderr
		time.Sleep(200 * time.Millisecond)
		_ = s.cmd.Process.Kill()
		s.t.Fatalf("%s: no answer to %q in %v (a hang): %s", s.name, cmdline, faultTimeout, s.died())
	}
	return "", ""
}

// want sends a command and fails the test unless the answer is one of rvs.
func (s *faultShell) want(cmdline string, rvs ...string) (string, string) {
	s.t.Helper()
	rv, rest := s.do(cmdline)
	if !slices.Contains(rvs, rv) {
		s.t.Errorf("%s: %q answered %s %s, want %s", s.name, cmdline, rv, rest, strings.Join(rvs, " or "))
	}
	return rv, rest
}

// quit ends the child and checks that it exited cleanly.
func (s *faultShell) quit() {
	s.t.Helper()
	if s.dead {
		return
	}
	s.do("quit")
	s.in.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		s.dead = true
		if err != nil {
			s.mu.Lock()
			s.t.Errorf("%s exited with %v\nstdout:\n%s\nstderr:\n%s", s.name, err, strings.Join(s.other, "\n"), faultTail(s.stderr.String(), 4000))
			s.mu.Unlock()
		}
	case <-time.After(faultTimeout):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("%s did not exit after quit", s.name)
	}
}

// tally parses a checkn answer ("TALLY CKR_OK=9,MISSING=1 bad:3:MISSING").
func faultTally(t *testing.T, rv, rest string) (map[string]int, string) {
	t.Helper()
	if rv != "TALLY" {
		t.Fatalf("checkn answered %s %s", rv, rest)
	}
	counts, bad, _ := strings.Cut(rest, " ")
	m := map[string]int{}
	for _, kv := range strings.Split(counts, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k], _ = strconv.Atoi(v)
		}
	}
	return m, bad
}

// wantAll checks that objects PREFIX-from..to-1 all read back intact.
func (s *faultShell) wantAll(prefix string, from, to, size int, when string) {
	s.t.Helper()
	rv, rest := s.do(fmt.Sprintf("checkn %s %d %d %d", prefix, from, to, size))
	m, bad := faultTally(s.t, rv, rest)
	if m["CKR_OK"] != to-from {
		s.t.Errorf("%s: %s: objects %s-%d..%d: %v %s, want all %d intact", s.name, when, prefix, from, to-1, m, bad, to-from)
	}
}

// logMark returns the current size of the module log, so that wantLog can
// look only at what came after.
func (fe *faultEnv) logMark() int64 {
	fi, err := os.Stat(fe.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// wantLog fails unless the module log, after mark, has an error line
// containing every one of words.
func (fe *faultEnv) wantLog(t *testing.T, mark int64, what string, words ...string) {
	t.Helper()
	fe.wantLogAt(t, mark, what, []string{"error"}, words...)
}

// wantLogAt is wantLog for log lines at any of levels.
func (fe *faultEnv) wantLogAt(t *testing.T, mark int64, what string, levels []string, words ...string) {
	t.Helper()
	b, _ := os.ReadFile(fe.log)
	if int64(len(b)) < mark {
		mark = 0
	}
	for _, line := range strings.Split(string(b[mark:]), "\n") {
		if !slices.ContainsFunc(levels, func(l string) bool { return strings.Contains(line, "\t"+l+"\t") }) {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			t.Logf("log line for %s: %s", what, faultTail(line, 400))
			return
		}
	}
	t.Errorf("%s: no log line at level %v containing %q after the fault\n%s", what, levels, words, faultTail(string(b[mark:]), 3000))
}

// ---- making the faults -------------------------------------------------------

func faultIsRoot() bool { return os.Geteuid() == 0 }

// chattrWorks checks, in dir, that `chattr +i` works and is enforced on a
// descriptor opened before it, so that root can be refused a write.
func faultChattrWorks(dir string) error {
	if _, err := exec.LookPath("chattr"); err != nil {
		return fmt.Errorf("chattr not installed (apt-get install e2fsprogs)")
	}
	probe := filepath.Join(dir, "chattr-probe")
	f, err := os.OpenFile(probe, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(probe)
	defer f.Close()
	if out, err := exec.Command("chattr", "+i", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("chattr +i %s: %v: %s (the filesystem of the test directory does not support the immutable flag: run with TMPDIR on ext4, xfs or btrfs)", probe, err, bytes.TrimSpace(out))
	}
	defer exec.Command("chattr", "-i", probe).Run()
	if _, err := f.Write([]byte("x")); err == nil {
		return fmt.Errorf("chattr +i %s is not enforced on an open descriptor (a write succeeded)", probe)
	}
	return nil
}

// readOnly makes dir and every file in it read-only for this user, root
// included, while processes may have them open; undo reverts it (also at
// cleanup). It returns how.
func faultReadOnly(t *testing.T, dir string, skip ...string) (undo func(), how string) {
	t.Helper()
	paths := faultFiles(t, dir, skip)
	if !faultIsRoot() {
		for _, p := range paths {
			os.Chmod(p, 0o400)
		}
		os.Chmod(dir, 0o500)
		done := false
		undo = func() {
			if !done {
				done = true
				os.Chmod(dir, 0o700)
				for _, p := range paths {
					os.Chmod(p, 0o600)
				}
			}
		}
		t.Cleanup(undo)
		return undo, "chmod 0500 on the directory, 0400 on its files (not root)"
	}
	if err := faultChattrWorks(filepath.Dir(dir)); err != nil {
		t.Fatalf("cannot make %s read-only for root: %v", dir, err)
	}
	done := false
	undo = func() {
		if !done {
			done = true
			exec.Command("chattr", append([]string{"-i", dir}, paths...)...).Run()
		}
	}
	t.Cleanup(undo)
	// A write still in flight in the child (the GCM journal fetches its
	// next block in the background) may rename a temporary file away
	// between the listing and chattr: list again and retry.
	for try := 0; ; try++ {
		out, err := exec.Command("chattr", append([]string{"+i", dir}, paths...)...).CombinedOutput()
		if err == nil {
			break
		}
		if try == 50 {
			t.Fatalf("chattr +i %s %v: %v\n%s", dir, paths, err, out)
		}
		exec.Command("chattr", append([]string{"-i", dir}, paths...)...).Run()
		time.Sleep(20 * time.Millisecond)
		paths = faultFiles(t, dir, skip)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return undo, fmt.Sprintf("chattr +i on the directory and %v (root)", names)
}

// faultFiles lists the regular files in dir, but those named in skip.
func faultFiles(t *testing.T, dir string, skip []string) []string {
	t.Helper()
	var paths []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if de.Type().IsRegular() && !slices.Contains(skip, de.Name()) {
			paths = append(paths, filepath.Join(dir, de.Name()))
		}
	}
	return paths
}

// roBindWrap runs a child in a mount namespace of its own where dir is
// bind-mounted read-only over itself.
func faultROBind(t *testing.T, dir string) func([]string) []string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("read-only store before C_Initialize: unshare not installed (util-linux)")
	}
	flags := []string{"-m", "--propagation", "private"}
	if !faultIsRoot() {
		flags = []string{"-r", "-m", "--propagation", "private"}
	}
	// Probe once: the mount must work and refuse writes.
	probe := exec.Command("unshare", append(flags, "sh", "-c", `mount --bind -o ro "$0" "$0" && ! touch "$0/.ro-probe" 2>/dev/null`, dir)...)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("read-only store before C_Initialize: a read-only bind mount in a mount namespace does not work here (unshare %s … mount --bind -o ro): %v\n%s"+
			"\nneeds CAP_SYS_ADMIN (root) or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)", strings.Join(flags, " "), err, out)
	}
	os.Remove(filepath.Join(dir, ".ro-probe"))
	return func(args []string) []string {
		return append(append([]string{"unshare"}, flags...),
			append([]string{"sh", "-c", `d=$1; shift; mount --bind -o ro "$d" "$d" && exec "$@"`, "sh", dir}, args...)...)
	}
}

// smallFS mounts a tmpfs of size at dir (created), unmounted at cleanup.
func faultSmallFS(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if !faultIsRoot() {
		t.Fatalf("disk-full fault: mounting a %s tmpfs needs root (mount -t tmpfs); run the integration tests as root", size)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("disk-full fault: mount -t tmpfs -o size=%s tmpfs %s: %v\n%s (needs CAP_SYS_ADMIN)", size, dir, err, out)
	}
	t.Cleanup(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// fill writes path until the filesystem is full and returns the bytes written.
func faultFill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			return n
		}
	}
}

// ---- the tests ---------------------------------------------------------------

// TestFaultStoreReadOnly: the store directory turns read-only under a
// process that has the token open, and other processes start on it while it
// is read-only. Writes are refused with CKR_DEVICE_ERROR and a log line (or
// C_Initialize with CKR_FUNCTION_FAILED and a log line), reads go on where
// SQLite can read, and once the directory is writable again everything
// works and nothing was lost.
//
// While a process has the token open, the directory, the database and its
// WAL are made read-only, but not the WAL index (slot-0.db-shm) nor the
// change counter (slot-0.db-changes, see slots.Store): SQLite maps the
// -shm and writes to it even to read, the token maps the change file and
// writes to it around every write it tries, and the kernel answers a write
// to a mapped page of an immutable file with SIGBUS once the page has been
// written back, a crash the fault itself would cause (a chmod, for a user
// it binds, leaves existing mappings writable too). Processes started
// during the fault meet every file read-only, the -shm and the change file
// included (a process that cannot write the change file refuses every
// write, see slots.Store), and a read-only bind mount of the store (EROFS).
func TestFaultStoreReadOnly(t *testing.T) {
	const n, size = 20, 300
	fe := newFaultEnv(t, "", "")
	a := fe.start(t, "open-before", nil)
	a.want("init", "CKR_OK")
	a.want("login", "CKR_OK")
	a.want(fmt.Sprintf("createn base 0 %d %d", n, size), "CKR_OK")
	a.want("key k1", "CKR_OK")
	strict := faultIsRoot() // chmod (not root) does not bind descriptors opened before it
	created := 0            // creates that returned CKR_OK
	var summary []string

	// 1. Read-only under a process that has the token open.
	mark := fe.logMark()
	undo, how := faultReadOnly(t, fe.store, "slot-0.db-shm", "slot-0.db-changes")
	res := fmt.Sprintf("token open (%s):", how)
	rv, _ := a.want("create ro-open 100 0", "CKR_DEVICE_ERROR", "CKR_OK")
	if rv == "CKR_OK" {
		created++
		if strict {
			t.Errorf("C_CreateObject on a read-only store returned CKR_OK")
		}
	} else {
		fe.wantLog(t, mark, "C_CreateObject on a read-only store", "C_CreateObject", "CKR_DEVICE_ERROR")
	}
	res += " C_CreateObject " + rv
	rv, _ = a.want("setlabel base-0 base-0", "CKR_DEVICE_ERROR", "CKR_OK")
	if rv == "CKR_OK" && strict {
		t.Errorf("C_SetAttributeValue on a read-only store returned CKR_OK")
	}
	res += ", C_SetAttributeValue " + rv
	a.wantAll("base", 0, n, size, "reads on the read-only store")
	a.want("count", "CKR_OK")
	a.want("cbc k1", "CKR_OK")
	a.want("digest", "CKR_OK")
	a.want("random", "CKR_OK")
	res += ", reads CKR_OK"

	// A process starting meanwhile.
	mark = fe.logMark()
	b := fe.start(t, "start-during", nil)
	bInit, _ := b.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	res += ", a process starting meanwhile: C_Initialize " + bInit
	if bInit == "CKR_OK" {
		// C_Login counts the attempt in the store first: it may be refused.
		lrv, _ := b.want("login", "CKR_OK", "CKR_DEVICE_ERROR")
		res += ", C_Login " + lrv
		if rv, _ := b.want("create ro-b 100 0", "CKR_DEVICE_ERROR", "CKR_OK", "CKR_USER_NOT_LOGGED_IN"); rv == "CKR_OK" {
			created++
			if strict {
				t.Errorf("C_CreateObject in a process started on a read-only store returned CKR_OK")
			}
		}
	} else {
		fe.wantLog(t, mark, "C_Initialize on a read-only store", "C_Initialize")
	}
	summary = append(summary, res)

	// Writable again.
	undo()
	a.want("create after-ro 100 1", "CKR_OK")
	a.want("check after-ro 100", "CKR_OK")
	a.want("setlabel base-0 base-0", "CKR_OK")
	a.wantAll("base", 0, n, size, "after the fault")
	if bInit != "CKR_OK" {
		b.want("init", "CKR_OK")
	}
	b.want("login", "CKR_OK")
	b.want("create after-ro-b 100 0", "CKR_OK")
	b.wantAll("base", 0, n, size, "after the fault, in the process that started during it")
	created += 2
	a.want("fin", "CKR_OK")
	b.want("fin", "CKR_OK")
	a.quit()
	b.quit()

	// 2. Read-only, every file, before C_Initialize.
	mark = fe.logMark()
	undo, how = faultReadOnly(t, fe.store)
	c := fe.start(t, "start-ro", nil)
	cInit, _ := c.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	if cInit == "CKR_OK" {
		if lrv, _ := c.want("login", "CKR_OK", "CKR_DEVICE_ERROR"); lrv == "CKR_OK" {
			c.wantAll("base", 0, n, size, "reads in a process started on a read-only store")
		}
		c.want("create ro-c 100 0", "CKR_DEVICE_ERROR", "CKR_USER_NOT_LOGGED_IN")
		c.want("fin", "CKR_OK")
	} else {
		fe.wantLog(t, mark, "C_Initialize on a read-only store", "C_Initialize")
	}
	undo()
	c.want("init", "CKR_OK")
	c.want("login", "CKR_OK")
	c.wantAll("base", 0, n, size, "after the fault")
	c.want("fin", "CKR_OK")
	c.quit()
	summary = append(summary, fmt.Sprintf("before C_Initialize (%s): C_Initialize %s", how, cInit))

	// 3. A process started on a read-only bind mount of the store.
	mark = fe.logMark()
	d := fe.start(t, "ro-mount", faultROBind(t, fe.store))
	dInit, _ := d.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	if dInit == "CKR_OK" {
		if lrv, _ := d.want("login", "CKR_OK", "CKR_DEVICE_ERROR"); lrv == "CKR_OK" {
			d.wantAll("base", 0, n, size, "reads on a read-only mount")
		}
		d.want("create ro-mount 100 0", "CKR_DEVICE_ERROR", "CKR_USER_NOT_LOGGED_IN")
		d.want("fin", "CKR_OK")
	} else {
		fe.wantLog(t, mark, "C_Initialize on a read-only mount", "C_Initialize")
	}
	d.quit()
	summary = append(summary, "before C_Initialize, on a read-only bind mount: C_Initialize "+dInit)

	// Nothing lost, seen from a fresh process.
	f := fe.start(t, "after", nil)
	f.want("init", "CKR_OK")
	f.want("login", "CKR_OK")
	f.wantAll("base", 0, n, size, "in a fresh process after the faults")
	f.want("check after-ro 100", "CKR_OK")
	f.want("check after-ro-b 100", "CKR_OK")
	if _, cnt := f.want("count", "CKR_OK"); cnt != strconv.Itoa(n+created) {
		t.Errorf("after the faults the token holds %s data objects, want %d", cnt, n+created)
	}
	f.want("create last 100 0", "CKR_OK")
	f.want("fin", "CKR_OK")
	f.quit()
	t.Logf("read-only store: %s", strings.Join(summary, "; "))
}

// TestFaultDiskFull: the store and the GCM journal on a 2 MiB tmpfs that
// fills up. Creates fail with CKR_DEVICE_ERROR (SQLITE_FULL), GCM
// encryption needing a journal write is refused with CKR_DEVICE_ERROR,
// decryption and reads go on; after space is freed everything works, and
// every object whose create returned CKR_OK is there.
func TestFaultDiskFull(t *testing.T) {
	const n, size = 20, 1000
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	faultSmallFS(t, mnt, "2m")
	fe := newFaultEnv(t, filepath.Join(mnt, "store"), filepath.Join(mnt, "gcm.journal"))
	a := fe.start(t, "disk-full", nil)
	a.want("init", "CKR_OK")
	a.want("login", "CKR_OK")
	a.want(fmt.Sprintf("createn base 0 %d %d", n, size), "CKR_OK")
	a.want("key k1", "CKR_OK")
	a.want("key k2", "CKR_OK")
	_, ct1 := a.want("genc k1", "CKR_OK") // k1 gets its journal record now; k2 never had one

	mark := fe.logMark()
	filler := filepath.Join(mnt, "filler")
	filled := faultFill(t, filler)
	// Keep creating until the store refuses: WAL pages already allocated
	// may take a few more.
	rv, rest := a.want(fmt.Sprintf("createn full 0 400 %d", 4000), "CKR_DEVICE_ERROR")
	okFull, _ := strconv.Atoi(rest)
	fe.wantLog(t, mark, "C_CreateObject on a full disk", "C_CreateObject")
	mark = fe.logMark()
	a.want("genc k2", "CKR_DEVICE_ERROR")
	fe.wantLog(t, mark, "GCM encryption on a full disk", "journal")
	a.want("gdec k1 "+strings.TrimSpace(ct1), "CKR_OK")
	a.wantAll("base", 0, n, size, "reads on a full disk")
	a.wantAll("full", 0, okFull, 4000, "objects created before the disk filled")
	a.want("cbc k2", "CKR_OK")
	a.want("digest", "CKR_OK")

	// A process starting on the full disk.
	b := fe.start(t, "start-full", nil)
	bInit, _ := b.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	bLogin := ""
	if bInit == "CKR_OK" {
		// C_Login counts the attempt in the store before it checks the PIN:
		// on a full disk that write may fail.
		mark = fe.logMark()
		bLogin, _ = b.want("login", "CKR_OK", "CKR_DEVICE_ERROR")
		if bLogin == "CKR_OK" {
			b.wantAll("base", 0, n, size, "reads in a process started on a full disk")
			b.want("create full-b 4000 0", "CKR_DEVICE_ERROR")
		} else {
			fe.wantLog(t, mark, "C_Login on a full disk", "C_Login", "CKR_DEVICE_ERROR")
			// The public objects (even numbers) stay readable.
			rv, rest := b.do(fmt.Sprintf("checkn base 0 %d %d", n, size))
			if m, bad := faultTally(t, rv, rest); m["CKR_OK"] != n/2 || m["MISSING"] != n/2 {
				t.Errorf("not logged in on a full disk: objects %v %s, want %d public ones CKR_OK and %d private ones invisible", m, bad, n/2, n/2)
			}
			b.want("create full-b 4000 0", "CKR_DEVICE_ERROR")
		}
	} else {
		fe.wantLog(t, mark, "C_Initialize on a full disk", "C_Initialize")
	}

	// Space again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	a.want("create after-full 1000 1", "CKR_OK")
	_, ct2 := a.want("genc k2", "CKR_OK")
	a.want("gdec k2 "+strings.TrimSpace(ct2), "CKR_OK")
	if bInit != "CKR_OK" {
		b.want("init", "CKR_OK")
	}
	b.want("login", "CKR_OK")
	b.want("create after-full-b 1000 0", "CKR_OK")
	a.want("fin", "CKR_OK")
	b.want("fin", "CKR_OK")
	a.quit()
	b.quit()

	// Fill it again with no process running: does the token start?
	filled2 := faultFill(t, filler)
	mark = fe.logMark()
	c := fe.start(t, "init-full", nil)
	cInit, _ := c.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	if cInit == "CKR_OK" {
		if rv, _ := c.want("login", "CKR_OK", "CKR_DEVICE_ERROR"); rv == "CKR_OK" {
			c.wantAll("base", 0, n, size, "reads after C_Initialize on a full disk")
		}
		c.want("fin", "CKR_OK")
	} else {
		fe.wantLog(t, mark, "C_Initialize on a full disk, no other process", "C_Initialize")
	}
	c.quit()
	os.Remove(filler)

	d := fe.start(t, "after", nil)
	d.want("init", "CKR_OK")
	d.want("login", "CKR_OK")
	d.wantAll("base", 0, n, size, "after the disk was full")
	d.wantAll("full", 0, okFull, 4000, "after the disk was full")
	d.want("check after-full 1000", "CKR_OK")
	d.want("check after-full-b 1000", "CKR_OK")
	if _, cnt := d.want("count", "CKR_OK"); cnt != strconv.Itoa(n+okFull+2) {
		t.Errorf("after the disk was full the token holds %s data objects, want %d", cnt, n+okFull+2)
	}
	d.want("fin", "CKR_OK")
	d.quit()
	t.Logf("disk full: filler took %d bytes; %d more 4000-byte creates succeeded, then %s; a process starting on the full disk: C_Initialize %s, C_Login %s; started with no process running and the disk full (%d bytes): C_Initialize %s",
		filled, okFull, rv, bInit, bLogin, filled2, cInit)
}

// TestFaultStoreDamaged: the store file damaged while no process has it
// open: a page in the middle overwritten with random bytes, the first page
// overwritten, the file cut in half, cut at an odd length, emptied. The
// token must either refuse to start (CKR_FUNCTION_FAILED and a log line) or
// start and report the damaged objects with CKR_DEVICE_ERROR; never crash
// or hang, and never return an object's value wrong. Objects that vanish
// while C_Initialize says CKR_OK must at least be logged.
//
// What it shows (commit 7c60f0d): a damaged header page or a cut file makes
// C_Initialize fail (CKR_FUNCTION_FAILED, "file is not a database" /
// "database disk image is malformed"); a damaged middle page lets
// C_Initialize and C_Login succeed, and then every search that reaches the
// page fails with CKR_DEVICE_ERROR (usually all 160 objects; when the page
// is one no search touches, all read back intact), never a wrong value; a
// new object can sometimes still be created. An emptied file is taken for a
// new, uninitialised token, silently (the one check that fails).
func TestFaultStoreDamaged(t *testing.T) {
	const n, size = 160, 600
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, size int64) string
	}{
		{"page-middle-random", func(t *testing.T, path string, sz int64) string {
			pages := sz / 4096
			pg := pages / 2
			faultOverwrite(t, path, pg*4096, randBytes(t, 4096))
			return fmt.Sprintf("page %d of %d overwritten with random bytes", pg, pages)
		}},
		{"pages-middle-random", func(t *testing.T, path string, sz int64) string {
			pages := sz / 4096
			for pg := pages / 3; pg < pages*2/3; pg += 3 {
				faultOverwrite(t, path, pg*4096+int64(pg%7)*100, randBytes(t, 1500))
			}
			return fmt.Sprintf("1500 random bytes in every third page from %d to %d of %d", pages/3, pages*2/3, pages)
		}},
		{"page-first-random", func(t *testing.T, path string, sz int64) string {
			faultOverwrite(t, path, 0, randBytes(t, 4096))
			return "page 0 (the header) overwritten with random bytes"
		}},
		{"truncate-half", func(t *testing.T, path string, sz int64) string {
			faultCut(t, path, sz/2/4096*4096)
			return fmt.Sprintf("cut from %d to %d bytes", sz, sz/2/4096*4096)
		}},
		{"truncate-odd", func(t *testing.T, path string, sz int64) string {
			faultCut(t, path, sz*3/4+123)
			return fmt.Sprintf("cut from %d to %d bytes", sz, sz*3/4+123)
		}},
		{"truncate-zero", func(t *testing.T, path string, sz int64) string {
			faultCut(t, path, 0)
			return fmt.Sprintf("cut from %d to 0 bytes", sz)
		}},
	}
	// One token, damaged copies of its store.
	fe := newFaultEnv(t, "", "")
	a := fe.start(t, "fill", nil)
	a.want("init", "CKR_OK")
	a.want("login", "CKR_OK")
	a.want(fmt.Sprintf("createn obj 0 %d %d", n, size), "CKR_OK")
	a.want("fin", "CKR_OK")
	a.quit()
	pristine, err := os.ReadFile(fe.storeFile())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fe.storeFile() + "-wal"); err == nil {
		if fi, _ := os.Stat(fe.storeFile() + "-wal"); fi.Size() > 0 {
			t.Logf("note: a %d-byte WAL is left after C_Finalize", fi.Size())
		}
	}
	var summary []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(fe.storeFile() + "-wal")
			os.Remove(fe.storeFile() + "-shm")
			if err := os.WriteFile(fe.storeFile(), pristine, 0o600); err != nil {
				t.Fatal(err)
			}
			what := c.damage(t, fe.storeFile(), int64(len(pristine)))
			mark := fe.logMark()
			s := fe.start(t, c.name, nil)
			initRV, _ := s.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
			result := "C_Initialize " + initRV
			if initRV != "CKR_OK" {
				fe.wantLog(t, mark, "C_Initialize on a damaged store", "C_Initialize")
			} else {
				// CKR_PIN_INCORRECT if the PIN record itself was damaged,
				// CKR_USER_PIN_NOT_INITIALIZED if the token row was lost.
				loginRV, _ := s.want("login", "CKR_OK", "CKR_DEVICE_ERROR", "CKR_PIN_INCORRECT", "CKR_USER_PIN_NOT_INITIALIZED")
				_, label := s.do("info")
				result += ", C_Login " + loginRV + ", token label " + strconv.Quote(label)
				crv, crest := s.do(fmt.Sprintf("checkn obj 0 %d %d", n, size))
				m, bad := faultTally(t, crv, crest)
				for k, v := range m {
					switch k {
					case "CKR_OK", "CKR_DEVICE_ERROR", "MISSING":
					case "CKR_USER_NOT_LOGGED_IN":
						if loginRV == "CKR_OK" {
							t.Errorf("%d objects: %s although logged in", v, k)
						}
					case "WRONG":
						t.Errorf("%d objects read back with a WRONG value and CKR_OK (silent corruption): %s", v, bad)
					default:
						t.Errorf("%d objects: %s, want CKR_OK, CKR_DEVICE_ERROR or absent", v, k)
					}
				}
				if m["CKR_DEVICE_ERROR"] > 0 {
					fe.wantLog(t, mark, "reading a damaged object", "CKR_DEVICE_ERROR")
				}
				result += fmt.Sprintf(", objects %v %s", m, bad)
				if m["MISSING"] > 0 || loginRV == "CKR_USER_PIN_NOT_INITIALIZED" {
					// Objects (or the whole token) vanished with CKR_OK:
					// the operator must at least be told.
					fe.wantLogAt(t, mark, fmt.Sprintf("BUG: C_Initialize succeeded on a damaged store and %d of %d objects are gone (C_Login %s)", m["MISSING"], n, loginRV),
						[]string{"warn", "error"}, "store")
				}
				nrv, _ := s.want("create new-after-damage 100 0", "CKR_OK", "CKR_DEVICE_ERROR", "CKR_USER_NOT_LOGGED_IN")
				result += ", a new create " + nrv
				s.want("fin", "CKR_OK")
			}
			s.quit()
			t.Logf("%s: %s", what, result)
			summary = append(summary, c.name+": "+result)
		})
	}
	// Restored, the store works (the damage stayed in the copies).
	os.Remove(fe.storeFile() + "-wal")
	os.Remove(fe.storeFile() + "-shm")
	if err := os.WriteFile(fe.storeFile(), pristine, 0o600); err != nil {
		t.Fatal(err)
	}
	s := fe.start(t, "restored", nil)
	s.want("init", "CKR_OK")
	s.want("login", "CKR_OK")
	s.wantAll("obj", 0, n, size, "the undamaged store")
	s.want("create after 100 0", "CKR_OK")
	s.want("fin", "CKR_OK")
	s.quit()
	t.Logf("damaged store, %d objects (%d bytes): %s", n, len(pristine), strings.Join(summary, "; "))
}

func faultOverwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func faultCut(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestFaultJournalUnwritable: the GCM journal cannot be written — its
// directory read-only, or replaced by a plain file — while a process has
// the token open, and before C_Initialize. An AES-GCM encryption that needs
// a journal write is refused with CKR_DEVICE_ERROR and a log line;
// decryption and every other operation go on; once fixed, encryption works.
func TestFaultJournalUnwritable(t *testing.T) {
	fe := newFaultEnv(t, "", "")
	jdir := filepath.Dir(fe.journal)
	a := fe.start(t, "journal", nil)
	a.want("init", "CKR_OK")
	a.want("login", "CKR_OK")
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		a.want("key "+k, "CKR_OK")
	}
	_, ct1 := a.want("genc k1", "CKR_OK")
	ct1 = strings.TrimSpace(ct1)
	others := func(s *faultShell, when string) {
		t.Helper()
		s.want("gdec k1 "+ct1, "CKR_OK")
		s.want("cbc k2", "CKR_OK")
		s.want("digest", "CKR_OK")
		s.want("create during-"+when+" 100 1", "CKR_OK")
		s.want("check during-"+when+" 100", "CKR_OK")
	}

	// 1. The journal's directory read-only.
	mark := fe.logMark()
	undo, how := faultReadOnly(t, jdir, "gcm.journal.lock")
	t.Logf("fault 1: journal directory: %s", how)
	rv1, _ := a.want("genc k2", "CKR_DEVICE_ERROR")
	if rv1 == "CKR_DEVICE_ERROR" {
		fe.wantLog(t, mark, "GCM encryption with a read-only journal directory", "journal")
	}
	others(a, "ro")
	undo()
	a.want("genc k2", "CKR_OK")

	// 2. The journal's directory replaced by a file.
	mark = fe.logMark()
	if err := os.Rename(jdir, jdir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jdir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fixed := false
	fix := func() {
		if !fixed {
			fixed = true
			os.Remove(jdir)
			os.Rename(jdir+".away", jdir)
		}
	}
	t.Cleanup(fix)
	a.want("genc k3", "CKR_DEVICE_ERROR")
	fe.wantLog(t, mark, "GCM encryption with the journal directory replaced by a file", "journal")
	others(a, "file")

	// 3. A process starting while the directory is a file.
	mark = fe.logMark()
	b := fe.start(t, "journal-start", nil)
	bInit, _ := b.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	if bInit == "CKR_OK" {
		b.want("login", "CKR_OK")
		b.want("genc k4", "CKR_DEVICE_ERROR")
		others(b, "file-b")
	} else {
		fe.wantLog(t, mark, "C_Initialize with the journal directory replaced by a file", "C_Initialize")
		t.Errorf("BUG: with the GCM journal's directory replaced by a file, C_Initialize returns %s: every operation is refused, not only AES-GCM encryption (want C_Initialize CKR_OK, then CKR_DEVICE_ERROR and a log line from each AES-GCM encryption until the journal is fixed)", bInit)
	}

	fix()
	a.want("genc k3", "CKR_OK")
	a.want("genc k4", "CKR_OK")
	if bInit != "CKR_OK" {
		b.want("init", "CKR_OK")
		b.want("login", "CKR_OK")
	}
	b.want("genc k4", "CKR_OK")
	b.want("gdec k1 "+ct1, "CKR_OK")
	b.want("fin", "CKR_OK")
	b.quit()

	// 4. A process starting while the journal's directory is read-only
	// (its lock file, made at the first start, stays writable).
	mark = fe.logMark()
	undo, _ = faultReadOnly(t, jdir, "gcm.journal.lock")
	c := fe.start(t, "journal-ro-start", nil)
	cInit, _ := c.want("init", "CKR_OK", "CKR_FUNCTION_FAILED")
	if cInit == "CKR_OK" {
		c.want("login", "CKR_OK")
		c.want("genc k5", "CKR_DEVICE_ERROR")
		fe.wantLog(t, mark, "GCM encryption in a process started with a read-only journal directory", "journal")
		others(c, "ro-c")
	} else {
		fe.wantLog(t, mark, "C_Initialize with a read-only journal directory", "C_Initialize")
		t.Errorf("with the GCM journal's directory read-only, C_Initialize returns %s: every operation is refused, not only AES-GCM encryption", cInit)
	}
	undo()
	if cInit != "CKR_OK" {
		c.want("init", "CKR_OK")
		c.want("login", "CKR_OK")
	}
	c.want("genc k5", "CKR_OK")
	c.want("fin", "CKR_OK")
	c.quit()
	a.want("genc k5", "CKR_OK")
	a.want("fin", "CKR_OK")
	a.quit()
	t.Logf("journal unwritable: read-only directory (%s): GCM encryption %s; directory replaced by a file: GCM encryption CKR_DEVICE_ERROR, a process starting then: C_Initialize %s; a process starting with the directory read-only: C_Initialize %s",
		how, rv1, bInit, cInit)
}
