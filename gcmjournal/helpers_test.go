package gcmjournal

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// testSealer is the Sealer the package documentation specifies, as backend/
// implements it: HMAC-SHA256 under SHA-256("craton gcm journal\x00" || path).
type testSealer struct{}

func (testSealer) Sum(path string, data []byte) []byte {
	k := sha256.Sum256([]byte("craton gcm journal\x00" + path))
	m := hmac.New(sha256.New, k[:])
	m.Write(data)
	return m.Sum(nil)
}

// fpOf returns a distinct fingerprint for each name.
func fpOf(name string) Fingerprint { return sha256.Sum256([]byte(name)) }

// logSink records log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) log(level, msg string, kv ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString(level + " " + msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	s.lines = append(s.lines, b.String())
}

// reservations returns the blocks [from, to) the journals logging to s
// reserved, from their debug lines, in order.
func (s *logSink) reservations(t testing.TB) [][2]uint64 {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]uint64
	for _, l := range s.lines {
		if !strings.HasPrefix(l, "debug gcm journal reservation ") {
			continue
		}
		var bl [2]uint64
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "from="); ok {
				bl[0] = mustUint(t, v)
			} else if v, ok := strings.CutPrefix(f, "to="); ok {
				bl[1] = mustUint(t, v)
			}
		}
		out = append(out, bl)
	}
	return out
}

func mustUint(t testing.TB, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("log value %q: %v", s, err)
	}
	return v
}

// find returns the first line at level containing every one of subs.
func (s *logSink) find(level string, subs ...string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, l := range s.lines {
		if !strings.HasPrefix(l, level+" ") {
			continue
		}
		for _, sub := range subs {
			if !strings.Contains(l, sub) {
				continue next
			}
		}
		return l, true
	}
	return "", false
}

// alarms returns the warn and error lines.
func (s *logSink) alarms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		if strings.HasPrefix(l, "warn ") || strings.HasPrefix(l, "error ") {
			out = append(out, l)
		}
	}
	return out
}

// tempPath returns a journal path in a fresh directory, canonical.
func tempPath(t testing.TB) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "gcm.journal")
}

// open opens a file-backed journal or fails the test; it is closed at the
// end of the test.
func open(t testing.TB, path string, maxEnc, step uint64, sink *logSink) *Journal {
	t.Helper()
	o := Options{Path: path, Max: maxEnc, ReserveStep: step, Sealer: testSealer{}}
	if sink != nil {
		o.Log = sink.log
	}
	j, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	// Every raise is also decided from a scan of every key, and the two
	// must agree (see Journal.off).
	j.checkOff = new(error)
	t.Cleanup(func() {
		j.Close()
		if err := *j.checkOff; err != nil {
			t.Errorf("%s: %v", path, err)
		}
	})
	return j
}

// readFile parses the journal at path and checks its footer.
func readFile(t testing.TB, path string) *File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	if !f.HasFooter || !hmac.Equal(f.Footer, testSealer{}.Sum(path, f.Sealed)) || len(f.Damage) > 0 {
		t.Fatalf("%s is not a sealed, clean journal:\n%s", path, data)
	}
	return f
}

// effective is fp's record as a process opening the journal sees it: the
// journal and its raise file together.
func effective(t testing.TB, path string, fp Fingerprint) (Record, bool) {
	t.Helper()
	recs, err := Inspect(path, testSealer{})
	if err != nil {
		t.Fatalf("Inspect(%s): %v", path, err)
	}
	r, ok := recs[fp]
	return r, ok
}

// recordOf returns fp's record in f.
func recordOf(f *File, fp Fingerprint) (Record, bool) {
	for _, r := range f.Records {
		if r.FP == fp {
			return r, true
		}
	}
	return Record{}, false
}

// sealedFile returns a journal file holding recs, sealed for path.
func sealedFile(path string, recs ...Record) []byte {
	body := appendBody(nil, recs)
	return appendFooter(body, testSealer{}.Sum(path, body))
}
