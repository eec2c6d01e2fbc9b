package main

/*
#include <stdlib.h>
extern char **environ;
*/
import "C"

import (
	"os"
	"strings"
	"unsafe"
)

// syncEnviron makes Go's view of the environment the process's current one.
// Go copies the environment once, when its runtime starts at dlopen; a host
// that calls setenv() after loading the library and before C_Initialize
// (CRATON_CONF, HOME, …) would otherwise be ignored by the configuration
// lookup. Called at the start of C_Initialize.
func syncEnviron() {
	cur := map[string]string{}
	for p := C.environ; p != nil && *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		kv := C.GoString(*p)
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			cur[k] = v
		}
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "" {
			if _, ok := cur[k]; !ok {
				os.Unsetenv(k)
			}
		}
	}
	for k, v := range cur {
		if old, ok := os.LookupEnv(k); !ok || old != v {
			os.Setenv(k, v)
		}
	}
}
