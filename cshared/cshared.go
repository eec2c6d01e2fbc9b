// Package cshared sets up Go's runtime for life inside a C host: Craton's
// library (cmd/libcraton) calls ReserveBackgroundP and KeepHeapFloor when
// the host loads it. The heap floor's tuner is its only state after that; it
// runs on the runtime's finalizer goroutine and takes only its own mutex,
// never while holding another.
package cshared

import (
	"os"
	"runtime"
	"strconv"
)

// ReserveBackgroundP raises GOMAXPROCS above the runtime's default, by one,
// or by two when that default is one, unless the host's environment sets
// GOMAXPROCS itself. It returns the value in force afterwards.
//
// Why: a host thread that calls into the library takes a P (the right to
// run Go code) and keeps it between calls, and a busy thread calls again
// before the runtime's monitor would take it back. With as many busy host
// threads as Ps, the library's own goroutines — the GCM journal's writer,
// the collector's background workers — get no P: the journal's writer then
// starts hundreds of microseconds late, the encrypting threads run out of
// counts and write the journal themselves, and two threads encrypting
// under one key got no more done than one (1.01x one thread in p11bench,
// 1.38x with the extra P, other workloads unchanged).
//
// With one CPU the host's one busy thread and the journal's writer hold
// both Ps, so while the writer waits in fdatasync no P is idle: the
// runtime's monitor takes the writer's P back after 20 µs, starts a
// thread to look for work, and keeps waking every 20 µs for a millisecond
// after; on one CPU each of those wake-ups preempts the encrypting thread.
// A second spare P stays idle and the monitor leaves the writer alone:
// 64-byte GCM through the library pinned to one CPU, four alternating runs,
// 0.96-0.98 M/s with two Ps, 1.05-1.13 M/s with three; the monitor's share
// of the samples fell from 3.8 % of the encrypting thread's to 0.6 %. Key
// generation, which collects often, lost 0.4-4.9 % to the collector's idle
// workers on that P. With two CPUs a second spare P measured no different.
//
// Setting GOMAXPROCS stops the runtime from following a container's CPU
// limit as it changes (Go 1.25 and later); the default taken here is the
// one in force when the library loads.
func ReserveBackgroundP() int {
	if n := procsFor(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	return runtime.GOMAXPROCS(0)
}

// procsFor is the GOMAXPROCS to set given the environment's value and the
// runtime's current one: 0 (leave it) when the environment names a valid
// value, else one more than the current, or two more when that is one.
func procsFor(env string, current int) int {
	if n, err := strconv.Atoi(env); err == nil && n > 0 {
		return 0 // the host chose
	}
	if current == 1 {
		return 3
	}
	return current + 1
}
