//go:build race

package backend

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, so allocation counts do not hold.
const raceEnabled = true
