// The Go ceiling of the benchmark: its own module, so that the library's
// `go vet ./...`, `go test ./...` and dependency-graph test never see it (it
// imports crypto/*, which only backend/ may do inside the library).
module craton-bench/ceiling

go 1.26.0
