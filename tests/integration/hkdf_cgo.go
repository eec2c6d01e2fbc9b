//go:build integration

package integration

/*
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"encoding/binary"
	"unsafe"
)

// hkdfParamBytes lays out CK_HKDF_PARAMS (LP64: bExtract, bExpand, then
// prfHashMechanism @8, ulSaltType @16, pSalt @24, ulSaltLen @32, hSaltKey
// @40, pInfo @48, ulInfoLen @56) with salt and info copied to C memory,
// which lives until the process ends (a few bytes per call, tests only).
func hkdfParamBytes(hash uint, salt, info []byte) []byte {
	b := make([]byte, 64)
	b[0], b[1] = 1, 1
	binary.NativeEndian.PutUint64(b[8:], uint64(hash))
	binary.NativeEndian.PutUint64(b[16:], 2) // CKF_HKDF_SALT_DATA
	binary.NativeEndian.PutUint64(b[24:], uint64(uintptr(cBytes(salt))))
	binary.NativeEndian.PutUint64(b[32:], uint64(len(salt)))
	binary.NativeEndian.PutUint64(b[48:], uint64(uintptr(cBytes(info))))
	binary.NativeEndian.PutUint64(b[56:], uint64(len(info)))
	return b
}

func cBytes(b []byte) unsafe.Pointer {
	p := C.malloc(C.size_t(len(b) + 1))
	C.memcpy(p, unsafe.Pointer(&b[0]), C.size_t(len(b)))
	return p
}
