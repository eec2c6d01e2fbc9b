//go:build integration

// Package integration drives the built libcraton.so through
// github.com/miekg/pkcs11, in this process and in child processes.
//
// go test refuses cgo in _test.go files, so the package's C helpers live in
// non-test files: this one holds the two needed around the first dlopen of
// the module (see loader_test.go); hkdf_cgo.go builds a CK_HKDF_PARAMS.
package integration

/*
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static struct sigaction craton_saved_sigurg;

// craton_save_sigurg records this process's SIGURG disposition (the host Go
// runtime's preemption handler) before the module's own Go runtime starts.
static int craton_save_sigurg(void) {
	return sigaction(SIGURG, NULL, &craton_saved_sigurg);
}

// craton_restore_sigurg puts it back once the module's runtime has
// installed its handlers.
static int craton_restore_sigurg(void) {
	return sigaction(SIGURG, &craton_saved_sigurg, NULL);
}

// craton_sigurg_handler reports the current SIGURG handler address.
static void *craton_sigurg_handler(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	if (sigaction(SIGURG, NULL, &sa) != 0) {
		return NULL;
	}
	return (void *)sa.sa_sigaction;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// saveSIGURG records the current SIGURG disposition.
func saveSIGURG() error {
	if C.craton_save_sigurg() != 0 {
		return fmt.Errorf("sigaction(SIGURG) save failed")
	}
	return nil
}

// restoreSIGURG reinstates the disposition saveSIGURG recorded.
func restoreSIGURG() error {
	if C.craton_restore_sigurg() != 0 {
		return fmt.Errorf("sigaction(SIGURG) restore failed")
	}
	return nil
}

// sigurgHandler is the address of the installed SIGURG handler.
func sigurgHandler() uintptr { return uintptr(C.craton_sigurg_handler()) }

// cString copies s into C memory that is never freed: it is handed to
// C_Initialize as pReserved, and there are only a few per process.
func cString(s string) unsafe.Pointer { return unsafe.Pointer(C.CString(s)) }
