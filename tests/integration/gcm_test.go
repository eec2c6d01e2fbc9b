//go:build integration

package integration

// The AES-GCM budget through the real library, across processes: crash
// safety under SIGKILL, two processes sharing a key and a journal, a
// damaged or cut journal, and a second journal path in one process.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/miekg/pkcs11"
)

func init() {
	helperRoles["gcm-loop"] = helperGCMLoop
}

// gcmKeyValue is the AES key every test here encrypts with; its SHA-256 is
// its fingerprint in the journal.
var gcmKeyValue = bytes.Repeat([]byte{0x6b}, 32)

// useJournal points token e's configuration at its own journal file (and,
// when max > 0, a lower cap).
func useJournal(t *testing.T, e *tokenEnv, max int) string {
	t.Helper()
	j := filepath.Join(e.dir, "gcm.journal")
	b, err := os.ReadFile(e.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), fmt.Sprintf("journal = %q", sharedJournal), fmt.Sprintf("journal = %q", j), 1)
	if max > 0 {
		conf = strings.Replace(conf, "[gcm]\n", fmt.Sprintf("[gcm]\nmax_encryptions = %d\n", max), 1)
	}
	if err := os.WriteFile(e.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}

// gcmToken is a prepared token holding the AES key, with its own journal.
// Only children encrypt: this process installed the shared journal.
func gcmToken(t *testing.T, max int) (*tokenEnv, string) {
	t.Helper()
	e := newPreparedToken(t)
	p := e.open(t)
	sh := openRW(t, p, firstSlot(t, p))
	loginUser(t, p, sh)
	create(t, p, sh, aesTemplate("gcm-key", gcmKeyValue, true), "GCM key")
	if err := p.Finalize(); err != nil {
		t.Fatal(err)
	}
	return e, useJournal(t, e, max)
}

// journalCeiling reads the key's ceiling and state as a restarted process
// would: from the journal and its raise file (gcmjournal.Inspect, the trust
// policy included).
func journalCeiling(t *testing.T, path string) (uint64, string) {
	t.Helper()
	recs, err := gcmjournal.Inspect(path, backend.JournalSealer{})
	if err != nil {
		t.Fatalf("reading the journal: %v", err)
	}
	r, ok := recs[gcmjournal.Fingerprint(sha256.Sum256(gcmKeyValue))]
	if !ok {
		return 0, ""
	}
	return r.Ceiling, r.State.String()
}

// helperGCMLoop encrypts with the key until refused, writing "<n>" after
// each encryption that returned CKR_OK, then "refused".
func helperGCMLoop(t *testing.T, h *helper) {
	p := h.env.open(t)
	sh := openRW(t, p, firstSlot(t, p))
	loginUser(t, p, sh)
	keys := findLabel(t, p, sh, "gcm-key")
	if len(keys) != 1 {
		t.Fatalf("child: %d GCM keys", len(keys))
	}
	h.raw("ready")
	for n := 1; ; n++ {
		gp := pkcs11.NewGCMParams(make([]byte, 12), nil, 128)
		err := p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gp)}, keys[0])
		if err == nil {
			_, err = p.Encrypt(sh, []byte("sixty-four bytes of plaintext, more or less, for the benchmark."))
		}
		gp.Free()
		if isRV(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) {
			h.raw("refused")
			return
		}
		if err != nil {
			t.Fatalf("child: encryption %d: %v", n, err)
		}
		h.raw(strconv.Itoa(n))
	}
}

// runGCMLoop runs a gcm-loop child; with kill > 0 it is killed with SIGKILL
// that long after it is ready. It returns the successes it reported and
// whether it reached "refused".
func runGCMLoop(t *testing.T, e *tokenEnv, kill time.Duration) (int, bool) {
	t.Helper()
	c := startChild(t, e, childSpec{role: "gcm-loop"})
	sc := bufio.NewScanner(c.stdout)
	successes, refused := 0, false
	var timer *time.Timer
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "ready":
			if kill > 0 {
				timer = time.AfterFunc(kill, func() { c.cmd.Process.Kill() })
			}
		case line == "refused":
			refused = true
		default:
			if n, err := strconv.Atoi(line); err == nil {
				successes = n
			}
		}
	}
	if timer != nil {
		timer.Stop()
	}
	err := c.cmd.Wait()
	if kill == 0 && err != nil {
		t.Fatalf("gcm-loop child failed: %v\n%s", err, c.stderr.String())
	}
	return successes, refused
}

// TestGCMJournalSurvivesKill: a child encrypting in a loop is killed at
// random moments; after each kill the journal's count for the key is at
// least the encryptions that returned CKR_OK and at most one reservation
// (gcmjournal.DefaultReserveStep, 2,048: the block in use and the block
// fetched ahead) more. The child reports each success after it returned,
// so the last one may go unreported: the bound allows for it.
func TestGCMJournalSurvivesKill(t *testing.T) {
	e, journal := gcmToken(t, 0)
	const rounds = 15
	var before uint64
	total := 0
	for r := 0; r < rounds; r++ {
		ok, _ := runGCMLoop(t, e, time.Duration(20+rand.IntN(250))*time.Millisecond)
		after, _ := journalCeiling(t, journal)
		// The child reports an encryption after C_Encrypt returned CKR_OK:
		// a kill between the two leaves one unreported, so ok or ok+1
		// encryptions returned CKR_OK.
		if after < before+uint64(ok) || after > before+uint64(ok)+1+gcmjournal.DefaultReserveStep {
			t.Fatalf("round %d: %d encryptions returned CKR_OK; the journal went from %d to %d", r, ok, before, after)
		}
		total += ok
		before = after
	}
	t.Logf("%d rounds, %d encryptions reported, journal ceiling %d", rounds, total, before)
	if total == 0 {
		t.Fatal("no child encrypted anything before being killed")
	}
}

// TestGCMTwoProcessesShareTheCap: two processes encrypt with the same key
// and journal until refused, with max_encryptions = 5000: together they get
// exactly 5000.
func TestGCMTwoProcessesShareTheCap(t *testing.T) {
	e, journal := gcmToken(t, 5000)
	type res struct {
		n       int
		refused bool
	}
	out := make(chan res, 2)
	for range 2 {
		go func() {
			n, refused := runGCMLoop(t, e, 0)
			out <- res{n, refused}
		}()
	}
	a, b := <-out, <-out
	if !a.refused || !b.refused {
		t.Fatalf("a child stopped without being refused: %+v %+v", a, b)
	}
	if a.n+b.n != 5000 {
		t.Fatalf("together %d + %d = %d encryptions, want exactly 5000", a.n, b.n, a.n+b.n)
	}
	if c, state := journalCeiling(t, journal); c != 5000 || state != "exhausted" {
		t.Fatalf("journal: %d %s", c, state)
	}
	// A restarted process is refused at once.
	if n, refused := runGCMLoop(t, e, 0); n != 0 || !refused {
		t.Fatalf("after exhaustion a new process encrypted %d times", n)
	}
	t.Logf("split %d + %d", a.n, b.n)
}

// TestGCMJournalDamage: a flipped byte poisons the key (refused, with an
// error line); a journal cut before its footer warns and keeps counting
// from the recorded ceiling.
func TestGCMJournalDamage(t *testing.T) {
	e, journal := gcmToken(t, 0)
	runGCMLoop(t, e, 150*time.Millisecond)
	ceiling, _ := journalCeiling(t, journal)
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	// Cut before the footer: honoured, with a warning.
	cut := b[:bytes.Index(b, []byte("hmac-sha256"))]
	if err := os.WriteFile(journal, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	runGCMLoop(t, e, 100*time.Millisecond)
	if after, state := journalCeiling(t, journal); after < ceiling || state != "live" {
		t.Fatalf("after a cut footer the key went from %d to %d (%s)", ceiling, after, state)
	}
	if log, _ := os.ReadFile(e.log); !bytes.Contains(log, []byte("footer")) {
		t.Fatalf("no warning about the missing footer in the log:\n%s", log)
	}
	// A flipped byte in the record: the key is refused from then on.
	b, _ = os.ReadFile(journal)
	i := bytes.IndexByte(b, '\n') + 70 // inside the first record's ceiling
	b[i] ^= 0x01
	if err := os.WriteFile(journal, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, refused := runGCMLoop(t, e, 0); n != 0 || !refused {
		t.Fatalf("a damaged journal let the key encrypt %d times", n)
	}
	if log, _ := os.ReadFile(e.log); !bytes.Contains(log, []byte("damaged")) {
		t.Fatalf("no error about the damaged journal in the log:\n%s", log)
	}
}

// TestGCMSecondJournalPathIgnored: the journal is installed once per
// process; a later C_Initialize naming another keeps the first and says so.
func TestGCMSecondJournalPathIgnored(t *testing.T) {
	e := newTokenEnv(t)
	useJournal(t, e, 0)
	e.open(t)
	log, _ := os.ReadFile(e.log)
	if !bytes.Contains(log, []byte("already installed")) {
		t.Fatalf("no log line about the ignored journal path:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "gcm.journal")); err == nil {
		t.Fatal("the second journal path was created")
	}
}
