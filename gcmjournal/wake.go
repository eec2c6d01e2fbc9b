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
	f  *os.File // for the read: non-blocking, so os.File parks it in the poller
	fd int      // for the write: a raw write(2) on the caller's thread
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
	return &wakeFD{f: f, fd: int(fd)}
}

// wake makes the next (or current) wait return.
func (w *wakeFD) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for {
		_, err := syscall.Write(w.fd, one[:])
		if err != syscall.EINTR {
			return // EAGAIN: the counter is full, so a wake is pending anyway
		}
	}
}

// wait returns after a wake (at once if one is pending), or when the
// eventfd is closed.
func (w *wakeFD) wait() {
	var buf [8]byte
	w.f.Read(buf[:])
}

func (w *wakeFD) close() { w.f.Close() }
