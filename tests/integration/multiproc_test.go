//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

func init() {
	helperRoles["bulk-create"] = helperBulkCreate
	helperRoles["kill-loop"] = helperKillLoop
	helperRoles["stale-login"] = helperStaleLogin
}

// appTemplate searches the data objects of one application.
func appTemplate(app string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app),
	}
}

// appDataTemplate is a token data object of application app.
func appDataTemplate(label, app string, private bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, app),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte("value of "+label)),
	}
}

// labelsOf reads CKA_LABEL of each handle.
func labelsOf(t testing.TB, p *pkcs11.Ctx, sh pkcs11.SessionHandle, hs []pkcs11.ObjectHandle) []string {
	t.Helper()
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "label")))
	}
	return out
}

// helperBulkCreate creates N token data objects labelled PREFIX-0000…,
// watching the other process's objects appear meanwhile.
func helperBulkCreate(t *testing.T, h *helper) {
	prefix, other, n := h.arg(t, "PREFIX"), h.arg(t, "OTHER"), h.intArg(t, "N")
	p := h.env.open(t)
	slot := firstSlot(t, p)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	if err := os.WriteFile(h.arg(t, "READY"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !waitFile(h.arg(t, "GO"), 60*time.Second) {
		t.Fatal("child: no go signal")
	}
	start := time.Now()
	maxSeen, firstSeenAt, checks := 0, -1, 0
	for i := 0; i < n; i++ {
		label := fmt.Sprintf("%s-%04d", prefix, i)
		if _, err := p.CreateObject(sh, appDataTemplate(label, prefix, false)); err != nil {
			t.Fatalf("child %s: C_CreateObject #%d (%s): %v", prefix, i, label, err)
		}
		if i == 99 && h.arg(t, "MARK_WRITE") == "1" {
			if err := os.WriteFile(h.arg(t, "MARK"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if i == 50 && h.arg(t, "MARK_WAIT") == "1" {
			// Deterministic check: once the other has created 100, we see them.
			if !waitFile(h.arg(t, "MARK"), 60*time.Second) {
				t.Fatalf("child %s: the other process never reached 100 objects", prefix)
			}
			seen := len(find(t, p, sh, appTemplate(other)))
			if seen < 100 {
				t.Errorf("child %s: the other process reported 100 objects created, this one sees %d", prefix, seen)
			}
			h.result("sawAfterMark", seen)
		}
		if i%25 == 24 {
			checks++
			seen := len(find(t, p, sh, appTemplate(other)))
			if seen > maxSeen {
				maxSeen = seen
			}
			if seen > 0 && firstSeenAt < 0 {
				firstSeenAt = i
			}
		}
		if i%100 == 99 {
			if own := len(find(t, p, sh, appTemplate(prefix))); own != i+1 {
				t.Fatalf("child %s: after %d creates it finds %d of its own objects", prefix, i+1, own)
			}
		}
	}
	h.result("created", n)
	h.result("elapsedMs", time.Since(start).Milliseconds())
	h.result("maxSeenOther", maxSeen)
	h.result("firstSeenOtherAt", firstSeenAt)
	h.result("finds", checks)
}

// TestTwoProcessesConcurrently: two processes each create 500 token objects
// on one token at the same time; each sees the other's appear; a third
// process then finds all 1,000, each label once.
func TestTwoProcessesConcurrently(t *testing.T) {
	const n = 500
	e := newPreparedToken(t)
	at := func(name string) string { return filepath.Join(e.dir, name) }
	c1 := startChild(t, e, childSpec{role: "bulk-create", args: map[string]string{
		"PREFIX": "p1", "OTHER": "p2", "N": strconv.Itoa(n), "READY": at("ready1"), "GO": at("go"),
		"MARK": at("p1-100"), "MARK_WRITE": "1", "MARK_WAIT": "0",
	}})
	c2 := startChild(t, e, childSpec{role: "bulk-create", args: map[string]string{
		"PREFIX": "p2", "OTHER": "p1", "N": strconv.Itoa(n), "READY": at("ready2"), "GO": at("go"),
		"MARK": at("p1-100"), "MARK_WRITE": "0", "MARK_WAIT": "1",
	}})
	// Start them together once both are logged in.
	if !waitFile(at("ready1"), 60*time.Second) || !waitFile(at("ready2"), 60*time.Second) {
		c1.cmd.Process.Kill()
		c2.cmd.Process.Kill()
		t.Fatal("children not ready in 60 s")
	}
	start := time.Now()
	markDone(t, at("go"))
	done := make(chan map[string][]string, 2)
	// collect calls t.Fatalf, which must run on the test goroutine: read the
	// pipes concurrently here, judge afterwards.
	for _, c := range []*child{c1, c2} {
		go func(c *child) {
			lines := make(chan string, 64)
			go scanResults(c, lines)
			res := map[string][]string{}
			for l := range lines {
				k, v := cutResult(l)
				res[k] = append(res[k], v)
			}
			if err := c.cmd.Wait(); err != nil {
				res["error"] = []string{fmt.Sprintf("%v\nstdout:\n%s\nstderr:\n%s", err, c.stdoutRest, c.stderr.String())}
			}
			done <- res
		}(c)
	}
	var results []map[string][]string
	for range 2 {
		res := <-done
		if errs := res["error"]; len(errs) > 0 {
			t.Fatalf("child failed: %s", errs[0])
		}
		results = append(results, res)
	}
	wall := time.Since(start)
	anySaw := false
	for _, res := range results {
		if oneInt(t, res, "created") != n {
			t.Fatalf("a child created %s objects", one(t, res, "created"))
		}
		if oneInt(t, res, "maxSeenOther") > 0 {
			anySaw = true
		}
	}
	var summary []string
	for _, res := range results {
		summary = append(summary, fmt.Sprintf("created %s in %s ms, max other seen %s (first at own #%s, %s finds)",
			one(t, res, "created"), one(t, res, "elapsedMs"), one(t, res, "maxSeenOther"), one(t, res, "firstSeenOtherAt"), one(t, res, "finds")))
		if v := res["sawAfterMark"]; len(v) == 1 {
			summary = append(summary, "p2 saw "+v[0]+" p1 objects once p1 had made 100")
		}
	}
	if !anySaw {
		t.Errorf("neither child ever saw an object of the other while creating")
	}

	// A third process: exactly the 1,000 labels, once each.
	p := e.open(t)
	slot := firstSlot(t, p)
	sh := openRO(t, p, slot)
	all := find(t, p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA)})
	if len(all) != 2*n {
		t.Errorf("third process finds %d data objects, want %d", len(all), 2*n)
	}
	labels := labelsOf(t, p, sh, all)
	seen := map[string]int{}
	for _, l := range labels {
		seen[l]++
	}
	var missing, dup []string
	for _, pre := range []string{"p1", "p2"} {
		for i := 0; i < n; i++ {
			l := fmt.Sprintf("%s-%04d", pre, i)
			switch seen[l] {
			case 0:
				missing = append(missing, l)
			case 1:
			default:
				dup = append(dup, l)
			}
			delete(seen, l)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(seen) > 0 {
		t.Errorf("labels: %d missing %v, %d duplicated %v, %d unexpected %v", len(missing), head(missing), len(dup), head(dup), len(seen), seen)
	}
	// The handles are distinct too.
	hs := slices.Clone(all)
	slices.Sort(hs)
	if len(slices.Compact(hs)) != len(all) {
		t.Errorf("duplicate handles in the search result")
	}
	// And a search by label finds exactly one, for a sample.
	for _, l := range []string{"p1-0000", "p1-0499", "p2-0000", "p2-0250", "p2-0499"} {
		if got := len(findLabel(t, p, sh, l)); got != 1 {
			t.Errorf("find label %s: %d objects", l, got)
		}
	}
	t.Logf("2×%d concurrent creates in %v wall; %s; third process found %d objects, %d distinct labels",
		n, wall.Round(time.Millisecond), strings.Join(summary, "; "), len(all), len(labels)-len(dup))
}

func head(s []string) []string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// helperKillLoop creates token objects until killed, writing "<n>\n" to
// stdout after each create that returned CKR_OK. Odd objects are private.
func helperKillLoop(t *testing.T, h *helper) {
	round := h.arg(t, "ROUND")
	p := h.env.open(t)
	slot := firstSlot(t, p)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	h.raw("ready")
	for n := 0; n < 1_000_000; n++ {
		label := fmt.Sprintf("k-%s-%d", round, n)
		if _, err := p.CreateObject(sh, appDataTemplate(label, "k-"+round, n%2 == 1)); err != nil {
			t.Fatalf("child: C_CreateObject %s: %v", label, err)
		}
		h.raw(strconv.Itoa(n))
	}
}

// TestKillDashNine: a process creating token objects is killed with SIGKILL
// at random moments, many times; after each kill the token opens and every
// object whose creation was reported is there.
func TestKillDashNine(t *testing.T) {
	const (
		maxRounds = 30
		budget    = 45 * time.Second
	)
	e := newPreparedToken(t)
	start := time.Now()
	var (
		rounds, checked, reportedTotal, extras, earlyKills int
		perRound                                           []int
	)
	wantTotal := 0
	for round := 0; round < maxRounds && time.Since(start) < budget; round++ {
		rounds++
		r := strconv.Itoa(round)
		c := startChild(t, e, childSpec{role: "kill-loop", args: map[string]string{"ROUND": r}})
		lines := make(chan string, 1<<16)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(c.stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var (
			reported []int
			junk     []string // the child's other output (its test failures go to stdout)
		)
		ready := false
		early := round%5 == 4 // every fifth round: kill soon after exec, maybe inside C_Initialize or C_Login
		if early {
			earlyKills++
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		} else {
			timeout := time.After(60 * time.Second)
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break wait
					}
					if l == "ready" {
						ready = true
						break wait
					}
					junk = append(junk, l)
				case <-timeout:
					break wait
				}
			}
			if !ready {
				c.cmd.Process.Kill()
				for l := range lines {
					junk = append(junk, l)
				}
				c.cmd.Wait()
				t.Fatalf("round %d: child never got ready\nstdout:\n%s\nstderr:\n%s", round, strings.Join(junk, "\n"), c.stderr.String())
			}
			time.Sleep(time.Duration(10+rand.IntN(291)) * time.Millisecond)
		}
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		for l := range lines {
			if l == "ready" {
				continue
			}
			if n, err := strconv.Atoi(l); err == nil {
				reported = append(reported, n)
			} else {
				junk = append(junk, l)
			}
		}
		err := c.cmd.Wait()
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die of SIGKILL: %v\nstdout:\n%s\nstderr:\n%s", round, err, strings.Join(junk, "\n"), c.stderr.String())
		}
		for i, n := range reported {
			if n != i {
				t.Fatalf("round %d: child reported %v: not 0,1,2,…", round, head(intsToStrings(reported)))
			}
		}

		// Open the token: C_Initialize must succeed, every reported object
		// must be there.
		p := e.open(t)
		slot := firstSlot(t, p)
		sh := openRO(t, p, slot)
		loginUser(t, p, sh)
		hs := find(t, p, sh, appTemplate("k-"+r))
		got := map[string]bool{}
		for _, l := range labelsOf(t, p, sh, hs) {
			if got[l] {
				t.Errorf("round %d: label %s twice", round, l)
			}
			got[l] = true
		}
		for _, n := range reported {
			l := fmt.Sprintf("k-%s-%d", r, n)
			if !got[l] {
				t.Errorf("round %d: object %s was reported created (CKR_OK) but is missing after kill -9", round, l)
			}
			checked++
		}
		extra := len(hs) - len(reported)
		switch {
		case extra == 1:
			// The last create committed but was not reported: allowed.
			if !got[fmt.Sprintf("k-%s-%d", r, len(reported))] {
				t.Errorf("round %d: one unreported object, but not the next one in sequence: %v", round, got)
			}
			extras++
		case extra != 0:
			t.Errorf("round %d: %d objects found, %d reported", round, len(hs), len(reported))
		}
		wantTotal += len(hs)
		all := find(t, p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA)})
		if len(all) != wantTotal {
			t.Errorf("round %d: %d objects on the token in all, want %d (earlier rounds' objects must stay)", round, len(all), wantTotal)
		}
		if err := p.Finalize(); err != nil {
			t.Fatalf("round %d: C_Finalize: %v", round, err)
		}
		reportedTotal += len(reported)
		perRound = append(perRound, len(reported))
		if t.Failed() {
			break
		}
	}
	if reportedTotal == 0 {
		t.Errorf("no child ever reported an object: the test checked nothing")
	}
	t.Logf("kill -9: %d rounds (%d killed 0–40 ms after exec) in %v; %d reported objects checked present (per round %v); %d unreported-but-committed extras; %d objects on the token at the end",
		rounds, earlyKills, time.Since(start).Round(time.Millisecond), checked, perRound, extras, wantTotal)
}

func intsToStrings(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// helperStaleLogin logs in, creates a private object, waits while the
// parent re-initialises the token, then (still "logged in" from its point
// of view) tries to create another private token object.
func helperStaleLogin(t *testing.T, h *helper) {
	p := h.env.open(t)
	slot := firstSlot(t, p)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	create(t, p, sh, appDataTemplate("before-reinit", "stale", true), "private object before the re-initialisation")
	if err := os.WriteFile(h.arg(t, "READY"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !waitFile(h.arg(t, "GO"), 60*time.Second) {
		t.Fatal("child: no go signal")
	}
	oh, err := p.CreateObject(sh, appDataTemplate("after-reinit", "stale", true))
	h.result("create", rvString(err))
	if err == nil {
		h.result("handle", uint(oh))
	}
}

// TestReinitWhileAnotherProcessIsLoggedIn: process B is logged in when
// process A re-initialises the token (new token key, new user PIN). B's
// login belongs to the old token: whatever B does afterwards must not
// damage the new one. Either B's create of a private object is refused, or
// the object is a sound object of the new token. In every case the new
// token's user must be able to search it, and nothing from before the
// re-initialisation may remain.
func TestReinitWhileAnotherProcessIsLoggedIn(t *testing.T) {
	e := newPreparedToken(t)
	ready, goFile := filepath.Join(e.dir, "stale-ready"), filepath.Join(e.dir, "stale-go")
	c := startChild(t, e, childSpec{role: "stale-login", args: map[string]string{"READY": ready, "GO": goFile}})
	if !waitFile(ready, 60*time.Second) {
		c.cmd.Process.Kill()
		out, _ := io.ReadAll(c.stdout)
		c.cmd.Wait()
		t.Fatalf("child not ready\nstdout:\n%s\nstderr:\n%s", out, c.stderr.String())
	}
	// Process A: this one. It has no session, so C_InitToken proceeds.
	p := e.open(t)
	slot := firstSlot(t, p)
	prepareToken(t, p, slot)
	markDone(t, goFile)
	res := c.collect(t)
	childCreate := one(t, res, "create")

	sh := openRO(t, p, slot)
	loginUser(t, p, sh)
	hs, err := findErr(p, sh, nil)
	if err != nil {
		t.Errorf("new token's user cannot search after a process logged in to the old token created an object (its C_CreateObject returned %s): %v\n%s",
			childCreate, err, e.logTail())
	}
	for _, h := range hs {
		l := string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "object after re-initialisation"))
		switch l {
		case "before-reinit":
			t.Errorf("an object from before the re-initialisation survived it")
		case "after-reinit":
			if v := mustAttr(t, p, sh, h, pkcs11.CKA_VALUE, l); string(v) != "value of after-reinit" {
				t.Errorf("object %q reads back %q", l, v)
			}
		}
	}
	if v := res["handle"]; len(v) == 1 {
		n, _ := strconv.ParseUint(v[0], 10, 64)
		if _, err := attr(p, sh, pkcs11.ObjectHandle(n), pkcs11.CKA_LABEL); err != nil && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
			t.Errorf("object %d that the stale process created: C_GetAttributeValue: %v, want a readable object or CKR_OBJECT_HANDLE_INVALID", n, err)
		}
		if err := p.DestroyObject(openRW(t, p, slot), pkcs11.ObjectHandle(n)); err != nil && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
			t.Errorf("object %d that the stale process created cannot be destroyed either: %v", n, err)
		}
	}
	t.Logf("stale process's C_CreateObject after the re-initialisation: %s; new token: %d objects visible to its user", childCreate, len(hs))
}
