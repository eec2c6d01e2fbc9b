//go:build race

package slots

// raceEnabled: the race detector slows modernc SQLite tenfold; big tests shrink.
const raceEnabled = true
