package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

// FIPS-mode AES-GCM: Go's module generates the IV inside its boundary at
// encryption time (cipher.NewGCMWithRandomNonce), and the token writes it
// back into the caller's CK_GCM_PARAMS.pIv — the convention of network HSMs
// that Go's crypto11 reads with UseGCMIVFromHSM. The buffer is named at
// C_EncryptInit but filled at C_Encrypt/C_EncryptFinal, so this is the one
// place Craton remembers a caller's pointer between calls (C memory,
// never dereferenced by Go's GC); PKCS#11 requires the mechanism parameter
// to stay valid while its operation is active.
type ivTarget struct {
	ptr unsafe.Pointer
	n   int
}

var ivTargets sync.Map // session handle → ivTarget

// generatesIVs: the module initialised last is in FIPS mode and draws GCM
// IVs. Outside it nothing is remembered, which keeps a sync.Map store and a
// session lookup off every default-mode GCM encryption.
var generatesIVs atomic.Bool

// gcmIVTarget locates pIv in a CKM_AES_GCM mechanism, if any.
func gcmIVTarget(p C.CK_MECHANISM_PTR) (ivTarget, bool) {
	if p == nil || uint64(p.mechanism) != ck.CKM_AES_GCM || p.pParameter == nil ||
		int(p.ulParameterLen) != ck.ParamLayouts[ck.CKM_AES_GCM].Size {
		return ivTarget{}, false
	}
	f := ck.ParamLayouts[ck.CKM_AES_GCM].Fields[0]
	base := unsafe.Pointer(p.pParameter)
	ptr := *(*unsafe.Pointer)(unsafe.Add(base, f.Ptr))
	n := *(*C.CK_ULONG)(unsafe.Add(base, f.Len))
	if ptr == nil || n == 0 || n > 256 {
		return ivTarget{}, false
	}
	return ivTarget{ptr, int(n)}, true
}

// rememberIVTarget records, after a successful C_EncryptInit, where a
// generated IV goes.
func rememberIVTarget(h C.CK_SESSION_HANDLE, p C.CK_MECHANISM_PTR) {
	if !generatesIVs.Load() {
		return
	}
	if t, ok := gcmIVTarget(p); ok {
		ivTargets.Store(uint64(h), t)
	} else {
		ivTargets.Delete(uint64(h))
	}
}

// writeGeneratedIV copies the IV the core generated for session h into t.
func writeGeneratedIV(h C.CK_SESSION_HANDLE, t ivTarget) {
	iv := mod.TakeGeneratedIV(uint64(h))
	if iv == nil || len(iv) != t.n {
		return
	}
	copy(unsafe.Slice((*byte)(t.ptr), t.n), iv)
}

// afterEncrypt writes back a generated IV when an encryption completed.
func afterEncrypt(h C.CK_SESSION_HANDLE, rv C.CK_RV, pOut C.CK_BYTE_PTR) {
	if rv != C.CK_RV(ck.CKR_OK) || pOut == nil || !generatesIVs.Load() {
		return
	}
	if v, ok := ivTargets.LoadAndDelete(uint64(h)); ok {
		writeGeneratedIV(h, v.(ivTarget))
	}
}
