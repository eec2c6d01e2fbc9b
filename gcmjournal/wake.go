package gcmjournal

import (
	"encoding/binary"
	"os"
	"syscall"
	"time"
)

// wakeFD is how the background writer is woken for work: an eventfd its
// goroutine reads, parked in Go's network poller, and a count writes to
// (see "Locks" in the package documentation). A sync.Cond wake made the
// writer runnable on the waking thread's P, the host's encrypting thread,
// so the runtime woke another thread to steal it from there (sleeping a few
// microseconds first while that P was busy) and parked it on a futex again
// afterwards. With the eventfd the kernel wakes the thread waiting in the
// poller, and the count's side is one write(2).
type wakeFD struct {
	// f is non-blocking, so os.File parks a read in the poller; writes go
	// through it too, so that one racing a close fails instead of writing
	// to whatever file reuses the descriptor's number.
	f *os.File
}

// newWakeFD returns an eventfd waker, or nil where there is none (the
// writer then waits on j.cond).
func newWakeFD() *wakeFD {
	const efdCloexec, efdNonblock = syscall.O_CLOEXEC, syscall.O_NONBLOCK
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, efdCloexec|efdNonblock, 0)
	if errno != 0 {
		return nil
	}
	f := os.NewFile(fd, "gcm-journal-wake")
	// Only a file in the poller parks its reader: one outside it (the
	// poller refused it) would return EAGAIN at once, and the writer
	// would spin. Such a file has no deadlines.
	if f.SetReadDeadline(time.Time{}) != nil {
		f.Close()
		return nil
	}
	return &wakeFD{f: f}
}

// wake makes the next (or current) wait return. After close it does
// nothing.
func (w *wakeFD) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	w.f.Write(one[:]) // the counter cannot fill: each wait empties it
}

// wait returns after a wake (at once if one is pending), or when the
// eventfd is closed.
func (w *wakeFD) wait() {
	var buf [8]byte
	w.f.Read(buf[:])
}

func (w *wakeFD) close() { w.f.Close() }
