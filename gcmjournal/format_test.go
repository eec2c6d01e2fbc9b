package gcmjournal

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const fuzzPath = "/var/lib/craton/gcm.journal"

var (
	fpA = fpOf("A")
	fpB = fpOf("B")
	fpC = fpOf("C")
)

func TestParseRoundTrip(t *testing.T) {
	recs := []Record{
		{FP: fpA, Ceiling: 1024, State: Live},
		{FP: fpB, Ceiling: MaxCap, State: Exhausted},
		{FP: fpC, Ceiling: 0, State: Poisoned},
	}
	data := sealedFile(fuzzPath, recs...)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Records, recs) {
		t.Errorf("records %+v, want %+v", f.Records, recs)
	}
	if !f.HasFooter || f.Truncated || len(f.Damage) > 0 {
		t.Errorf("footer %v, truncated %v, damage %+v", f.HasFooter, f.Truncated, f.Damage)
	}
	if !bytes.Equal(f.Footer, testSealer{}.Sum(fuzzPath, f.Sealed)) {
		t.Error("footer does not match the sealed bytes")
	}
	want := "craton-gcm-journal 1\n" + fpA.String() + " 1024 live\n" +
		fpB.String() + " 4294967296 exhausted\n" + fpC.String() + " 0 poisoned\n"
	if string(f.Sealed) != want {
		t.Errorf("sealed bytes\n%s\nwant\n%s", f.Sealed, want)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, data, err string }{
		{"not a journal", "hello\n", "not a Craton GCM journal"},
		{"not a journal, no newline", "hello", "not a Craton GCM journal"},
		{"future version", "craton-gcm-journal 2\n", "unsupported journal version"},
		{"binary", "\x00\x01\x02\n", "not a Craton GCM journal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, want ErrCorrupt %q", tc.data, err, tc.err)
			}
		})
	}
}

func TestParseDamage(t *testing.T) {
	a, b := fpA.String(), fpB.String()
	for _, tc := range []struct {
		name      string
		body      string // after the header
		records   int
		damaged   []Fingerprint
		fragment  bool
		truncated bool
	}{
		{"empty", "", 0, nil, false, false},
		{"leading zero", a + " 01 live\n", 0, []Fingerprint{fpA}, false, false},
		{"too big", a + " 4294967297 live\n", 0, []Fingerprint{fpA}, false, false},
		{"bad state", a + " 1 alive\n", 0, []Fingerprint{fpA}, false, false},
		{"upper hex", strings.ToUpper(a) + " 1 live\n", 0, nil, false, false},
		{"two spaces", a + "  1 live\n", 0, []Fingerprint{fpA}, false, false},
		{"merged lines", a + " 1 live\x0b" + b + " 2 live\n", 0, []Fingerprint{fpA, fpB}, false, false},
		{"cut in state", a + " 1 live\n" + b + " 2 li", 1, []Fingerprint{fpB}, true, true},
		{"cut in fp", a + " 1 live\n" + b[:20], 1, nil, true, true},
		{"cut footer", a + " 1 live\nhmac-sha2", 1, nil, false, true},
		{"footer not last", "hmac-sha256 00\n" + a + " 1 live\n", 1, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(header + "\n" + tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Records) != tc.records {
				t.Errorf("%d records, want %d", len(f.Records), tc.records)
			}
			var got []Fingerprint
			frag := false
			for _, d := range f.Damage {
				got = append(got, d.FPs...)
				frag = frag || d.Fragment
			}
			for _, want := range tc.damaged {
				found := false
				for _, fp := range got {
					found = found || fp == want
				}
				if !found {
					t.Errorf("damage %+v does not name %s", f.Damage, want.short())
				}
			}
			if len(tc.damaged) == 0 && len(got) > 0 {
				t.Errorf("damage names %d fingerprints, want none", len(got))
			}
			if frag != tc.fragment || f.Truncated != tc.truncated {
				t.Errorf("fragment %v truncated %v, want %v %v", frag, f.Truncated, tc.fragment, tc.truncated)
			}
		})
	}
}

// FuzzParse checks that Parse never panics; that its only error is
// ErrCorrupt; that every clean sealed parse re-encodes to the same bytes;
// and that the trust policy never lowers a ceiling or improves a state that
// the file records, and poisons every key of a file it does not trust.
// Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(sealedFile(fuzzPath, Record{FP: fpA, Ceiling: 1024}, Record{FP: fpB, Ceiling: 7, State: Exhausted}))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Parse error %v is not ErrCorrupt", err)
			}
			return
		}
		for _, r := range p.Records {
			if r.Ceiling > MaxCap || r.State > Poisoned {
				t.Fatalf("record out of range: %+v", r)
			}
		}
		if p.HasFooter {
			if !bytes.HasPrefix(data, p.Sealed) || p.Truncated {
				t.Fatal("sealed bytes are not a prefix of the data, or a footer in a truncated file")
			}
			if len(p.Damage) == 0 {
				if again := appendBody(nil, p.Records); !bytes.Equal(again, p.Sealed) {
					t.Fatalf("re-encoding changed the body:\n%q\n%q", p.Sealed, again)
				}
			}
		}
		a, err := assess(fuzzPath, data, testSealer{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("assess error %v is not ErrCorrupt", err)
			}
			return
		}
		for _, r := range p.Records {
			got, ok := a.keys[r.FP]
			if !ok || got.Ceiling < r.Ceiling || got.State < r.State {
				t.Fatalf("record %+v became %+v (present %v)", r, got, ok)
			}
			if a.verdict == tampered && got.State != Poisoned {
				t.Fatalf("untrusted file, key %s not poisoned", r.FP.short())
			}
		}
		for _, d := range p.Damage {
			for _, fp := range d.FPs {
				if a.keys[fp].State != Poisoned {
					t.Fatalf("damaged line %d names %s, not poisoned", d.Line, fp.short())
				}
			}
		}
	})
}
