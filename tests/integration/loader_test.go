//go:build integration

package integration

// The one place that loads libcraton.so, plus the helpers every test uses:
// a scratch token per test, token preparation, object helpers, and child
// processes (this test binary re-executed as TestHelperProcess).
//
// How the configuration reaches the module. The module's Go runtime takes a
// copy of the process environment when it starts, at dlopen; an os.Setenv
// (C setenv) made later is invisible to its os.Getenv. Measured: a
// CRATON_CONF set after the load is ignored and C_Initialize falls back to
// the per-user default store. So:
//   - in this (parent) process the module is loaded once with every CRATON_*
//     variable removed from the environment, and each test hands its
//     configuration file to C_Initialize as CK_C_INITIALIZE_ARGS.pReserved;
//   - a child process gets CRATON_CONF in its environment from the start,
//     so there the module finds it through the environment.
// Either way, open() checks that the store appeared where the test's
// configuration put it, so a test can never run against a default store.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

const (
	soPIN   = "12345678"
	userPIN = "87654321"

	envSO      = "CRATON_SO"
	envConf    = "CRATON_CONF"
	envHelper  = "CRATON_IT_HELPER" // role a child process plays
	envArgPref = "CRATON_IT_ARG_"   // arguments of that role
	resultPref = "@@craton-it "     // prefix of a child's result lines
	tokenLabel = "craton-integration"
)

var (
	loadOnce sync.Once
	loaded   *pkcs11.Ctx
	loadErr  error
)

// isChild reports whether this process is a helper child.
func isChild() bool { return os.Getenv(envHelper) != "" }

// soPath is the absolute path of the module under test; the tests fail
// (they do not skip) without it.
func soPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv(envSO)
	if p == "" {
		t.Fatalf("%s is not set: run `make integration`, or CRATON_SO=/abs/path/libcraton.so go test -tags integration ./tests/integration/", envSO)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("%s=%q: %v", envSO, p, err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s=%q: %v (build it with `make build`)", envSO, p, err)
	}
	return abs
}

// module loads libcraton.so once per process and returns the context.
//
// Two Go runtimes share this process: the module's takes over SIGURG, the
// host runtime's preemption signal, which would leave this test binary
// without asynchronous preemption (a tight loop plus a GC then hangs). The
// host's SIGURG disposition is saved before the first load and restored
// once the module's runtime has started (a call into Go waits for that).
func module(t testing.TB) *pkcs11.Ctx {
	t.Helper()
	path := soPath(t)
	loadOnce.Do(func() {
		if !isChild() {
			// Keep the module's copy of the environment free of CRATON_*
			// (see the file comment): configuration goes through pReserved.
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRATON_") && k != envSO {
					os.Unsetenv(k)
				}
			}
		}
		hostHandler := sigurgHandler()
		if err := saveSIGURG(); err != nil {
			loadErr = err
			return
		}
		p := pkcs11.New(path)
		if p == nil {
			loadErr = fmt.Errorf("pkcs11.New(%q) failed: dlopen or C_GetFunctionList", path)
			_ = restoreSIGURG()
			return
		}
		// Enter the module's Go code once so its runtime (and its signal
		// handlers) are fully installed before SIGURG is put back.
		if _, err := p.GetInfo(); !isRV(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
			loadErr = fmt.Errorf("C_GetInfo before C_Initialize: got %v, want CKR_CRYPTOKI_NOT_INITIALIZED", err)
		}
		if err := restoreSIGURG(); err != nil && loadErr == nil {
			loadErr = err
		}
		if got := sigurgHandler(); got != hostHandler && loadErr == nil {
			loadErr = fmt.Errorf("SIGURG handler is %#x after the load, want the host's %#x", got, hostHandler)
		}
		loaded = p
	})
	if loadErr != nil {
		t.Fatalf("loading %s: %v", path, loadErr)
	}
	return loaded
}

// tokenEnv is one test's scratch token: a directory, its configuration file
// and its store.
type tokenEnv struct {
	dir, conf, store, log string
	maxFailures           int
}

// newTokenEnv writes a configuration under a fresh directory.
func newTokenEnv(t testing.TB) *tokenEnv {
	t.Helper()
	module(t) // load first: see the file comment
	dir := t.TempDir()
	e := &tokenEnv{
		dir:         dir,
		conf:        filepath.Join(dir, "craton.toml"),
		store:       filepath.Join(dir, "store"),
		log:         filepath.Join(dir, "craton.log"),
		maxFailures: 5,
	}
	writeConf(t, e)
	return e
}

// sharedJournal is the GCM journal every token of this process names: a
// process installs one journal, at its first C_Initialize, and keeps it (a
// later configuration naming another is ignored), so per-test journals
// would all land in the first test's, soon deleted, directory.
var sharedJournal = filepath.Join(os.TempDir(), fmt.Sprintf("craton-it-%d", os.Getpid()), "gcm.journal")

func writeConf(t testing.TB, e *tokenEnv) {
	t.Helper()
	conf := fmt.Sprintf(`[store]
path = %q
[pin]
kdf_iterations = 1000
max_failures = %d
[log]
level = "warn"
file = %q
[gcm]
journal = %q
`, e.store, e.maxFailures, e.log, sharedJournal)
	if err := os.WriteFile(e.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// childEnvFor is the environment of a child process using token e.
func childEnvFor(e *tokenEnv) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRATON_") && k != envSO {
			continue
		}
		env = append(env, kv)
	}
	return append(env, envConf+"="+e.conf)
}

// open runs C_Initialize for token e and registers a C_Finalize for the end
// of the test (harmless if the test finalised already).
func (e *tokenEnv) open(t testing.TB) *pkcs11.Ctx {
	t.Helper()
	p := module(t)
	var err error
	if isChild() {
		if got := os.Getenv(envConf); got != e.conf {
			t.Fatalf("child: %s=%q, want %q", envConf, got, e.conf)
		}
		err = p.Initialize() // finds CRATON_CONF in the environment
	} else {
		err = p.Initialize(pkcs11.InitializeWithReserved(cString(e.conf)))
	}
	if err != nil {
		t.Fatalf("C_Initialize with %s: %v\n%s", e.conf, err, e.logTail())
	}
	t.Cleanup(func() {
		if err := p.Finalize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
			t.Errorf("C_Finalize at cleanup: %v", err)
		}
	})
	if _, err := os.Stat(filepath.Join(e.store)); err != nil {
		t.Fatalf("C_Initialize succeeded but the configured store %s does not exist (%v): the module did not read %s", e.store, err, e.conf)
	}
	return p
}

// logTail is the end of the module's log file, for failure messages.
func (e *tokenEnv) logTail() string {
	b, err := os.ReadFile(e.log)
	if err != nil {
		return "(no module log)"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "module log:\n" + string(b)
}

// firstSlot returns the first slot's ID.
func firstSlot(t testing.TB, p *pkcs11.Ctx) uint {
	t.Helper()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatalf("C_GetSlotList: %v", err)
	}
	if len(slots) == 0 {
		t.Fatal("C_GetSlotList: no slot")
	}
	return slots[0]
}

// prepareToken initialises the token of slot with the SO PIN and sets the
// user PIN (InitToken, SO login, InitPIN, logout).
func prepareToken(t testing.TB, p *pkcs11.Ctx, slot uint) {
	t.Helper()
	if err := p.InitToken(slot, soPIN, tokenLabel); err != nil {
		t.Fatalf("C_InitToken: %v", err)
	}
	sh := openRW(t, p, slot)
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		t.Fatalf("C_Login(SO): %v", err)
	}
	if err := p.InitPIN(sh, userPIN); err != nil {
		t.Fatalf("C_InitPIN: %v", err)
	}
	if err := p.Logout(sh); err != nil {
		t.Fatalf("C_Logout: %v", err)
	}
	if err := p.CloseSession(sh); err != nil {
		t.Fatalf("C_CloseSession: %v", err)
	}
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		t.Fatalf("C_GetTokenInfo: %v", err)
	}
	if want := uint(pkcs11.CKF_TOKEN_INITIALIZED | pkcs11.CKF_USER_PIN_INITIALIZED); info.Flags&want != want {
		t.Fatalf("after preparation token flags %#x lack TOKEN_INITIALIZED|USER_PIN_INITIALIZED", info.Flags)
	}
	if info.Label != tokenLabel {
		t.Fatalf("token label %q, want %q", info.Label, tokenLabel)
	}
}

// newPreparedToken is the usual start: scratch token, initialised, user
// PIN set, then C_Finalize so that the test (or a child) starts clean.
func newPreparedToken(t testing.TB) *tokenEnv {
	t.Helper()
	e := newTokenEnv(t)
	p := e.open(t)
	prepareToken(t, p, firstSlot(t, p))
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
	return e
}

func openRW(t testing.TB, p *pkcs11.Ctx, slot uint) pkcs11.SessionHandle {
	t.Helper()
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatalf("C_OpenSession(RW): %v", err)
	}
	return sh
}

func openRO(t testing.TB, p *pkcs11.Ctx, slot uint) pkcs11.SessionHandle {
	t.Helper()
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatalf("C_OpenSession(RO): %v", err)
	}
	return sh
}

func loginUser(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle) {
	t.Helper()
	if err := p.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
		t.Fatalf("C_Login(USER): %v", err)
	}
}

// isRV reports whether err is the PKCS#11 return value rv.
func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// wantRV fails unless err is rv.
func wantRV(t testing.TB, err error, rv uint, what string) {
	t.Helper()
	if !isRV(err, rv) {
		t.Errorf("%s: got %v, want %v", what, rvString(err), pkcs11.Error(rv))
	}
}

func rvString(err error) string {
	if err == nil {
		return "CKR_OK"
	}
	return err.Error()
}

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// dataTemplate is a CKO_DATA object.
func dataTemplate(label string, value []byte, token, private bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, "craton-integration"),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	}
}

// aesTemplate is an AES secret key with the given value; extra attributes
// are appended (CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_PRIVATE, …).
func aesTemplate(label string, value []byte, token bool, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	}, extra...)
}

func create(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, what string) pkcs11.ObjectHandle {
	t.Helper()
	h, err := p.CreateObject(sh, tmpl)
	if err != nil {
		t.Fatalf("C_CreateObject(%s): %v", what, err)
	}
	return h
}

// find returns every handle matching tmpl, reading the search in batches.
func find(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) []pkcs11.ObjectHandle {
	t.Helper()
	hs, err := findErr(p, sh, tmpl)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	return hs
}

func findErr(p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := p.FindObjects(sh, 256)
		if err != nil {
			_ = p.FindObjectsFinal(sh)
			return nil, fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	if err := p.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("C_FindObjectsFinal: %w", err)
	}
	return out, nil
}

func findLabel(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle, label string) []pkcs11.ObjectHandle {
	t.Helper()
	return find(t, p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
}

// attr reads one attribute.
func attr(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	as, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, err
	}
	return as[0].Value, nil
}

func mustAttr(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint, what string) []byte {
	t.Helper()
	v, err := attr(p, sh, h, typ)
	if err != nil {
		t.Fatalf("C_GetAttributeValue(%s, attribute %#x): %v", what, typ, err)
	}
	return v
}

// ---- child processes -------------------------------------------------------

// helperRoles are the parts a child can play, by name.
var helperRoles = map[string]func(t *testing.T, h *helper){}

// helper is a child's view of its job.
type helper struct {
	env *tokenEnv
	out *bufio.Writer
	mu  sync.Mutex
}

func (h *helper) arg(t *testing.T, name string) string {
	t.Helper()
	v, ok := os.LookupEnv(envArgPref + name)
	if !ok {
		t.Fatalf("child: argument %s missing", name)
	}
	return v
}

func (h *helper) intArg(t *testing.T, name string) int {
	t.Helper()
	n, err := strconv.Atoi(h.arg(t, name))
	if err != nil {
		t.Fatalf("child: argument %s: %v", name, err)
	}
	return n
}

// result sends one result line to the parent, at once.
func (h *helper) result(key string, value any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.out, "%s%s %v\n", resultPref, key, value)
	h.out.Flush()
}

// raw writes a line as is, at once (the kill -9 test's "<n>\n" protocol).
func (h *helper) raw(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out.WriteString(line + "\n")
	h.out.Flush()
}

// TestHelperProcess is not a test: it is the entry point of child
// processes, which re-execute this binary with CRATON_IT_HELPER set.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envHelper)
	if role == "" {
		return // run as an ordinary test: nothing to do
	}
	fn, ok := helperRoles[role]
	if !ok {
		t.Fatalf("child: unknown role %q", role)
	}
	conf := os.Getenv(envConf)
	dir := filepath.Dir(conf)
	e := &tokenEnv{dir: dir, conf: conf, store: filepath.Join(dir, "store"), log: filepath.Join(dir, "craton.log")}
	h := &helper{env: e, out: bufio.NewWriter(os.Stdout)}
	fn(t, h)
}

// childSpec describes a child to start.
type childSpec struct {
	role string
	args map[string]string
}

// child is a running child process.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr bytes.Buffer
	// stdoutRest: what scanResults read from stdout that was not a result.
	stdoutRest string
}

// startChild starts this test binary as a helper child on token e. Its
// stdout is a pipe the caller reads (or collect() drains).
func startChild(t testing.TB, e *tokenEnv, s childSpec) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=150s")
	cmd.Env = append(childEnvFor(e), envHelper+"="+s.role)
	for k, v := range s.args {
		cmd.Env = append(cmd.Env, envArgPref+k+"="+v)
	}
	c := &child{name: s.role, cmd: cmd}
	cmd.Stderr = &c.stderr
	var err error
	if c.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child %s: %v", s.role, err)
	}
	// A test that stops early must not leave its children behind.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// collect reads the child's output to the end, waits for it, fails the test
// if it failed, and returns its result lines as key → values.
func (c *child) collect(t testing.TB) map[string][]string {
	t.Helper()
	out, _ := io.ReadAll(c.stdout)
	err := c.cmd.Wait()
	if err != nil {
		t.Fatalf("child %s failed: %v\nstdout:\n%s\nstderr:\n%s", c.name, err, out, c.stderr.String())
	}
	res := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, resultPref)
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(rest, " ")
		res[k] = append(res[k], v)
	}
	return res
}

// runChild starts a child and collects it.
func runChild(t testing.TB, e *tokenEnv, s childSpec) map[string][]string {
	t.Helper()
	return startChild(t, e, s).collect(t)
}

// one returns the single value of key in a child's results.
func one(t testing.TB, res map[string][]string, key string) string {
	t.Helper()
	v := res[key]
	if len(v) != 1 {
		t.Fatalf("child result %q: got %d values %q, want 1", key, len(v), v)
	}
	return v[0]
}

func oneInt(t testing.TB, res map[string][]string, key string) int {
	t.Helper()
	n, err := strconv.Atoi(one(t, res, key))
	if err != nil {
		t.Fatalf("child result %q: %v", key, err)
	}
	return n
}

// waitFile waits until path exists (a cheap cross-process signal).
func waitFile(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}
