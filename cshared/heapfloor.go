package cshared

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// HeapFloor is the smallest heap the collector lets the library's Go heap
// grow to before it collects (see KeepHeapFloor): 32 MiB.
const HeapFloor = 32 << 20

// defaultHeapMinimum is the Go runtime's own floor at GOGC=100 (4 MiB); the
// runtime scales it with GOGC (runtime/mgcpacer.go, heapMinimum), so a
// setting must allow for it or the floor overshoots.
const defaultHeapMinimum = 4 << 20

// maxPercent bounds the GOGC the floor ever sets: the floor itself caps it
// at HeapFloor/defaultHeapMinimum*100 = 800, this keeps any other floor sane.
const maxPercent = 10000

// KeepHeapFloor keeps the collector from running before the library's Go
// heap reaches floor bytes, while above it the collector paces itself as at
// GOGC=100 (a heap twice its live data). It does nothing, and returns false,
// when the host's environment sets GOGC or GOMEMLIMIT: the host chose.
//
// Why: the library's live heap is small — a few MiB with thousands of
// objects — and a signature or a key allocates a few KiB, mostly inside Go's
// crypto. At GOGC=100 the collector's goal is max(2 × live, 4 MiB), so a
// thread signing with ECDSA P-256 started a cycle every 10-20 ms (96 in a
// one-second p11bench run; 7 with this floor), each taking the collector's
// workers and two stops of the world out of the signing threads. In three
// alternating p11bench runs (2026-11-29, 6 rounds each), the 32 MiB floor
// against none: ECDSA P-256 on two threads 1.74x -> 2.01x one thread, EC
// key pairs on two threads 62k -> 90k/s, GCM 64 B on one 1.03M -> 1.24M/s;
// peak RSS of the worker 29-31 -> 54-55 MiB (a 16 MiB floor: 39-40 MiB and
// about half the two-thread gain). A fixed GOGC would multiply every heap,
// however large; a floor costs at most floor bytes more than GOGC=100.
//
// The runtime has no setting for a floor, so after each cycle (seen by a
// finalizer on a sentinel, which the runtime runs once the cycle that freed
// it ends) the GOGC in force is recomputed from the live heap: percentFor.
func KeepHeapFloor(floor uint64) bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	startFloorTuner(floor)
	return true
}

// startFloorTuner sets GOGC for floor now and after every cycle from now on.
func startFloorTuner(floor uint64) *floorTuner {
	t := &floorTuner{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	t.arm()
	return t
}

// floorTuner is the state of one KeepHeapFloor. The runtime's finalizer
// goroutine is its only user after the first tune; the mutex covers a
// test's reads and stop.
type floorTuner struct {
	mu      sync.Mutex
	floor   uint64
	sample  []metrics.Sample
	percent int  // in force; 0 before the first tune
	stopped bool // tests only: tune no more, leave GOGC as it is
}

// arm allocates the sentinel whose finalizer retunes after the next cycle.
// It is 64 bytes with no pointers: too large for the tiny allocator, whose
// blocks hold several objects and so are freed late.
func (t *floorTuner) arm() {
	s := new([64]byte)
	runtime.SetFinalizer(s, func(*[64]byte) {
		if t.tune() {
			t.arm()
		}
	})
}

// tune sets GOGC for the live heap the last cycle marked; false once the
// tuner is stopped.
func (t *floorTuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if p := percentFor(live, t.floor); p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return true
}

// percentFor is the GOGC whose heap goal is max(2 × live, floor), given
// the runtime's goal of max(live × (1 + GOGC/100), 4 MiB × GOGC/100).
// Never below 100: above the floor the collector works as by default.
func percentFor(live, floor uint64) int {
	p := floor * 100 / defaultHeapMinimum // the runtime's scaled minimum must not pass the floor
	if live > 0 {
		// live × (1 + p/100) ≥ floor  ⇔  p ≥ 100 × floor / live − 100
		need := (floor*100 + live - 1) / live
		need -= min(need, 100)
		p = min(p, need)
	}
	return int(min(max(p, 100), maxPercent))
}

// lastPercent reports the GOGC the tuner set last.
func (t *floorTuner) lastPercent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// stop ends the tuning after the current cycle (tests only).
func (t *floorTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
}
