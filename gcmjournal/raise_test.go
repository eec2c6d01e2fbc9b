package gcmjournal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// raiseSlots reads the raise file and returns each slot's sequence number
// and records (ok false for a slot that does not open).
func raiseSlots(t *testing.T, path string) (seq [2]uint64, recs [2][]raiseRec, ok [2]bool) {
	t.Helper()
	data := mustRead(t, path+raiseSuffix)
	if len(data) != 2*raiseSlotSize {
		t.Fatalf("raise file of %d bytes, want %d", len(data), 2*raiseSlotSize)
	}
	sum := func(b []byte) []byte { return testSealer{}.Sum(path+raiseSuffix, b) }
	for i := range 2 {
		seq[i], recs[i], ok[i] = parseRaiseSlot(data[i*raiseSlotSize:(i+1)*raiseSlotSize], sum)
	}
	return
}

// TestRaiseAlternatesSlots: after a key's first block (recorded in the
// journal), each block is a raise written to the slot that does not hold
// the newest content, with the next sequence number; the journal itself is
// not rewritten, and a reopened journal counts from the raised ceiling.
func TestRaiseAlternatesSlots(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 10, nil)
	reserve := func(n int) {
		for range n {
			if err := j.Reserve(fpA); err != nil {
				t.Fatal(err)
			}
		}
	}
	reserve(1) // block [0, 10): the journal, first sight of the key
	journal := mustRead(t, path)
	if _, err := os.Stat(path + raiseSuffix); err == nil {
		t.Fatal("a raise file after the first block only")
	}
	for blocks := 2; blocks <= 5; blocks++ {
		reserve(10) // the next block, in the foreground (step < 16)
		seq, recs, ok := raiseSlots(t, path)
		newest := 0
		if !ok[0] || ok[1] && seq[1] > seq[0] {
			newest = 1
		}
		want := uint64(blocks * 10)
		if !ok[newest] || seq[newest] != uint64(blocks-1) || len(recs[newest]) != 1 ||
			recs[newest][0].FP != fpA || recs[newest][0].Ceiling != want {
			t.Fatalf("after block %d: slots %v %v %v, want the newest (seq %d) to raise A to %d", blocks, seq, ok, recs, blocks-1, want)
		}
		if blocks > 2 && (!ok[1-newest] || seq[1-newest] != seq[newest]-1) {
			t.Fatalf("after block %d the other slot holds seq %d (ok %v), want %d", blocks, seq[1-newest], ok[1-newest], seq[newest]-1)
		}
		if !bytes.Equal(mustRead(t, path), journal) {
			t.Fatal("a raise rewrote the journal")
		}
		if r, _ := effective(t, path, fpA); r.Ceiling != want || r.State != Live {
			t.Fatalf("a reopened journal sees %+v, want ceiling %d", r, want)
		}
	}
}

// TestRaiseFileReplaced: a journal holds its raise file open between
// writes; when the file is replaced whole (as a writer does when it finds
// it missing or damaged), the next raise goes to the new file, not to the
// unlinked one the journal still holds.
func TestRaiseFileReplaced(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 10, nil)
	reserve := func(n int) {
		t.Helper()
		for range n {
			if err := j.Reserve(fpA); err != nil {
				t.Fatal(err)
			}
		}
	}
	reserve(21) // blocks [0, 10) in the journal, [10, 20) and [20, 30) raised
	if r, _ := effective(t, path, fpA); r.Ceiling != 30 {
		t.Fatalf("ceiling %d, want 30", r.Ceiling)
	}
	// Replace the raise file by a copy: the same content, another inode.
	tmp := path + ".copy"
	if err := os.WriteFile(tmp, mustRead(t, path+raiseSuffix), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path+raiseSuffix); err != nil {
		t.Fatal(err)
	}
	reserve(10) // the block [30, 40), raised
	if r, _ := effective(t, path, fpA); r.Ceiling != 40 {
		t.Fatalf("after the replacement the files record ceiling %d, want 40", r.Ceiling)
	}
	// And a raise file removed is started afresh.
	if err := os.Remove(path + raiseSuffix); err != nil {
		t.Fatal(err)
	}
	reserve(10)
	if r, _ := effective(t, path, fpA); r.Ceiling != 50 {
		t.Fatalf("after the removal the files record ceiling %d, want 50", r.Ceiling)
	}
}

// TestRaiseTornSlot: a crash while a slot is written leaves that slot
// unreadable; the other one holds the content before it, which a reopened
// journal honours without complaint.
func TestRaiseTornSlot(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 10, nil)
	for range 31 { // blocks to 10 (journal), 20, 30, 40 (raises)
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	seq, _, ok := raiseSlots(t, path)
	older := 0
	if seq[0] > seq[1] {
		older = 1
	}
	if !ok[0] || !ok[1] {
		t.Fatalf("slots %v", ok)
	}
	// The next write would go to the older slot: cut it half-way.
	data := mustRead(t, path+raiseSuffix)
	for i := older*raiseSlotSize + 10; i < older*raiseSlotSize+raiseSlotSize/2; i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(path+raiseSuffix, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := new(logSink)
	k := open(t, path, 0, 10, sink)
	if c, ceil, poisoned := k.Count(fpA); ceil != 40 || poisoned || c != 40 {
		t.Fatalf("after a torn older slot: count %d, ceiling %d, poisoned %v; want 40, 40, false", c, ceil, poisoned)
	}
	if a := sink.alarms(); len(a) > 0 {
		t.Fatalf("a torn slot logs %q", a)
	}
	if err := k.Reserve(fpA); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := raiseSlots(t, path); !ok[0] || !ok[1] {
		t.Fatalf("the torn slot was not rewritten: %v", ok)
	}
}

// TestRaiseDamaged: a raise file with no slot that opens (or of the wrong
// size) fails closed: every key the journal lists or the raise file may
// name is poisoned, with one error line; the next write records them as
// poisoned in the journal and starts the raise file afresh; other keys
// encrypt.
func TestRaiseDamaged(t *testing.T) {
	for _, damage := range []string{"both-slots", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			path := tempPath(t)
			j := open(t, path, 0, 10, nil)
			for range 15 {
				for _, fp := range []Fingerprint{fpA, fpB} {
					if err := j.Reserve(fp); err != nil {
						t.Fatal(err)
					}
				}
			}
			j.Close()
			data := mustRead(t, path+raiseSuffix)
			if damage == "truncated" {
				data = data[:raiseSlotSize+100]
			} else {
				data[raiseHeader+3] ^= 1
				data[raiseSlotSize+raiseHeader+3] ^= 1
			}
			if err := os.WriteFile(path+raiseSuffix, data, 0o600); err != nil {
				t.Fatal(err)
			}
			sink := new(logSink)
			k := open(t, path, 0, 10, sink)
			if _, ok := sink.find("error", "raise file", "poisoned"); !ok {
				t.Errorf("no error line: %q", sink.lines)
			}
			for _, fp := range []Fingerprint{fpA, fpB} {
				if err := k.Reserve(fp); !errors.Is(err, ErrPoisoned) {
					t.Fatalf("key %s: %v, want ErrPoisoned", fp.short(), err)
				}
			}
			if err := k.Reserve(fpC); err != nil {
				t.Fatalf("a key the files never named: %v", err)
			}
			f := readFile(t, path)
			for _, fp := range []Fingerprint{fpA, fpB} {
				if r, _ := recordOf(f, fp); r.State != Poisoned {
					t.Fatalf("after the rewrite %s is %v in the journal, want poisoned", fp.short(), r.State)
				}
			}
			if _, _, ok := raiseSlots(t, path); !ok[0] && !ok[1] {
				t.Fatal("the raise file was not started afresh")
			}
			sink2 := new(logSink)
			open(t, path, 0, 10, sink2)
			if a := sink2.alarms(); len(a) > 0 {
				t.Fatalf("after the repair a new process logs %q", a)
			}
		})
	}
}

// TestRaiseOverflowFolds: more keys above the journal's ceilings than a slot
// holds fold into the journal, whose ceilings then cover them all; nothing
// is lost either way.
func TestRaiseOverflowFolds(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 3, nil)
	n := raiseMaxRecs + 20
	for round := range 4 { // blocks [0,3) then [3,6): the second block of every key is a raise
		for k := range n {
			if err := j.Reserve(fpOf(itoa(uint64(k)))); err != nil {
				t.Fatalf("round %d key %d: %v", round, k, err)
			}
		}
	}
	recs, err := Inspect(path, testSealer{})
	if err != nil {
		t.Fatal(err)
	}
	for k := range n {
		if r := recs[fpOf(itoa(uint64(k)))]; r.Ceiling != 6 || r.State != Live {
			t.Fatalf("key %d: %+v, want ceiling 6", k, r)
		}
	}
	f := readFile(t, path)
	folded := 0
	for _, r := range f.Records {
		if r.Ceiling == 6 {
			folded++
		}
	}
	if folded == 0 {
		t.Fatalf("no key's raise reached the journal, though %d keys do not fit a slot of %d", n, raiseMaxRecs)
	}
}

// FuzzParseRaiseSlot: parseRaiseSlot never panics, and a slot it accepts
// seals back to the same bytes, with no ceiling above the cap. Each input
// is tried as it is and with a valid seal where its count says the records
// end, so that the fuzzer reaches what lies behind the seal check.
func FuzzParseRaiseSlot(f *testing.F) {
	const path = "/fuzz/gcm.journal"
	sum := func(b []byte) []byte { return testSealer{}.Sum(path+raiseSuffix, b) }
	for _, recs := range [][]raiseRec{nil, {{fpA, 10}}, {{fpA, 1 << 32}, {fpB, 7}}} {
		slot, err := sealRaiseSlot(nil, path, testSealer{}, 3, recs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(slot[:raiseHeader+len(recs)*raiseRecSize+macSize])
	}
	check := func(t *testing.T, data []byte) {
		seq, recs, ok := parseRaiseSlot(data, sum)
		if !ok {
			return
		}
		again, err := sealRaiseSlot(nil, path, testSealer{}, seq, recs)
		if err != nil {
			t.Fatal(err)
		}
		end := raiseHeader + len(recs)*raiseRecSize + macSize
		if !bytes.Equal(again[:end], data[:end]) {
			t.Fatalf("resealed slot differs")
		}
		for _, r := range recs {
			if r.Ceiling > MaxCap {
				t.Fatalf("ceiling %d above the cap", r.Ceiling)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Short inputs stand for the start of a slot, zero-padded, so the
		// fuzzer explores the header and records rather than the length.
		if len(data) < raiseSlotSize {
			data = append(data, make([]byte, raiseSlotSize-len(data))...)
		}
		check(t, data)
		if n := binary.LittleEndian.Uint32(data[16:]); n <= raiseMaxRecs {
			end := raiseHeader + int(n)*raiseRecSize
			sealed := bytes.Clone(data)
			copy(sealed[end:], sum(sealed[:end]))
			check(t, sealed)
		}
	})
}

// TestSealRaiseSlotReusesBuffer: a slot sealed into the buffer of a longer
// one holds only its own records, zero after its MAC, as a fresh one does.
func TestSealRaiseSlotReusesBuffer(t *testing.T) {
	const path = "/reuse/gcm.journal"
	long, err := sealRaiseSlot(nil, path, testSealer{}, 1, []raiseRec{{fpA, 10}, {fpB, 20}, {fpOf("C"), 30}})
	if err != nil {
		t.Fatal(err)
	}
	short, err := sealRaiseSlot(long, path, testSealer{}, 2, []raiseRec{{fpB, 40}})
	if err != nil {
		t.Fatal(err)
	}
	if &short[0] != &long[0] {
		t.Error("the buffer was not reused")
	}
	fresh, err := sealRaiseSlot(nil, path, testSealer{}, 2, []raiseRec{{fpB, 40}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(short, fresh) {
		t.Fatal("a slot sealed into a used buffer differs from a fresh one")
	}
	seq, recs, ok := parseRaiseSlot(short, func(b []byte) []byte { return testSealer{}.Sum(path+raiseSuffix, b) })
	if !ok || seq != 2 || len(recs) != 1 || recs[0] != (raiseRec{fpB, 40}) {
		t.Fatalf("parsed %v %d %v", ok, seq, recs)
	}
}
