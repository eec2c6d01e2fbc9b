package main

// The module's own Go runtime takes over SIGURG, this program's preemption
// signal, when it starts; without it a tight loop plus a GC here can hang.
// The disposition is saved before the module is loaded and restored once its
// runtime is up (copied from tests/integration/sigurg.go).

/*
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static struct sigaction soak_saved_sigurg;

static int soak_save_sigurg(void) {
	return sigaction(SIGURG, NULL, &soak_saved_sigurg);
}

static int soak_restore_sigurg(void) {
	return sigaction(SIGURG, &soak_saved_sigurg, NULL);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

func saveSIGURG() error {
	if C.soak_save_sigurg() != 0 {
		return fmt.Errorf("sigaction(SIGURG) save failed")
	}
	return nil
}

func restoreSIGURG() error {
	if C.soak_restore_sigurg() != 0 {
		return fmt.Errorf("sigaction(SIGURG) restore failed")
	}
	return nil
}

// cString copies s into C memory that is never freed (C_Initialize's
// pReserved: one per run).
func cString(s string) unsafe.Pointer { return unsafe.Pointer(C.CString(s)) }
