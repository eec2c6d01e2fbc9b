package gcmjournal

import "testing"

// BenchmarkReserve measures Reserve in memory and on a file with the default
// step (one fsync'd rewrite per 1024 reservations), from one goroutine and
// from GOMAXPROCS goroutines.
func BenchmarkReserve(b *testing.B) {
	for _, backing := range []string{"memory", "file"} {
		setup := func(b *testing.B) *Journal {
			path := ""
			if backing == "file" {
				path = tempPath(b)
			}
			j, err := Open(Options{Path: path, Sealer: testSealer{}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { j.Close() })
			return j
		}
		b.Run(backing, func(b *testing.B) {
			j := setup(b)
			for b.Loop() {
				if err := j.Reserve(fpA); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backing+"/parallel", func(b *testing.B) {
			j := setup(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := j.Reserve(fpA); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
