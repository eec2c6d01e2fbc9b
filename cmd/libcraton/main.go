// Command libcraton is Craton's C ABI: built with -buildmode=c-shared it
// becomes libcraton.so, the PKCS#11 module that hosts load with dlopen.
//
// It is the only cgo package of Craton and does marshalling only. The C
// files hold the function tables and the loader entry points (tables.c) and
// one thin shim per C_* function (shims.c) that checks the fork guard and
// calls the //export-ed Go bridge of the same name with a "go" prefix
// (C_Sign calls goSign). Every bridge reads the same:
//
//	recover → initialised? → NULL/length checks → copy in →
//	one call on mod → copy out → rvOf(err)
//
// No C pointer is kept after a bridge returns and no Go pointer is handed to
// C. Every PKCS#11 rule beyond NULL checks lives in package pkcs11.
package main

/*
// tables.c calls dladdr, which lives in libdl before glibc 2.34.
#cgo linux LDFLAGS: -ldl
*/
import "C"

import (
	"github.com/craton-hsm/craton/cshared"
	"github.com/craton-hsm/craton/pkcs11"
)

// The host's threads hold Go's Ps while they call in, so the library's own
// goroutines need one more, two with one CPU (cshared.ReserveBackgroundP);
// its heap is small and short-lived garbage is most of what it allocates,
// so the collector waits for a floor (cshared.KeepHeapFloor). Either gives
// way to the host's GOMAXPROCS, GOGC or GOMEMLIMIT.
func init() {
	cshared.ReserveBackgroundP()
	cshared.KeepHeapFloor(cshared.HeapFloor)
}

// mod is the one PKCS#11 module of the process. The library is never
// unloaded (Go c-shared objects are NODELETE), so C_Finalize resets it and
// the next C_Initialize starts clean.
var mod = pkcs11.New()

func main() {}
