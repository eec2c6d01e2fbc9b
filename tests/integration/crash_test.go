//go:build integration

package integration

// Crash safety across the whole token (issue 7, "Crash safety"): a writer
// killed with SIGKILL at random points in object creation, label changes
// (C_SetAttributeValue), user and SO PIN changes (C_SetPIN, alternating
// between two known PINs) and token re-initialisation (C_InitToken), 400
// times in all. After each kill the store must open (C_Initialize), hold
// every object whose call had returned CKR_OK, show each label as its old
// or its new value, accept exactly one of the two PINs (the old or the new
// one), and be either the old token or the fresh one, never a mix.
//
// Protocol: the child writes "ready" once logged in, "begin <what>" before
// each call and "ok <what>" after it returned CKR_OK (any other return code
// ends the child with a failure, which the parent reports). The parent
// kills it either soon after exec (inside C_Initialize or C_Login), or
// after a random number of "begin" lines plus a random delay of up to a
// few milliseconds, so that the kill lands inside a call. It then checks
// the token from this process and carries what it found into the next
// round.

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
)

func init() {
	helperRoles["crash-create"] = helperCrashCreate
	helperRoles["crash-setlabel"] = helperCrashSetLabel
	helperRoles["crash-setpin"] = helperCrashSetPIN
	helperRoles["crash-inittoken"] = helperCrashInitToken
}

// The two PINs each PIN alternates between. pinA of each is the one
// prepareToken sets.
var (
	crashUserPINs = [2]string{userPIN, "24681357"}
	crashSOPINs   = [2]string{soPIN, "13572468"}
)

func crashOtherPIN(pins [2]string, cur string) string {
	if cur == pins[0] {
		return pins[1]
	}
	return pins[0]
}

// crashKeyValue is the value of the AES key labelled label (readable: the
// keys here are not sensitive, so that the check can compare it).
func crashKeyValue(label string) []byte { return faultValue("crash-key:"+label, 32) }

func crashKeyTemplate(label string, id []byte, private bool) []*pkcs11.Attribute {
	return aesTemplate(label, crashKeyValue(label), true,
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true))
}

// ---- children -------------------------------------------------------------

// crashFatal ends a child whose call failed: the parent reports its output.
func crashFatal(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("child: %s: %v", what, err)
	}
}

// helperCrashCreate creates token objects c-<ROUND>-<n> until killed: a
// public data object, a private data object, an AES key, in turn.
func helperCrashCreate(t *testing.T, h *helper) {
	round := h.arg(t, "ROUND")
	p := h.env.open(t)
	sh := openRW(t, p, firstSlot(t, p))
	loginUser(t, p, sh)
	h.raw("ready")
	for n := 0; n < 1_000_000; n++ {
		label := fmt.Sprintf("c-%s-%d", round, n)
		tmpl := faultDataTemplate(label, 200, n%3 == 1)
		if n%3 == 2 {
			tmpl = crashKeyTemplate(label, []byte(label), n%2 == 0)
		}
		h.raw(fmt.Sprintf("begin %d", n))
		_, err := p.CreateObject(sh, tmpl)
		crashFatal(t, "C_CreateObject "+label, err)
		h.raw(fmt.Sprintf("ok %d", n))
	}
}

// The objects whose labels crash-setlabel changes: data objects found by
// CKA_APPLICATION, keys by CKA_ID, both "lbl-obj-<i>"; labels
// "lbl-<i>-<generation>".
const crashLabelObjects = 6

func crashLabelID(i int) string { return fmt.Sprintf("lbl-obj-%d", i) }

func crashLabelTemplate(i int) []*pkcs11.Attribute {
	if i >= 4 {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_ID, crashLabelID(i)),
		}
	}
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, crashLabelID(i)),
	}
}

// crashLabelGen parses "lbl-<i>-<g>".
func crashLabelGen(label string, i int) (int, bool) {
	rest, ok := strings.CutPrefix(label, fmt.Sprintf("lbl-%d-", i))
	if !ok {
		return 0, false
	}
	g, err := strconv.Atoi(rest)
	return g, err == nil
}

// helperCrashSetLabel renames the label objects in turn, each to its next
// generation, until killed.
func helperCrashSetLabel(t *testing.T, h *helper) {
	p := h.env.open(t)
	sh := openRW(t, p, firstSlot(t, p))
	loginUser(t, p, sh)
	var hs [crashLabelObjects]pkcs11.ObjectHandle
	var gen [crashLabelObjects]int
	for i := range hs {
		found := find(t, p, sh, crashLabelTemplate(i))
		if len(found) != 1 {
			t.Fatalf("child: %d objects %s", len(found), crashLabelID(i))
		}
		hs[i] = found[0]
		g, ok := crashLabelGen(string(mustAttr(t, p, sh, hs[i], pkcs11.CKA_LABEL, crashLabelID(i))), i)
		if !ok {
			t.Fatalf("child: object %s has an unexpected label", crashLabelID(i))
		}
		gen[i] = g
	}
	h.raw("ready")
	for m := 0; m < 1_000_000; m++ {
		i := (m + rand.IntN(crashLabelObjects)) % crashLabelObjects
		g := gen[i] + 1
		h.raw(fmt.Sprintf("begin %d %d", i, g))
		err := p.SetAttributeValue(sh, hs[i], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, fmt.Sprintf("lbl-%d-%d", i, g))})
		crashFatal(t, "C_SetAttributeValue", err)
		h.raw(fmt.Sprintf("ok %d %d", i, g))
		gen[i] = g
	}
}

// helperCrashSetPIN changes the user PIN (WHO=user, in a public session) or
// the SO PIN (WHO=so, logged in as SO) back and forth between its two
// values, starting from CUR, until killed.
func helperCrashSetPIN(t *testing.T, h *helper) {
	who, cur := h.arg(t, "WHO"), h.arg(t, "CUR")
	pins := crashUserPINs
	if who == "so" {
		pins = crashSOPINs
	}
	p := h.env.open(t)
	sh := openRW(t, p, firstSlot(t, p))
	if who == "so" {
		crashFatal(t, "C_Login(SO)", p.Login(sh, pkcs11.CKU_SO, cur))
	}
	h.raw("ready")
	for k := 0; k < 1_000_000; k++ {
		next := crashOtherPIN(pins, cur)
		h.raw(fmt.Sprintf("begin %d", k))
		crashFatal(t, "C_SetPIN", p.SetPIN(sh, cur, next))
		h.raw(fmt.Sprintf("ok %d", k))
		cur = next
	}
}

// helperCrashInitToken re-initialises the token again and again, starting
// at generation GEN+1 with SO PIN SO. Each generation j: C_InitToken (label
// "tok-<j>"), SO login, C_SetPIN of the SO PIN to the other one, C_InitPIN,
// user login, three objects "obj-<j>-<k>" (data, private data, AES key),
// everything closed.
func helperCrashInitToken(t *testing.T, h *helper) {
	gen, so := h.intArg(t, "GEN"), h.arg(t, "SO")
	p := h.env.open(t)
	slot := firstSlot(t, p)
	h.raw("ready")
	for j := gen + 1; j < gen+1_000_000; j++ {
		h.raw(fmt.Sprintf("begin init %d", j))
		crashFatal(t, "C_InitToken", p.InitToken(slot, so, fmt.Sprintf("tok-%d", j)))
		h.raw(fmt.Sprintf("ok init %d", j))
		sh := openRW(t, p, slot)
		crashFatal(t, "C_Login(SO)", p.Login(sh, pkcs11.CKU_SO, so))
		next := crashOtherPIN(crashSOPINs, so)
		h.raw(fmt.Sprintf("begin sopin %d", j))
		crashFatal(t, "C_SetPIN(SO)", p.SetPIN(sh, so, next))
		h.raw(fmt.Sprintf("ok sopin %d", j))
		so = next
		h.raw(fmt.Sprintf("begin initpin %d", j))
		crashFatal(t, "C_InitPIN", p.InitPIN(sh, userPIN))
		h.raw(fmt.Sprintf("ok initpin %d", j))
		crashFatal(t, "C_Logout", p.Logout(sh))
		loginUser(t, p, sh)
		for k := 0; k < 3; k++ {
			label := fmt.Sprintf("obj-%d-%d", j, k)
			tmpl := faultDataTemplate(label, 150, k == 1)
			if k == 2 {
				tmpl = crashKeyTemplate(label, []byte(label), true)
			}
			h.raw(fmt.Sprintf("begin obj %d %d", j, k))
			_, err := p.CreateObject(sh, tmpl)
			crashFatal(t, "C_CreateObject "+label, err)
			h.raw(fmt.Sprintf("ok obj %d %d", j, k))
		}
		crashFatal(t, "C_CloseSession", p.CloseSession(sh))
	}
}

// ---- the parent's side ----------------------------------------------------

// crashStats counts what the test did.
type crashStats struct {
	kills, early, inCall int
	checked              map[string]int
}

func (s *crashStats) check(what string, n int) { s.checked[what] += n }

// crashKill runs one child and kills it with SIGKILL: early (0–30 ms after
// exec) or after the k-th "begin" line plus up to jitter. It returns the
// child's protocol lines after "ready" and whether the last was a "begin"
// (the kill landed inside a call).
func crashKill(t *testing.T, e *tokenEnv, spec childSpec, early bool, k int, jitter time.Duration) []string {
	t.Helper()
	c := startChild(t, e, spec)
	lines := make(chan string, 1<<12)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(c.stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got, junk []string
	if early {
		time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
	} else {
		begins := 0
		timeout := time.After(30 * time.Second)
	wait:
		for begins < k {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				switch {
				case l == "ready":
				case strings.HasPrefix(l, "begin "):
					begins++
					got = append(got, l)
				case strings.HasPrefix(l, "ok "):
					got = append(got, l)
				default:
					junk = append(junk, l)
				}
			case <-timeout:
				break wait
			}
		}
		if begins < k {
			c.cmd.Process.Kill()
			for l := range lines {
				junk = append(junk, l)
			}
			c.cmd.Wait()
			t.Fatalf("%s: the child stopped before its %d-th call\nprotocol: %v\nstdout:\n%s\nstderr:\n%s", spec.role, k, crashTail(got), strings.Join(junk, "\n"), c.stderr.String())
		}
		if jitter > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(jitter))))
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	for l := range lines {
		switch {
		case l == "ready":
		case strings.HasPrefix(l, "begin "), strings.HasPrefix(l, "ok "):
			got = append(got, l)
		default:
			junk = append(junk, l)
		}
	}
	err := c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: the child did not die of SIGKILL (%v): it failed on its own\nprotocol: %v\nstdout:\n%s\nstderr:\n%s", spec.role, err, crashTail(got), strings.Join(junk, "\n"), c.stderr.String())
	}
	return got
}

func crashTail(l []string) []string {
	if len(l) > 12 {
		return l[len(l)-12:]
	}
	return l
}

// crashOpen initialises the module on e in this process. C_Initialize must
// succeed after any kill.
var crashConfStrings = map[string]unsafe.Pointer{}

func crashOpen(t *testing.T, e *tokenEnv, round int, mode string) (*pkcs11.Ctx, uint) {
	t.Helper()
	p := module(t)
	cs, ok := crashConfStrings[e.conf]
	if !ok {
		cs = cString(e.conf)
		crashConfStrings[e.conf] = cs
	}
	if err := p.Initialize(pkcs11.InitializeWithReserved(cs)); err != nil {
		t.Fatalf("%s round %d: C_Initialize after kill -9: %v\n%s", mode, round, err, e.logTail())
	}
	return p, firstSlot(t, p)
}

func crashClose(t *testing.T, p *pkcs11.Ctx) {
	t.Helper()
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
}

// crashPlan picks how round r is killed: early, or after k begins plus
// jitter.
func crashPlan(r int) (early bool, k int, jitter time.Duration) {
	if r%10 == 9 {
		return true, 0, 0
	}
	return false, 1 + rand.IntN(6), time.Duration(rand.IntN(4000)) * time.Microsecond
}

// TestCrashSafety kills writers 400 times across the five kinds of write.
func TestCrashSafety(t *testing.T) {
	stats := &crashStats{checked: map[string]int{}}
	start := time.Now()
	for _, m := range []struct {
		name   string
		rounds int
		run    func(t *testing.T, rounds int, s *crashStats)
	}{
		{"create", 80, crashCreate},
		{"setlabel", 80, crashSetLabel},
		{"setpin-user", 70, func(t *testing.T, n int, s *crashStats) { crashSetPIN(t, n, s, "user") }},
		{"setpin-so", 70, func(t *testing.T, n int, s *crashStats) { crashSetPIN(t, n, s, "so") }},
		{"inittoken", 100, crashInitToken},
	} {
		t.Run(m.name, func(t *testing.T) {
			t0 := time.Now()
			k0 := stats.kills
			m.run(t, m.rounds, stats)
			t.Logf("%s: %d kills in %v", m.name, stats.kills-k0, time.Since(t0).Round(time.Millisecond))
		})
	}
	var checked []string
	for k, v := range stats.checked {
		checked = append(checked, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(checked)
	t.Logf("kill -9: %d kills (%d within 30 ms of exec, %d inside a call: last line a \"begin\") in %v; checked: %s",
		stats.kills, stats.early, stats.inCall, time.Since(start).Round(time.Millisecond), strings.Join(checked, ", "))
}

// countKill records one round's kill.
func (s *crashStats) countKill(early bool, lines []string) {
	s.kills++
	if early {
		s.early++
	}
	if n := len(lines); n > 0 && strings.HasPrefix(lines[n-1], "begin ") {
		s.inCall++
	}
}

// crashCreate: every object reported created is there, with its value;
// at most the one object being created when the kill came is there
// unreported; every earlier round's objects stay.
func crashCreate(t *testing.T, rounds int, s *crashStats) {
	e := newPreparedToken(t)
	want := map[string]bool{} // every object the token must hold, by label
	for r := 0; r < rounds; r++ {
		early, k, jitter := crashPlan(r)
		lines := crashKill(t, e, childSpec{role: "crash-create", args: map[string]string{"ROUND": strconv.Itoa(r)}}, early, k, jitter)
		s.countKill(early, lines)
		reported, pending := -1, -1
		for _, l := range lines {
			f := strings.Fields(l)
			n, _ := strconv.Atoi(f[1])
			if f[0] == "ok" {
				reported = n
			} else {
				pending = n
			}
		}
		if pending == reported {
			pending = -1
		}
		p, slot := crashOpen(t, e, r, "create")
		sh := openRO(t, p, slot)
		loginUser(t, p, sh)
		all := find(t, p, sh, nil)
		have := map[string]pkcs11.ObjectHandle{}
		for _, h := range all {
			l := string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "label"))
			if _, dup := have[l]; dup {
				t.Errorf("round %d: label %s twice", r, l)
			}
			have[l] = h
		}
		for n := 0; n <= reported; n++ {
			want[fmt.Sprintf("c-%d-%d", r, n)] = true
		}
		if pending >= 0 {
			s.check("creates interrupted", 1)
			if _, ok := have[fmt.Sprintf("c-%d-%d", r, pending)]; ok {
				want[fmt.Sprintf("c-%d-%d", r, pending)] = true // committed, not reported: allowed
				s.check("interrupted creates found committed", 1)
			}
		}
		for l := range want {
			h, ok := have[l]
			if !ok {
				t.Errorf("round %d: object %s was created (CKR_OK) but is missing after kill -9", r, l)
				continue
			}
			if strings.HasPrefix(l, fmt.Sprintf("c-%d-", r)) { // this round's: values too
				n, _ := strconv.Atoi(l[strings.LastIndexByte(l, '-')+1:])
				wantV := faultValue(l, 200)
				if n%3 == 2 {
					wantV = crashKeyValue(l)
				}
				if v := mustAttr(t, p, sh, h, pkcs11.CKA_VALUE, l); !bytes.Equal(v, wantV) {
					t.Errorf("round %d: object %s has a wrong value after kill -9", r, l)
				}
			}
		}
		for l := range have {
			if !want[l] {
				t.Errorf("round %d: object %s on the token was never created (reported %d, pending %d)", r, l, reported, pending)
			}
		}
		s.check("objects present", len(want))
		crashClose(t, p)
		if t.Failed() {
			t.Fatalf("round %d: protocol %v", r, crashTail(lines))
		}
	}
}

// crashSetLabel: every label is its last reported value, or the value the
// kill interrupted; values never change.
func crashSetLabel(t *testing.T, rounds int, s *crashStats) {
	e := newPreparedToken(t)
	p, slot := crashOpen(t, e, -1, "setlabel")
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	for i := 0; i < crashLabelObjects; i++ {
		label := fmt.Sprintf("lbl-%d-0", i)
		if i >= 4 {
			create(t, p, sh, crashKeyTemplate(label, []byte(crashLabelID(i)), i == 5), label)
		} else {
			tmpl := faultDataTemplate(label, 300, i%2 == 1)
			tmpl[4] = pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, crashLabelID(i))
			create(t, p, sh, tmpl, label)
		}
	}
	crashClose(t, p)
	var gen [crashLabelObjects]int
	for r := 0; r < rounds; r++ {
		early, k, jitter := crashPlan(r)
		lines := crashKill(t, e, childSpec{role: "crash-setlabel"}, early, k, jitter)
		s.countKill(early, lines)
		confirmed, pending := gen, [crashLabelObjects]int{-1, -1, -1, -1, -1, -1}
		for _, l := range lines {
			var what string
			var i, g int
			if _, err := fmt.Sscanf(l, "%s %d %d", &what, &i, &g); err != nil || i < 0 || i >= crashLabelObjects {
				t.Fatalf("round %d: bad line %q", r, l)
			}
			if what == "ok" {
				confirmed[i], pending[i] = g, -1
			} else {
				pending[i] = g
			}
		}
		p, slot := crashOpen(t, e, r, "setlabel")
		sh := openRO(t, p, slot)
		loginUser(t, p, sh)
		for i := 0; i < crashLabelObjects; i++ {
			hs := find(t, p, sh, crashLabelTemplate(i))
			if len(hs) != 1 {
				t.Errorf("round %d: %d objects %s after kill -9", r, len(hs), crashLabelID(i))
				continue
			}
			label := string(mustAttr(t, p, sh, hs[0], pkcs11.CKA_LABEL, crashLabelID(i)))
			g, ok := crashLabelGen(label, i)
			switch {
			case !ok:
				t.Errorf("round %d: object %s has label %q", r, crashLabelID(i), label)
			case g == confirmed[i]:
				if pending[i] >= 0 {
					s.check("label changes interrupted, old label kept", 1)
				}
			case g == pending[i]:
				// the interrupted change committed, unreported: allowed
				s.check("label changes interrupted, new label committed", 1)
			default:
				t.Errorf("round %d: object %s has label generation %d; want the last reported %d or the interrupted %d", r, crashLabelID(i), g, confirmed[i], pending[i])
			}
			gen[i] = g
			v := mustAttr(t, p, sh, hs[0], pkcs11.CKA_VALUE, crashLabelID(i))
			wantV := faultValue(fmt.Sprintf("lbl-%d-0", i), 300)
			if i >= 4 {
				wantV = crashKeyValue(fmt.Sprintf("lbl-%d-0", i))
			}
			if !bytes.Equal(v, wantV) {
				t.Errorf("round %d: object %s: value changed after kill -9 during label changes", r, crashLabelID(i))
			}
		}
		s.check("labels", crashLabelObjects)
		crashClose(t, p)
		if t.Failed() {
			t.Fatalf("round %d: protocol %v", r, crashTail(lines))
		}
	}
}

// pinWorks tries a login as who with pin and logs out again: CKR_OK or the
// refusal.
func crashPINWorks(p *pkcs11.Ctx, slot uint, who uint, pin string) error {
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, who, pin); err != nil {
		return err
	}
	return p.Logout(sh)
}

// whichPIN returns the one of pins that logs in as who, failing the test
// unless exactly one does (CKR_PIN_INCORRECT for the other). The wrong
// attempt is cancelled out by a last good login (a good login clears the
// failure count).
func crashWhichPIN(t *testing.T, p *pkcs11.Ctx, slot uint, who uint, pins [2]string, when string) string {
	t.Helper()
	var works []string
	var errs []string
	for _, pin := range pins {
		err := crashPINWorks(p, slot, who, pin)
		if err == nil {
			works = append(works, pin)
		} else if !isRV(err, pkcs11.CKR_PIN_INCORRECT) {
			errs = append(errs, fmt.Sprintf("PIN %s: %v", pin, err))
		}
	}
	if len(errs) > 0 || len(works) != 1 {
		t.Fatalf("%s: %d of the two PINs log in (%v); other errors: %v — want exactly one", when, len(works), works, errs)
	}
	if err := crashPINWorks(p, slot, who, works[0]); err != nil {
		t.Fatalf("%s: the working PIN stopped working: %v", when, err)
	}
	return works[0]
}

// crashSetPIN: exactly one of the two PINs logs in, the old one or the new
// one, and with it the private objects still decrypt.
func crashSetPIN(t *testing.T, rounds int, s *crashStats, who string) {
	e := newPreparedToken(t)
	pins, typ := crashUserPINs, uint(pkcs11.CKU_USER)
	if who == "so" {
		pins, typ = crashSOPINs, pkcs11.CKU_SO
	}
	p, slot := crashOpen(t, e, -1, "setpin")
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)
	create(t, p, sh, faultDataTemplate("pin-canary", 100, true), "private canary")
	crashClose(t, p)
	cur := pins[0]
	for r := 0; r < rounds; r++ {
		early, k, jitter := crashPlan(r)
		lines := crashKill(t, e, childSpec{role: "crash-setpin", args: map[string]string{"WHO": who, "CUR": cur}}, early, k, jitter)
		s.countKill(early, lines)
		confirmed, maybe := cur, ""
		for _, l := range lines {
			if strings.HasPrefix(l, "ok ") {
				confirmed, maybe = crashOtherPIN(pins, confirmed), ""
			} else {
				maybe = crashOtherPIN(pins, confirmed)
			}
		}
		p, slot := crashOpen(t, e, r, "setpin-"+who)
		got := crashWhichPIN(t, p, slot, typ, pins, fmt.Sprintf("%s PIN, round %d", who, r))
		if maybe != "" {
			if got == maybe {
				s.check(who+" PIN changes interrupted, new PIN committed", 1)
			} else {
				s.check(who+" PIN changes interrupted, old PIN kept", 1)
			}
		}
		if got != confirmed && got != maybe {
			t.Fatalf("round %d: the %s PIN that logs in is %s; want the last one set (%s) or the one being set (%q)", r, who, got, confirmed, maybe)
		}
		// The token key still unwraps: the private object decrypts for the
		// user, whichever PIN was changing.
		upin := got
		if who == "so" {
			upin = crashUserPINs[0]
		}
		sh := openRO(t, p, slot)
		if err := p.Login(sh, pkcs11.CKU_USER, upin); err != nil {
			t.Fatalf("round %d: user login after kill -9: %v", r, err)
		}
		hs := findLabel(t, p, sh, "pin-canary")
		if len(hs) != 1 || !bytes.Equal(mustAttr(t, p, sh, hs[0], pkcs11.CKA_VALUE, "canary"), faultValue("pin-canary", 100)) {
			t.Fatalf("round %d: the private canary does not read back after kill -9 during %s PIN changes (%d found)", r, who, len(hs))
		}
		s.check(who+" PINs", 1)
		crashClose(t, p)
		cur = got
	}
}

// crashTokenState is what a re-initialisation round knows of the token.
type crashTokenState struct {
	gen     int             // label "tok-<gen>"
	so      string          // the SO PIN
	userSet bool            // a user PIN was set
	objects map[string]bool // labels of the objects it must hold
}

// crashInitToken: after each kill the token is the old one (its label, SO
// PIN and objects) or the new one (new label, no old object, SO PIN
// as far as the new generation got), never a mix.
func crashInitToken(t *testing.T, rounds int, s *crashStats) {
	e := newTokenEnv(t)
	p, slot := crashOpen(t, e, -1, "inittoken")
	if err := p.InitToken(slot, crashSOPINs[0], "tok-0"); err != nil {
		t.Fatal(err)
	}
	crashClose(t, p)
	cur := crashTokenState{gen: 0, so: crashSOPINs[0], objects: map[string]bool{}}
	var olds, news int
	for r := 0; r < rounds; r++ {
		early, k, jitter := crashPlan(r)
		if !early {
			k = 1 + rand.IntN(8)
		}
		lines := crashKill(t, e, childSpec{role: "crash-inittoken", args: map[string]string{"GEN": strconv.Itoa(cur.gen), "SO": cur.so}}, early, k, jitter)
		s.countKill(early, lines)

		// Replay the child's protocol: prev is the last token it finished
		// initialising (or cur), next the one it was making.
		prev := cur
		var next *crashTokenState
		nextBegun := false // a "begin init" of next without its "ok"
		soMaybe := ""      // next's SO PIN change in flight
		for _, l := range lines {
			f := strings.Fields(l)
			j, _ := strconv.Atoi(f[2])
			switch {
			case f[0] == "begin" && f[1] == "init":
				if next != nil {
					prev = *next
				}
				next = &crashTokenState{gen: j, so: prev.so, objects: map[string]bool{}}
				nextBegun, soMaybe = true, ""
			case f[0] == "ok" && f[1] == "init":
				nextBegun = false
			case f[0] == "begin" && f[1] == "sopin":
				soMaybe = crashOtherPIN(crashSOPINs, next.so)
			case f[0] == "ok" && f[1] == "sopin":
				next.so, soMaybe = crashOtherPIN(crashSOPINs, next.so), ""
			case f[0] == "ok" && f[1] == "initpin":
				next.userSet = true
			case f[0] == "ok" && f[1] == "obj":
				next.objects[fmt.Sprintf("obj-%d-%s", j, f[3])] = true
			}
		}

		p, slot := crashOpen(t, e, r, "inittoken")
		info, err := p.GetTokenInfo(slot)
		if err != nil {
			t.Fatalf("round %d: C_GetTokenInfo: %v", r, err)
		}
		var want *crashTokenState
		switch {
		case info.Label == fmt.Sprintf("tok-%d", prev.gen):
			if next != nil && !nextBegun {
				t.Fatalf("round %d: token %q is the old one, but C_InitToken of tok-%d had returned CKR_OK", r, info.Label, next.gen)
			}
			want = &prev
			olds++
			if nextBegun {
				s.check("C_InitToken interrupted, old token kept", 1)
			}
		case next != nil && info.Label == fmt.Sprintf("tok-%d", next.gen):
			want = next
			news++
			if nextBegun {
				s.check("C_InitToken interrupted, new token committed", 1)
			}
		default:
			t.Fatalf("round %d: token label %q; want tok-%d (old) or the new one (protocol %v)", r, info.Label, prev.gen, crashTail(lines))
		}
		if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			t.Fatalf("round %d: token %q not initialised", r, info.Label)
		}
		// SO PIN: exactly one works, the expected one (or, on the new
		// token, the one its interrupted change was setting).
		so := crashWhichPIN(t, p, slot, pkcs11.CKU_SO, crashSOPINs, fmt.Sprintf("SO PIN of %s, round %d", info.Label, r))
		if so != want.so && !(want == next && so == soMaybe) {
			t.Fatalf("round %d: token %s: the SO PIN that works is %s, want %s", r, info.Label, so, want.so)
		}
		want.so = so
		// User PIN and objects.
		userSet := info.Flags&pkcs11.CKF_USER_PIN_INITIALIZED != 0
		if want.userSet && !userSet {
			t.Fatalf("round %d: token %s: C_InitPIN had returned CKR_OK but no user PIN is set", r, info.Label)
		}
		have := map[string]bool{}
		if userSet {
			sh := openRO(t, p, slot)
			if err := p.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
				t.Fatalf("round %d: token %s: user login: %v", r, info.Label, err)
			}
			for _, h := range find(t, p, sh, nil) {
				l := string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "label"))
				have[l] = true
				wantV := faultValue(l, 150)
				if strings.HasSuffix(l, "-2") {
					wantV = crashKeyValue(l)
				}
				if v := mustAttr(t, p, sh, h, pkcs11.CKA_VALUE, l); !bytes.Equal(v, wantV) {
					t.Fatalf("round %d: token %s: object %s has a wrong value", r, info.Label, l)
				}
			}
			p.CloseSession(sh)
		} else {
			// Without a user PIN no private object is visible; the public
			// ones are.
			sh := openRO(t, p, slot)
			for _, h := range find(t, p, sh, nil) {
				have[string(mustAttr(t, p, sh, h, pkcs11.CKA_LABEL, "label"))] = true
			}
			p.CloseSession(sh)
		}
		for l := range want.objects {
			if !have[l] && (userSet || !strings.HasSuffix(l, "-1") && !strings.HasSuffix(l, "-2")) {
				t.Fatalf("round %d: token %s: object %s (created, CKR_OK) is missing", r, info.Label, l)
			}
		}
		prefix := fmt.Sprintf("obj-%d-", want.gen)
		for l := range have {
			if !strings.HasPrefix(l, prefix) {
				t.Fatalf("round %d: token %s holds %s, an object of another token generation (a mix)", r, info.Label, l)
			}
			want.objects[l] = true // committed, perhaps unreported
		}
		want.userSet = userSet
		s.check("token generations", 1)
		s.check("init objects", len(have))
		crashClose(t, p)
		cur = *want
	}
	t.Logf("after the kills the token was the old one %d times, the new one %d times", olds, news)
}
