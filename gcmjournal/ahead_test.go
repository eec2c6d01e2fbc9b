package gcmjournal

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gate is a test hook that holds background writes until released.
type gate struct {
	started chan struct{} // receives one value per background write that reached the hook
	release chan struct{} // closed to let background writes through
	calls   atomic.Int64
}

func newGate() *gate {
	return &gate{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) hook(point string) error {
	if point != "background" {
		return nil
	}
	g.calls.Add(1)
	g.started <- struct{}{}
	<-g.release
	return nil
}

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
	}
}

// fileCeiling returns fp's ceiling as the files record it (the journal and
// its raise file).
func fileCeiling(t testing.TB, path string, fp Fingerprint) uint64 {
	t.Helper()
	r, _ := effective(t, path, fp)
	return r.Ceiling
}

// TestAheadDoesNotWait: while the background writer is stuck writing the
// next block, Reserve keeps handing out the counts it holds, without
// waiting; only the Reserve that needs the next block waits for it.
func TestAheadDoesNotWait(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 1024, nil)
	g := newGate()
	j.testHook = g.hook
	for range 512 { // the first block is [0, 1024); at 512 used, fetch [1024, 1536)
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no block fetched ahead at half the block")
	}
	within(t, 10*time.Second, "Reserve with counts in hand, during a background write", func() {
		for range 512 {
			if err := j.Reserve(fpA); err != nil {
				t.Error(err)
				return
			}
		}
		if n, err := j.Remaining(fpA); n != MaxCap-1024 || err != nil {
			t.Errorf("Remaining = %d, %v", n, err)
		}
	})
	if c := fileCeiling(t, path, fpA); c != 1024 {
		t.Fatalf("file ceiling %d while the write is held, want 1024", c)
	}
	// Count 1025 needs the block in flight: it waits for it.
	done := make(chan error, 1)
	go func() { done <- j.Reserve(fpA) }()
	select {
	case err := <-done:
		t.Fatalf("Reserve returned %v before its block was durable", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Reserve still waiting after the write was released")
	}
	// Its block [1024, 1536) is half used up at once: [1536, 2048) follows.
	if c, ceil, _ := j.Count(fpA); c != 1025 || ceil != 2048 {
		t.Fatalf("Count = %d, %d; want 1025, 2048", c, ceil)
	}
	if c := fileCeiling(t, path, fpA); c != 2048 {
		t.Fatalf("file ceiling %d, want 2048", c)
	}
}

// TestAheadBound: at every moment the file's ceiling covers every count
// handed out, and exceeds them by at most ReserveStep per process, and no
// write raises a ceiling by more than MaxBlock (SPEC §5: an fsync at least
// every 1,024 counts): one journal, then two on one path.
func TestAheadBound(t *testing.T) {
	for _, step := range []uint64{16, 64, 1024, DefaultReserveStep} {
		for _, n := range []int{1, 2} {
			t.Run("step="+itoa(step)+"/journals="+itoa(uint64(n)), func(t *testing.T) {
				path := tempPath(t)
				var js []*Journal
				sink := new(logSink)
				for range n {
					js = append(js, open(t, path, 0, step, sink))
				}
				var counters []*Counter
				for _, j := range js {
					counters = append(counters, j.Counter(fpA))
				}
				var handed uint64
				for i := range int(6 * step) {
					reserve := func() error { return js[i%n].Reserve(fpA) }
					if i%3 != 0 {
						reserve = counters[i%n].Reserve
					}
					if err := reserve(); err != nil {
						t.Fatal(err)
					}
					handed++
					if i%7 != 0 && i > 50 {
						continue // reading the file every time is slow
					}
					c := fileCeiling(t, path, fpA)
					if c < handed || c > handed+uint64(n)*step {
						t.Fatalf("after %d counts the file records %d: outside [%d, %d]", handed, c, handed, handed+uint64(n)*step)
					}
				}
				for _, j := range js {
					j.Close() // waits for the writes in flight
				}
				if c := fileCeiling(t, path, fpA); c < handed || c > handed+uint64(n)*step {
					t.Fatalf("after close: the file records %d for %d counts", c, handed)
				}
				blocks := sink.reservations(t)
				if len(blocks) == 0 {
					t.Fatal("no reservation logged")
				}
				for _, bl := range blocks {
					if bl[1]-bl[0] > min(step, MaxBlock) || bl[1] <= bl[0] {
						t.Fatalf("a write reserved [%d, %d): more than %d", bl[0], bl[1], min(step, MaxBlock))
					}
				}
			})
		}
	}
}

// TestAheadFailure: a background write that fails does not stop the counts
// in hand; the Reserve that needs its block is refused with ErrIO (fail
// closed), the failure is logged once and not retried in the background
// until a foreground reservation has succeeded again.
func TestAheadFailure(t *testing.T) {
	path := tempPath(t)
	sink := new(logSink)
	j := open(t, path, 0, 64, sink)
	var failing atomic.Bool
	var bgCalls atomic.Int64
	j.testHook = func(point string) error {
		if point == "background" {
			bgCalls.Add(1)
			if failing.Load() {
				return errors.New("injected background failure")
			}
		}
		return nil
	}
	if err := j.Reserve(fpA); err != nil { // [0, 64), foreground
		t.Fatal(err)
	}
	failing.Store(true)
	allowed := 1
	var err error
	for err == nil {
		if err = j.Reserve(fpA); err == nil {
			allowed++
		}
		if allowed == 32 {
			j.Count(fpA) // let the background write (and fail) before the block runs out
		}
	}
	if !errors.Is(err, ErrIO) || allowed != 64 {
		t.Fatalf("%v after %d allowed; want ErrIO after 64", err, allowed)
	}
	if n := bgCalls.Load(); n != 1 {
		t.Fatalf("%d background writes, want 1 (no retry while the error is pending)", n)
	}
	if n := strings.Count(strings.Join(sink.alarms(), "\n"), "unusable"); n != 1 {
		t.Fatalf("%d error lines, want 1: %q", n, sink.alarms())
	}
	if c := fileCeiling(t, path, fpA); c != 64 {
		t.Fatalf("file ceiling %d, want 64", c)
	}
	// The next Reserve tries again in the foreground, and succeeds.
	failing.Store(false)
	for i := range 200 {
		if err := j.Reserve(fpA); err != nil {
			t.Fatalf("after the failure, #%d: %v", i, err)
		}
		if i == 40 {
			j.Count(fpA) // the block [64, 128) is past half: let the background fetch
		}
	}
	if c, ceil, _ := j.Count(fpA); c != 264 || ceil < 264 || ceil > 264+64 {
		t.Fatalf("Count = %d, %d", c, ceil)
	}
	if n := bgCalls.Load(); n < 2 {
		t.Fatalf("fetching ahead did not resume: %d background writes", n)
	}
}

// TestCloseWaitsForWriter: Close waits for a background write in flight,
// which completes; no goroutine is left behind.
func TestCloseWaitsForWriter(t *testing.T) {
	before := runtime.NumGoroutine()
	path := tempPath(t)
	j, err := Open(Options{Path: path, ReserveStep: 64, Sealer: testSealer{}})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	j.testHook = g.hook
	for range 32 {
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	<-g.started
	closed := make(chan error, 1)
	go func() { closed <- j.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a write in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := j.Reserve(fpA); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reserve while closing = %v, want ErrClosed", err)
	}
	close(g.release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting after the write was released")
	}
	if c := fileCeiling(t, path, fpA); c != 96 {
		t.Fatalf("file ceiling %d after Close, want 96 (the write in flight finished)", c)
	}
	j.mu.Lock()
	running := j.bgRunning || j.writing
	j.mu.Unlock()
	if running {
		t.Fatal("writer still running after Close")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before Open", n, before)
	}
}

// TestExhaustedElsewhereKeepsBlock: a key another process found exhausted
// still hands out the counts this process holds (they lie below a durable
// ceiling, disjoint from the other's), so that together the processes get
// exactly Max, and none is stranded.
func TestExhaustedElsewhereKeepsBlock(t *testing.T) {
	path := tempPath(t)
	a := open(t, path, 2100, 1024, nil)
	b := open(t, path, 2100, 1024, nil)
	if err := a.Reserve(fpA); err != nil { // a: [0, 1024)
		t.Fatal(err)
	}
	nb := 0
	for b.Reserve(fpA) == nil { // b: [1024, 2048), then [2048, 2100)
		nb++
	}
	if nb != 1076 {
		t.Fatalf("b got %d, want 1076", nb)
	}
	if r, _ := effective(t, path, fpA); r.State != Exhausted {
		t.Fatalf("file records %+v, want exhausted", r)
	}
	na := 1
	for {
		err := a.Reserve(fpA)
		if err != nil {
			if !errors.Is(err, ErrExhausted) {
				t.Fatal(err)
			}
			break
		}
		na++
		if na == 600 { // a has looked at the file (fetching ahead) and seen it exhausted
			if _, _, p := a.Count(fpA); !p {
				t.Fatal("a has not seen the key exhausted")
			}
			if n, err := a.Remaining(fpA); n != 424 || err != nil {
				t.Fatalf("a.Remaining = %d, %v; want 424, nil", n, err)
			}
		}
	}
	if na+nb != 2100 {
		t.Fatalf("a %d + b %d = %d, want 2100", na, nb, na+nb)
	}
}

// TestAheadQueuedDuringForegroundWrite: a key that queues its block ahead
// while another key's foreground write is in flight, and the background
// writer waits for work, gets the block when that write ends: the writer
// is woken then, not only when a key is queued with no write in flight.
func TestAheadQueuedDuringForegroundWrite(t *testing.T) {
	path := tempPath(t)
	j := open(t, path, 0, 1024, nil)
	for range 512 { // [0, 1024) in the foreground, [1024, 1536) fetched ahead
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	if _, ceil, _ := j.Count(fpA); ceil != 1536 {
		t.Fatalf("ceiling %d, want 1536", ceil)
	}
	within(t, 10*time.Second, "the background writer waiting for work", func() {
		for {
			j.mu.Lock()
			idle := j.bgAsleep || (j.wakeFD == nil && !j.writing)
			j.mu.Unlock()
			if idle {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})

	started, release := make(chan struct{}), make(chan struct{})
	j.testHook = func(point string) error {
		if point == "foreground" {
			close(started)
			<-release
		}
		return nil
	}
	bDone := make(chan error, 1)
	go func() { bDone <- j.Reserve(fpB) }() // B has no count: a foreground write
	<-started
	for range 512 { // A is down to 512 in hand: its block ahead is queued
		if err := j.Reserve(fpA); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "A's block ahead after B's write", func() {
		for fileCeiling(t, path, fpA) != 2048 {
			time.Sleep(time.Millisecond)
		}
	})
	if c, ceil, _ := j.Count(fpA); c != 1024 || ceil != 2048 {
		t.Fatalf("Count = %d, %d; want 1024, 2048", c, ceil)
	}
}
