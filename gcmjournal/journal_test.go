package gcmjournal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestOptions(t *testing.T) {
	path := tempPath(t)
	for _, tc := range []struct {
		name string
		o    Options
		err  string
	}{
		{"max above 2^32", Options{Max: MaxCap + 1}, "above 2^32"},
		{"step above 2048", Options{ReserveStep: 2049}, "above 2048"},
		{"file without sealer", Options{Path: path}, "needs a Sealer"},
		{"short MAC", Options{Path: path, Sealer: shortSealer{}}, "returns 4 bytes"},
		{"directory", Options{Path: filepath.Dir(path), Sealer: testSealer{}}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Open(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Open = %v, %v; want error %q", j, err, tc.err)
			}
		})
	}
	j, err := Open(Options{})
	if err != nil || j.Max() != MaxCap || j.step != DefaultReserveStep || j.Path() != "" {
		t.Fatalf("Open(Options{}) = %+v, %v; want the defaults in memory", j, err)
	}
}

type shortSealer struct{}

func (shortSealer) Sum(string, []byte) []byte { return make([]byte, 4) }

// TestCapExact: Max 1000 gives exactly 1000 encryptions, then ErrExhausted,
// for good: after a reopen, and after a reopen with a higher cap.
func TestCapExact(t *testing.T) {
	for _, step := range []uint64{1, 7, 300, 1024} {
		for _, inMemory := range []bool{true, false} {
			if step == 1 && !inMemory {
				continue // 1000 fsync'd rewrites: slow, and no different
			}
			name := "file"
			if inMemory {
				name = "memory"
			}
			t.Run(name+"/step="+itoa(step), func(t *testing.T) {
				path := ""
				if !inMemory {
					path = tempPath(t)
				}
				sink := new(logSink)
				j, err := Open(Options{Path: path, Max: 1000, ReserveStep: step, Sealer: testSealer{}, Log: sink.log})
				if err != nil {
					t.Fatal(err)
				}
				defer j.Close()
				if n, err := j.Remaining(fpA); n != 1000 || err != nil {
					t.Fatalf("Remaining before use = %d, %v", n, err)
				}
				for i := range 1000 {
					if err := j.Reserve(fpA); err != nil {
						t.Fatalf("Reserve #%d: %v", i+1, err)
					}
				}
				if n, err := j.Remaining(fpA); n != 0 || !errors.Is(err, ErrExhausted) {
					t.Fatalf("Remaining after 1000 = %d, %v; want 0, ErrExhausted", n, err)
				}
				for range 3 {
					if err := j.Reserve(fpA); !errors.Is(err, ErrExhausted) {
						t.Fatalf("Reserve #1001 = %v, want ErrExhausted", err)
					}
				}
				if c, ceil, p := j.Count(fpA); c != 1000 || ceil != 1000 || !p {
					t.Fatalf("Count = %d, %d, %v; want 1000, 1000, true", c, ceil, p)
				}
				if _, ok := sink.find("error", "encryption cap", "key="+fpA.short()); !ok {
					t.Errorf("no error log line for the exhausted key: %q", sink.lines)
				}
				if err := j.Reserve(fpB); err != nil {
					t.Fatalf("another key: %v", err)
				}
				if inMemory {
					return
				}
				if r, _ := effective(t, path, fpA); r.State != Exhausted || r.Ceiling != 1000 {
					t.Fatalf("file records %+v, want exhausted at 1000", r)
				}
				for _, maxEnc := range []uint64{1000, MaxCap} {
					k := open(t, path, maxEnc, step, nil)
					if err := k.Reserve(fpA); !errors.Is(err, ErrExhausted) {
						t.Fatalf("after reopen with Max %d: Reserve = %v, want ErrExhausted", maxEnc, err)
					}
					k.Close()
				}
			})
		}
	}
}

func itoa(n uint64) string { return string(bytesOf(n)) }

func bytesOf(n uint64) []byte {
	if n < 10 {
		return []byte{byte('0' + n)}
	}
	return append(bytesOf(n/10), byte('0'+n%10))
}

// TestReservationDurable: 1500 encryptions with step 1024, no Close; a
// second Open (a restarted process) starts at the recorded ceiling, 2048.
func TestReservationDurable(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 1024, nil)
	if err := j.Reserve(fpA); err != nil {
		t.Fatal(err)
	}
	// First sight is durable before the first encryption is allowed.
	if r, ok := effective(t, path, fpA); !ok || r.Ceiling != 1024 || r.State != Live {
		t.Fatalf("after one Reserve the file records %+v (present %v), want live at 1024", r, ok)
	}
	for range 1499 {
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	if c, ceil, _ := j.Count(fpA); c != 1500 || ceil != 2048 {
		t.Fatalf("Count = %d, %d; want 1500, 2048", c, ceil)
	}
	k := open(t, path, 0, 1024, nil) // j is not closed: as after kill -9
	c, ceil, p := k.Count(fpA)
	if c != 2048 || ceil != 2048 || p {
		t.Fatalf("reopened Count = %d, %d, %v; want 2048, 2048, false", c, ceil, p)
	}
	if c < 1500 || c > 1500+1024 {
		t.Fatalf("reopened count %d outside [1500, 2524]", c)
	}
	if err := k.Reserve(fpA); err != nil {
		t.Fatal(err)
	}
	if c, ceil, _ := k.Count(fpA); c != 2049 || ceil != 3072 {
		t.Fatalf("after one more: Count = %d, %d; want 2049, 3072", c, ceil)
	}
	// Close writes nothing: the ceiling never comes down to the count.
	before, _ := os.ReadFile(path)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Reserve(fpA); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reserve after Close = %v, want ErrClosed", err)
	}
	if _, err := j.Remaining(fpA); !errors.Is(err, ErrClosed) {
		t.Fatalf("Remaining after Close = %v, want ErrClosed", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Close rewrote the journal")
	}
}

// TestCompaction: the file holds one record per key however many
// reservations were made.
func TestCompaction(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 3, nil)
	for round := range 10 {
		for k := range 50 {
			if err := j.Reserve(fpOf(itoa(uint64(k)))); err != nil {
				t.Fatalf("round %d key %d: %v", round, k, err)
			}
		}
	}
	f := readFile(t, path)
	if len(f.Records) != 50 {
		t.Fatalf("%d records, want 50", len(f.Records))
	}
	for i, r := range f.Records {
		if e, _ := effective(t, path, r.FP); e.Ceiling != 12 { // 10 encryptions in blocks of 3
			t.Fatalf("record %d: %+v, want ceiling 12", i, e)
		}
		if i > 0 && compareFP(f.Records[i-1].FP, r.FP) >= 0 {
			t.Fatal("records not sorted")
		}
	}
	if n := bytes.Count(mustRead(t, path), []byte("\n")); n != 52 {
		t.Fatalf("%d lines, want 52", n)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hammer calls Reserve(fp) on each journal from g goroutines until it
// fails, and returns the successes and the failures that are not ErrExhausted.
func hammer(journals []*Journal, g int, fp Fingerprint) (int64, []error) {
	var ok atomic.Int64
	var mu sync.Mutex
	var bad []error
	var wg sync.WaitGroup
	for _, j := range journals {
		for i := range g {
			// Half the goroutines count through a Counter of their own
			// (lock-free while they hold counts), half through Reserve.
			reserve := func() error { return j.Reserve(fp) }
			if i%2 == 1 {
				reserve = j.Counter(fp).Reserve
			}
			wg.Go(func() {
				for {
					err := reserve()
					if err == nil {
						ok.Add(1)
						continue
					}
					if !errors.Is(err, ErrExhausted) {
						mu.Lock()
						bad = append(bad, err)
						mu.Unlock()
					}
					return
				}
			})
		}
	}
	wg.Wait()
	return ok.Load(), bad
}

// TestConcurrentReserve: many goroutines on one journal get exactly Max.
func TestConcurrentReserve(t *testing.T) {
	for _, inMemory := range []bool{true, false} {
		path := ""
		if !inMemory {
			path = tempPath(t)
		}
		j, err := Open(Options{Path: path, Max: 10000, ReserveStep: 100, Sealer: testSealer{}})
		if err != nil {
			t.Fatal(err)
		}
		n, bad := hammer([]*Journal{j}, 16, fpA)
		if n != 10000 || len(bad) > 0 {
			t.Errorf("in memory %v: %d successes, errors %v; want 10000", inMemory, n, bad)
		}
		j.Close()
	}
}

// TestTwoJournalsOnePath: two Journals on one file, as two processes would
// be, with Max 5000, get exactly 5000 together.
func TestTwoJournalsOnePath(t *testing.T) {
	for _, step := range []uint64{3, 100, 1024} {
		t.Run("step="+itoa(step), func(t *testing.T) {
			path := tempPath(t)
			a := open(t, path, 5000, step, nil)
			b := open(t, path, 5000, step, nil)
			n, bad := hammer([]*Journal{a, b}, 4, fpA)
			if n != 5000 || len(bad) > 0 {
				t.Fatalf("%d successes, errors %v; want exactly 5000", n, bad)
			}
			ca, _, _ := a.Count(fpA)
			cb, _, _ := b.Count(fpA)
			if ca != 5000 || cb != 5000 {
				t.Errorf("counts %d and %d, want 5000 each", ca, cb)
			}
			if r, _ := effective(t, path, fpA); r.Ceiling != 5000 || r.State != Exhausted {
				t.Errorf("file records %+v, want exhausted at 5000", r)
			}
		})
	}
}

// TestJournalReadWhenReplaced: a write reads the journal again only when
// it was replaced (by this process's own rewrite or another's) or changed;
// a write that only raises ceilings reads it no more, and still sees what
// another process recorded as soon as that process rewrites the file.
func TestJournalReadWhenReplaced(t *testing.T) {
	path := tempPath(t)
	a := open(t, path, 0, 16, nil)
	b := open(t, path, 0, 16, nil)
	reserve := func(j *Journal, fp Fingerprint, n int) {
		t.Helper()
		for range n {
			if err := j.Reserve(fp); err != nil {
				t.Fatal(err)
			}
		}
		j.Count(fp) // settles the writes in flight
	}
	reserve(a, fpA, 1) // a new key: a rewrite, so the next write reads the new file
	reserve(a, fpA, 16)
	before := a.fullReads
	reserve(a, fpA, 20*16) // raises only: about 40 writes
	if got := a.fullReads - before; got != 0 {
		t.Fatalf("raises only: the journal was read %d more times, want 0", got)
	}
	reserve(b, fpB, 1) // b rewrites the journal with B
	reserve(a, fpA, 16)
	if got := a.fullReads - before; got != 1 {
		t.Fatalf("after another process's rewrite: %d reads, want 1", got)
	}
	if _, ceil, _ := a.Count(fpB); ceil == 0 {
		t.Fatal("a did not learn B's ceiling from b's rewrite")
	}
}

// TestFlippedByte: a journal whose footer does not match poisons every key
// it lists, for good; keys it does not list proceed.
func TestFlippedByte(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 16, nil)
	for _, fp := range []Fingerprint{fpA, fpB} {
		if err := j.Reserve(fp); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	data := mustRead(t, path)
	i := bytes.Index(data, []byte(fpA.String()+" 16 "))
	data[i+65] = '9' // A's ceiling 16 → 96: still a well-formed record
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := new(logSink)
	k := open(t, path, 0, 16, sink)
	if _, ok := sink.find("error", "integrity", "file="+path, "keys=2"); !ok {
		t.Errorf("no error line naming the file: %q", sink.lines)
	}
	for _, fp := range []Fingerprint{fpA, fpB} {
		if err := k.Reserve(fp); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("listed key %s: Reserve = %v, want ErrPoisoned", fp.short(), err)
		}
		if n, err := k.Remaining(fp); n != 0 || !errors.Is(err, ErrPoisoned) {
			t.Fatalf("Remaining = %d, %v; want 0, ErrPoisoned", n, err)
		}
	}
	if err := k.Reserve(fpC); err != nil {
		t.Fatalf("unlisted key: %v", err)
	}
	// C's reservation resealed the file, with A and B recorded as poisoned.
	f := readFile(t, path)
	for _, fp := range []Fingerprint{fpA, fpB} {
		if r, _ := recordOf(f, fp); r.State != Poisoned {
			t.Fatalf("after rewrite %s is %v, want poisoned", fp.short(), r.State)
		}
	}
	sink2 := new(logSink)
	l := open(t, path, 0, 16, sink2)
	if err := l.Reserve(fpA); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("after reopen: %v, want ErrPoisoned", err)
	}
	if a := sink2.alarms(); len(a) > 0 {
		t.Fatalf("resealed journal logs %q", a)
	}
}

// TestTamperWhileOpen: damage that appears after Open is caught at the next
// reservation, which re-reads the file.
func TestTamperWhileOpen(t *testing.T) {
	path := tempPath(t)
	sink := new(logSink)
	j := open(t, path, 0, 2, sink)
	for range 2 {
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	data := mustRead(t, path)
	data[len(data)-2] ^= 1 // the footer's last digit
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Reserve(fpA); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("Reserve = %v, want ErrPoisoned", err)
	}
	if _, ok := sink.find("error", "integrity", path); !ok {
		t.Errorf("no error line: %q", sink.lines)
	}
}

// TestCrossPathCopy: a journal copied from another path fails its check.
func TestCrossPathCopy(t *testing.T) {
	src, dst := tempPath(t), tempPath(t)
	j := open(t, src, 0, 0, nil)
	if err := j.Reserve(fpA); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, mustRead(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := new(logSink)
	k := open(t, dst, 0, 0, sink)
	if err := k.Reserve(fpA); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("Reserve = %v, want ErrPoisoned", err)
	}
	if _, ok := sink.find("error", "integrity", dst); !ok {
		t.Errorf("no error line: %q", sink.lines)
	}
}

// testJournal is a journal of four keys in every state, and where each key's
// fingerprint and line sit in it.
func testJournal(path string) (data []byte, recs []Record) {
	recs = []Record{
		{FP: fpA, Ceiling: 1024, State: Live},
		{FP: fpB, Ceiling: 5, State: Live},
		{FP: fpC, Ceiling: 4096, State: Exhausted},
		{FP: fpOf("D"), Ceiling: 77, State: Poisoned},
	}
	return sealedFile(path, recs...), recs
}

// TestEveryBitFlip flips each bit of a journal in turn. Whatever the flip,
// Open fails with ErrCorrupt, or every key whose fingerprint digits are
// intact is poisoned or keeps its ceiling and state: no flip lets a key count
// lower than recorded, unless it changed that key's own fingerprint.
func TestEveryBitFlip(t *testing.T) {
	path := tempPath(t)
	orig, recs := testJournal(path)
	corrupt, tampered := 0, 0
	for i := range orig {
		for bit := range 8 {
			data := bytes.Clone(orig)
			data[i] ^= 1 << bit
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			sink := new(logSink)
			j, err := Open(Options{Path: path, Sealer: testSealer{}, Log: sink.log})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) || i > len(header) { // the header or its newline
					t.Fatalf("byte %d bit %d: Open = %v", i, bit, err)
				}
				corrupt++
				continue
			}
			if _, ok := sink.find("error", "integrity"); ok {
				tampered++
			}
			for _, r := range recs {
				at := bytes.Index(orig, []byte(r.FP.String()))
				if at <= i && i < at+64 {
					continue // this key's own fingerprint changed
				}
				n, err := j.Remaining(r.FP)
				_, ceil, _ := j.Count(r.FP)
				switch {
				case errors.Is(err, ErrPoisoned):
				case r.State == Poisoned:
					t.Fatalf("byte %d bit %d: poisoned key %s now %d, %v", i, bit, r.FP.short(), n, err)
				case r.State == Exhausted && !errors.Is(err, ErrExhausted):
					t.Fatalf("byte %d bit %d: exhausted key %s now %d, %v", i, bit, r.FP.short(), n, err)
				case ceil < r.Ceiling:
					t.Fatalf("byte %d bit %d: key %s ceiling %d, recorded %d", i, bit, r.FP.short(), ceil, r.Ceiling)
				}
			}
			j.Close()
		}
	}
	t.Logf("%d flips: %d refused as not a journal, %d failed the integrity check", 8*len(orig), corrupt, tampered)
	// The rest are the 8 flips of the final newline: a footer cut short,
	// every record intact and honoured.
	if rest := 8*len(orig) - corrupt - tampered; corrupt != 8*(len(header)+1) || rest != 8 {
		t.Errorf("%d flips refused, %d neither refused nor tampered; want %d and 8", corrupt, rest, 8*(len(header)+1))
	}
}

// TestTruncation cuts a journal at every length. A file cut before its
// footer warns and honours every complete record; a key whose line was cut
// is poisoned.
func TestTruncation(t *testing.T) {
	path := tempPath(t)
	orig, recs := testJournal(path)
	footerAt := bytes.LastIndex(orig, []byte(footerPrefix))
	for cut := range len(orig) {
		if err := os.WriteFile(path, orig[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		sink := new(logSink)
		j, err := Open(Options{Path: path, Sealer: testSealer{}, Log: sink.log})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if _, ok := sink.find("warn", "no footer", path); !ok {
			t.Fatalf("cut at %d: no warning naming the file: %q", cut, sink.lines)
		}
		if _, ok := sink.find("error", "integrity"); ok {
			t.Fatalf("cut at %d: treated as tampered", cut)
		}
		for _, r := range recs {
			at := bytes.Index(orig, []byte(r.FP.String()))
			end := at + bytes.IndexByte(orig[at:], '\n') + 1
			_, ceil, _ := j.Count(r.FP)
			_, err := j.Remaining(r.FP)
			switch {
			case cut >= end: // the whole line survived: honoured
				if ceil != r.Ceiling || r.State == Live && err != nil ||
					r.State == Exhausted && !errors.Is(err, ErrExhausted) ||
					r.State == Poisoned && !errors.Is(err, ErrPoisoned) {
					t.Fatalf("cut at %d: key %s: ceiling %d, %v; recorded %+v", cut, r.FP.short(), ceil, err, r)
				}
			case cut >= at+64: // its fingerprint survived, not its line
				if !errors.Is(err, ErrPoisoned) {
					t.Fatalf("cut at %d: cut key %s: %v, want ErrPoisoned", cut, r.FP.short(), err)
				}
			}
		}
		if cut == footerAt {
			if _, ok := sink.find("warn", "keys=4"); !ok {
				t.Fatalf("cut before the footer: %q, want all 4 keys honoured", sink.lines)
			}
		}
		j.Close()
	}
}

// TestRejectsForeignFiles: a file that is not a journal, a future version,
// or a malformed file under a matching footer is refused and left alone.
func TestRejectsForeignFiles(t *testing.T) {
	path := tempPath(t)
	dup := sealedFile(path, Record{FP: fpA, Ceiling: 1}, Record{FP: fpA, Ceiling: 2})
	bad := []byte(header + "\nnot a record\n")
	bad = appendFooter(bad, testSealer{}.Sum(path, bad))
	for name, data := range map[string][]byte{
		"not a journal":  []byte("[store]\npath = \"/x\"\n"),
		"future version": []byte("craton-gcm-journal 2\nwhatever\n"),
		"sealed dup":     dup,
		"sealed garbage": bad,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(Options{Path: path, Sealer: testSealer{}})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, %v; want ErrCorrupt naming the file", j, err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, data) {
				t.Fatal("the file was changed")
			}
		})
	}
	// The same file appearing under an open journal fails its reservations.
	os.Remove(path)
	j := open(t, path, 0, 1, nil)
	if err := os.WriteFile(path, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Reserve(fpA); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reserve = %v, want ErrCorrupt", err)
	}
	if got := mustRead(t, path); string(got) != "hello\n" {
		t.Fatal("the file was changed")
	}
}

// TestFaultInjection stops a rewrite of the journal, and a write of the
// raise file, at each of their steps, as a crash or a failing disk would:
// the reservation fails (fail closed), the journal keeps working once the
// fault clears, and a reopened journal never counts lower than the
// encryptions allowed.
func TestFaultInjection(t *testing.T) {
	for _, point := range []string{"write", "fsync", "rename", "dirsync", "raise-write", "raise-sync"} {
		t.Run(point, func(t *testing.T) {
			path := tempPath(t)
			sink := new(logSink)
			j := open(t, path, 0, 10, sink)
			// Every write after a key's first is a raise; the journal's own
			// steps are reached with raises turned off.
			j.raiseOff = !strings.HasPrefix(point, "raise-")
			allowed := uint64(0)
			for range 25 {
				if err := j.Reserve(fpA); err != nil {
					t.Fatal(err)
				}
				allowed++
			}
			var fired atomic.Bool
			faultHook = func(p string) error {
				if p == point {
					fired.Store(true)
					return errors.New("injected fault at " + p)
				}
				return nil
			}
			defer func() { faultHook = nil }()
			var err error
			for err == nil {
				if err = j.Reserve(fpA); err == nil {
					allowed++
				}
			}
			if !fired.Load() || !errors.Is(err, ErrIO) || allowed != 30 {
				t.Fatalf("fault: %v after %d allowed; want ErrIO after 30", err, allowed)
			}
			// A new key is recorded by a rewrite of the journal, which a
			// fault in the raise file does not touch.
			if err := j.Reserve(fpB); j.raiseOff && !errors.Is(err, ErrIO) || !j.raiseOff && err != nil {
				t.Fatalf("a new key under a fault at %s: %v", point, err)
			}
			if n := strings.Count(strings.Join(sink.alarms(), "\n"), "unusable"); n != 1 {
				t.Errorf("%d error lines for two refused reservations, want 1: %q", n, sink.alarms())
			}
			if _, err := os.Stat(path + ".tmp"); err == nil && point != "dirsync" && point != "rename" {
				t.Error("temporary file left behind")
			}
			k := open(t, path, 0, 10, nil)
			if c, _, _ := k.Count(fpA); c < allowed || c > allowed+10 {
				t.Fatalf("reopened during the fault: count %d, allowed %d", c, allowed)
			}
			faultHook = nil
			if err := j.Reserve(fpA); err != nil {
				t.Fatalf("after the fault cleared: %v", err)
			}
			allowed++
			readFile(t, path)
			// A fault after the rename leaves the new ceiling on disk; the
			// block it covers is never used: one more step of overshoot.
			slack := uint64(10)
			if point == "dirsync" || point == "raise-sync" {
				slack += 10
			}
			k2 := open(t, path, 0, 10, nil)
			if c, _, _ := k2.Count(fpA); c < allowed || c > allowed+slack {
				t.Fatalf("reopened after: count %d, allowed %d", c, allowed)
			}
		})
	}
}

// TestInstall: the first Install wins; the same path (by another name)
// gets it back with true, another path or cap gets it with false.
func TestInstall(t *testing.T) {
	uninstall()
	defer uninstall()
	path := tempPath(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(path), link); err != nil {
		t.Fatal(err)
	}
	if Default() != nil {
		t.Fatal("Default before Install")
	}
	if _, _, err := Install(Options{Path: path}); err == nil {
		t.Fatal("Install without a Sealer succeeded")
	}
	j, ok, err := Install(Options{Path: path, Max: 100, Sealer: testSealer{}})
	if err != nil || !ok || Default() != j {
		t.Fatalf("first Install = %v, %v, %v", j, ok, err)
	}
	for _, tc := range []struct {
		o    Options
		same bool
	}{
		{Options{Path: path, Max: 100, Sealer: testSealer{}}, true},
		{Options{Path: filepath.Join(link, "gcm.journal"), Max: 100, Sealer: testSealer{}}, true},
		{Options{Path: tempPath(t), Max: 100, Sealer: testSealer{}}, false},
		{Options{Path: path, Sealer: testSealer{}}, false},
		{Options{Path: path, Max: 100, ReserveStep: 5, Sealer: testSealer{}}, false},
		{Options{Max: 100}, false},
	} {
		k, ok, err := Install(tc.o)
		if k != j || ok != tc.same || err != nil {
			t.Errorf("Install(%+v) = %v, %v, %v; want the installed journal, %v", tc.o, k, ok, err, tc.same)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Reserve(fpA); err != nil {
		t.Fatalf("Reserve after Close of the installed journal: %v", err)
	}
}

// uninstall removes the installed journal (tests only).
func uninstall() {
	installMu.Lock()
	defer installMu.Unlock()
	if installed != nil {
		installed.mu.Lock()
		installed.pinned = false
		installed.mu.Unlock()
		installed.Close()
	}
	installed = nil
}

// TestRemainingHasNoSideEffect: Remaining and Count consume nothing and
// write nothing.
func TestRemainingHasNoSideEffect(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 10, 4, nil)
	for range 100 {
		j.Remaining(fpA)
		j.Count(fpA)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remaining or Count wrote the journal: %v", err)
	}
	for i := range 10 {
		if n, err := j.Remaining(fpA); n != uint64(10-i) || err != nil {
			t.Fatalf("Remaining = %d, %v; want %d", n, err, 10-i)
		}
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCounter: a Counter hands out the counts its key holds without the
// journal's mutex, shares them with Reserve, and stops handing them out the
// moment the key is poisoned or the journal closes, though the process
// still holds some.
func TestCounter(t *testing.T) {
	path := tempPath(t)
	sink := new(logSink)
	j := open(t, path, 0, 64, sink)
	a, b := j.Counter(fpA), j.Counter(fpB)
	if a.Journal() != j {
		t.Fatal("Counter.Journal is not the journal")
	}
	if c, ceiling, _ := j.Count(fpA); c != 0 || ceiling != 0 {
		t.Fatalf("a Counter reserved: count %d, ceiling %d", c, ceiling)
	}
	for i := range 10 {
		if err := a.Reserve(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := j.Reserve(fpA); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Reserve(); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := j.Count(fpA); c != 15 {
		t.Fatalf("count %d after 10 Counter and 5 Reserve counts, want 15", c)
	}
	if n, _ := j.Remaining(fpB); n != MaxCap-1 {
		t.Fatalf("Remaining(B) = %d, want %d", n, uint64(MaxCap-1))
	}
	if c, ceiling, _ := j.Count(fpB); ceiling-c < 2 {
		t.Fatalf("key B holds %d counts, want some left for the test", ceiling-c)
	}

	// Poison every key: the journal's footer no longer matches, and a write
	// for a third key reads it.
	data := mustRead(t, path)
	data[len(data)-2] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Reserve(fpOf("C")); err != nil {
		t.Fatalf("a key the damaged journal does not list: %v", err)
	}
	for name, c := range map[string]*Counter{"A": a, "B": b} {
		if err := c.Reserve(); !errors.Is(err, ErrPoisoned) {
			t.Errorf("key %s, with counts in hand, after the journal was found damaged: %v, want ErrPoisoned", name, err)
		}
	}
	if _, ok := sink.find("error", "integrity", path); !ok {
		t.Errorf("no error line: %q", sink.lines)
	}

	// Closing stops a Counter that still holds counts.
	c := j.Counter(fpOf("C"))
	if err := c.Reserve(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := c.Reserve(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := j.Counter(fpOf("D")).Reserve(); !errors.Is(err, ErrClosed) {
		t.Errorf("a Counter made after Close: %v, want ErrClosed", err)
	}
}
