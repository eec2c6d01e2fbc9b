package cshared

import (
	"runtime"
	"testing"
)

func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		env           string
		current, want int
	}{
		{"", 2, 3},
		{"", 1, 2},
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
// than before with GOMAXPROCS unset, none with it set.
func TestReserveBackgroundP(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "")
	if got := ReserveBackgroundP(); got != before+1 || runtime.GOMAXPROCS(0) != before+1 {
		t.Fatalf("unset: ReserveBackgroundP() = %d (GOMAXPROCS now %d), want %d", got, runtime.GOMAXPROCS(0), before+1)
	}
	runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "1")
	if got := ReserveBackgroundP(); got != before {
		t.Fatalf("set by the host: ReserveBackgroundP() = %d, want %d (unchanged)", got, before)
	}
}
