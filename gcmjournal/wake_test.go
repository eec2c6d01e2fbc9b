package gcmjournal

import (
	"os"
	"testing"
	"time"
)

// TestWakeFD: a wait returns at once after a wake (several wakes make one),
// blocks without one until the next wake, and returns when the eventfd is
// closed.
func TestWakeFD(t *testing.T) {
	w := newWakeFD()
	if w == nil {
		t.Fatal("no eventfd waker on Linux")
	}
	w.wake()
	w.wake()
	within(t, 10*time.Second, "wait after two wakes", w.wait)

	done := make(chan struct{})
	go func() { w.wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("wait returned with no wake pending (the two wakes counted twice?)")
	case <-time.After(50 * time.Millisecond):
	}
	w.wake()
	within(t, 10*time.Second, "wait woken", func() { <-done })

	done = make(chan struct{})
	go func() { w.wait(); close(done) }()
	time.Sleep(10 * time.Millisecond)
	w.close()
	within(t, 10*time.Second, "wait on a closed eventfd", func() { <-done })
}

// TestWakeFDAfterClose: a wake that comes after the close (a count that
// released the journal's mutex before waking the writer, racing Close)
// writes nowhere: not into a file that took the descriptor's number.
func TestWakeFDAfterClose(t *testing.T) {
	w := newWakeFD()
	if w == nil {
		t.Fatal("no eventfd waker on Linux")
	}
	fd := w.f.Fd()
	w.close()
	f, err := os.CreateTemp(t.TempDir(), "reuse")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Fd() != fd {
		t.Skipf("descriptor %d not reused (got %d)", fd, f.Fd())
	}
	w.wake()
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Fatalf("a wake after close wrote into the file that reuses its descriptor: %v, %v", fi.Size(), err)
	}
}
