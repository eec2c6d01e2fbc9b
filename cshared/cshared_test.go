package cshared

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		env           string
		current, want int
	}{
		{"", 2, 3},
		{"", 1, 3}, // one CPU: a second spare P stays idle (see ReserveBackgroundP)
		{"", 8, 9},
		{"4", 4, 0},   // the host chose: leave it
		{"1", 1, 0},   // even one
		{"0", 2, 3},   // not a valid setting: the runtime ignored it too
		{"-3", 2, 3},  // likewise
		{"two", 2, 3}, // likewise
	} {
		if got := procsFor(c.env, c.current); got != c.want {
			t.Errorf("procsFor(%q, %d) = %d, want %d", c.env, c.current, got, c.want)
		}
	}
}

// TestReserveBackgroundP runs the real thing on this process: one P more
// than before with GOMAXPROCS unset (two from one), none with it set.
func TestReserveBackgroundP(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	want := before + 1
	if before == 1 {
		want = 3
	}
	t.Setenv("GOMAXPROCS", "")
	if got := ReserveBackgroundP(); got != want || runtime.GOMAXPROCS(0) != want {
		t.Fatalf("unset: ReserveBackgroundP() = %d (GOMAXPROCS now %d), want %d", got, runtime.GOMAXPROCS(0), want)
	}
	runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "1")
	if got := ReserveBackgroundP(); got != before {
		t.Fatalf("set by the host: ReserveBackgroundP() = %d, want %d (unchanged)", got, before)
	}
}

func TestPercentFor(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 32 * MiB, 800},        // nothing marked yet: the floor through the runtime's scaled minimum
		{1 * MiB, 32 * MiB, 800},  // 4 MiB × 8 = 32 MiB; live × 9 = 9 MiB
		{8 * MiB, 32 * MiB, 300},  // 8 MiB × 4 = 32 MiB
		{10 * MiB, 32 * MiB, 220}, // 10 MiB × 3.2 = 32 MiB, rounded up
		{16 * MiB, 32 * MiB, 100}, // twice live is the floor
		{64 * MiB, 32 * MiB, 100}, // above the floor: the default
		{1 * MiB, 2 * MiB, 100},   // a floor below the runtime's own: the default
		{1, 1 << 40, maxPercent},  // bounded
	} {
		got := percentFor(c.live, c.floor)
		if got != c.want {
			t.Errorf("percentFor(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
			continue
		}
		// The goal the runtime derives from it reaches the floor (or
		// twice live) and, below the bound, passes neither by more than
		// a percent's worth of live data.
		goal := max(c.live+c.live*uint64(got)/100, defaultHeapMinimum*uint64(got)/100)
		want := max(2*c.live, c.floor, defaultHeapMinimum) // the runtime keeps its own floor
		if got < maxPercent && (goal < want || goal > want+c.live/100+1) {
			t.Errorf("live %d floor %d: GOGC %d makes a goal of %d, want %d", c.live, c.floor, got, goal, want)
		}
	}
}

// TestKeepHeapFloor checks that KeepHeapFloor leaves GOGC alone when the
// host's environment sets GOGC or GOMEMLIMIT, then runs the tuner on this
// process: it sets the floor's GOGC, falls back to the default while the
// live heap is above the floor, and rises again once it is freed.
func TestKeepHeapFloor(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env+" set", func(t *testing.T) {
			t.Setenv(env, "200")
			if KeepHeapFloor(HeapFloor) {
				t.Fatal("KeepHeapFloor ran although the host set " + env)
			}
			if p := debug.SetGCPercent(100); p != 100 {
				t.Fatalf("GOGC became %d", p)
			}
		})
	}

	tn := startFloorTuner(HeapFloor)
	defer tn.stop()
	if p := tn.lastPercent(); p <= 100 || p > 800 {
		t.Fatalf("first GOGC %d with a small heap, want within (100, 800]", p)
	}
	if p := debug.SetGCPercent(tn.lastPercent()); p != tn.lastPercent() {
		t.Fatalf("GOGC in force %d, the tuner set %d", p, tn.lastPercent())
	}

	// waitFor runs collections until the tuner's GOGC satisfies ok.
	waitFor := func(what string, ok func(int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(tn.lastPercent()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC still %d after 10 s of collections", what, tn.lastPercent())
			}
			runtime.GC()
			time.Sleep(time.Millisecond) // the finalizer goroutine retunes
		}
	}
	big := make([][]byte, 0, 48)
	for range cap(big) {
		big = append(big, make([]byte, 1<<20))
	}
	waitFor("48 MiB live, above the floor", func(p int) bool { return p == 100 })
	runtime.KeepAlive(big)
	big = nil
	waitFor("the 48 MiB freed", func(p int) bool { return p > 100 })
}
