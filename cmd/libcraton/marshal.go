package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

// Caps on caller-supplied lengths, so that a garbage length never makes Go
// allocate absurdly (an allocation failure is fatal, not a panic).
const (
	maxAttributes = 4096     // attributes in one template
	maxValueLen   = 64 << 20 // one attribute value, mechanism parameter, PIN, label
	maxDataLen    = 1 << 30  // one data buffer (C_Encrypt input, C_GenerateRandom output, ...)
	maxReserved   = 4096     // CK_C_INITIALIZE_ARGS.pReserved text
)

// recoverRV is deferred first by every bridge: a panic becomes
// CKR_GENERAL_ERROR and a log line, and never reaches the host.
func recoverRV(rv *C.CK_RV, fn string) {
	if r := recover(); r != nil {
		logFailure(fn, r)
		*rv = C.CK_RV(ck.CKR_GENERAL_ERROR)
	}
}

// logFailure logs a recovered panic; a panic in logging is swallowed.
func logFailure(fn string, r any) {
	defer func() { _ = recover() }()
	mod.LogPanic(fn, r)
}

// rvOf maps err to the CK_RV it carries. An error that carries none is
// logged and becomes CKR_GENERAL_ERROR.
func rvOf(fn string, err error) C.CK_RV {
	rv, ok := ck.RVOf(err)
	if !ok {
		func() {
			defer func() { _ = recover() }()
			mod.LogUnmapped(fn, err)
		}()
	}
	return C.CK_RV(rv)
}

// errContract reports that the core broke the api.go output contract.
func errContract(format string, args ...any) error {
	return fmt.Errorf("libcraton: core broke the output contract: "+format, args...)
}

// bytesIn copies the n bytes at p into Go memory. NULL gives nil and needs
// n == 0; a non-NULL pointer gives a non-nil slice even when n == 0, so the
// core can tell a NULL PIN (protected authentication path) from an empty one.
func bytesIn(p unsafe.Pointer, n C.CK_ULONG, max uint64) ([]byte, error) {
	v, err := bytesView(p, n, max)
	if v == nil || err != nil {
		return v, err
	}
	return append(make([]byte, 0, len(v)), v...), nil // non-nil even when empty
}

// bytesView is the caller's input buffer in place, without a copy: valid for
// the call only, so the core must not keep it (the operations copy what they
// buffer). The limits are bytesIn's.
func bytesView(p unsafe.Pointer, n C.CK_ULONG, max uint64) ([]byte, error) {
	if p == nil {
		if n != 0 {
			return nil, ck.CKR_ARGUMENTS_BAD
		}
		return nil, nil
	}
	if uint64(n) > max {
		return nil, ck.CKR_ARGUMENTS_BAD
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// overlap reports whether two buffers share memory.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// copyOut copies v into the caller's buffer of capacity n at p (nothing to
// do when the core already wrote it there).
func copyOut(p unsafe.Pointer, n C.CK_ULONG, v []byte) error {
	if len(v) == 0 {
		return nil
	}
	if p == nil || uint64(len(v)) > uint64(n) {
		return errContract("%d bytes for a %d-byte buffer", len(v), uint64(n))
	}
	if unsafe.Pointer(unsafe.SliceData(v)) == p {
		return nil
	}
	copy(unsafe.Slice((*byte)(p), len(v)), v)
	return nil
}

// cString reads the NUL-terminated text at p, at most max bytes of it.
func cString(p unsafe.Pointer, max int) string {
	n := 0
	for n < max && *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// attrSlice views the caller's template in place (C memory, valid for the
// call only). NULL with ulCount > 0, or an absurd count, is CKR_ARGUMENTS_BAD.
func attrSlice(p C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) ([]C.CK_ATTRIBUTE, error) {
	if n == 0 {
		return nil, nil
	}
	if p == nil || uint64(n) > maxAttributes {
		return nil, ck.CKR_ARGUMENTS_BAD
	}
	return unsafe.Slice((*C.CK_ATTRIBUTE)(p), n), nil
}

// copyTemplate copies a template into Go memory. An attribute whose pValue
// is NULL with ulValueLen > 0 is CKR_ARGUMENTS_BAD.
func copyTemplate(p C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) (ck.Template, error) {
	attrs, err := attrSlice(p, n)
	if err != nil || attrs == nil {
		return nil, err
	}
	t := make(ck.Template, len(attrs))
	for i := range attrs {
		v, err := bytesIn(unsafe.Pointer(attrs[i].pValue), attrs[i].ulValueLen, maxValueLen)
		if err != nil {
			return nil, err
		}
		t[i] = ck.Attribute{Type: uint64(attrs[i]._type), Value: v}
	}
	return t, nil
}

// copyMechanism copies *p into Go memory; Param is a copy of the
// ulParameterLen bytes at pParameter. pMechanism NULL, or pParameter NULL
// with ulParameterLen > 0, is CKR_ARGUMENTS_BAD.
//
// For parameter structs that hold pointers (ck.ParamLayouts: CK_GCM_PARAMS,
// CK_RSA_PKCS_OAEP_PARAMS, CK_ECDH1_DERIVE_PARAMS, CK_HKDF_PARAMS,
// CK_EDDSA_PARAMS) the buffers they point to are copied into Bufs too; a
// struct of the wrong size or a NULL buffer with a length is
// CKR_MECHANISM_PARAM_INVALID. The ck decoders check the rest.
func copyMechanism(p C.CK_MECHANISM_PTR) (ck.Mechanism, error) {
	if p == nil {
		return ck.Mechanism{}, ck.CKR_ARGUMENTS_BAD
	}
	param, err := bytesView(unsafe.Pointer(p.pParameter), p.ulParameterLen, maxValueLen)
	if err != nil {
		return ck.Mechanism{}, err
	}
	layout, ok := ck.ParamLayouts[uint64(p.mechanism)]
	if !ok || p.pParameter == nil {
		m := ck.Mechanism{Type: uint64(p.mechanism)}
		if param != nil {
			m.Param = append(make([]byte, 0, len(param)), param...)
		}
		return m, nil
	}
	if len(param) != layout.Size {
		return ck.Mechanism{}, ck.CKR_MECHANISM_PARAM_INVALID
	}
	// The parameter and the buffers it points to, copied into one
	// allocation: this runs on every C_*Init.
	base := unsafe.Pointer(p.pParameter)
	views := make([][]byte, len(layout.Fields))
	total := len(param)
	for i, f := range layout.Fields {
		ptr := *(*unsafe.Pointer)(unsafe.Add(base, f.Ptr))
		n := *(*C.CK_ULONG)(unsafe.Add(base, f.Len))
		if views[i], err = bytesView(ptr, n, maxValueLen); err != nil {
			return ck.Mechanism{}, ck.CKR_MECHANISM_PARAM_INVALID
		}
		total += len(views[i])
	}
	arena := make([]byte, 0, total)
	take := func(v []byte) []byte {
		arena = append(arena, v...)
		return arena[len(arena)-len(v) : len(arena) : len(arena)]
	}
	m := ck.Mechanism{Type: uint64(p.mechanism), Param: take(param), Bufs: views}
	for i, v := range views {
		m.Bufs[i] = take(v) // never nil: an empty buffer is not an absent one
	}
	return m, nil
}

// outCap gives the capacity of a byte output in the api.go convention: -1
// when the buffer is NULL (a length query), else *pul. pul NULL is
// CKR_ARGUMENTS_BAD.
func outCap(p C.CK_BYTE_PTR, pul C.CK_ULONG_PTR) (int64, error) {
	if pul == nil {
		return 0, ck.CKR_ARGUMENTS_BAD
	}
	if p == nil {
		return -1, nil
	}
	return int64(min(uint64(*pul), math.MaxInt64)), nil
}

// writeOut finishes a byte output in the api.go convention: when err is nil
// or CKR_BUFFER_TOO_SMALL, need goes to *pul, and out, when not nil, into
// the buffer at p. It returns err.
func writeOut(p C.CK_BYTE_PTR, pul C.CK_ULONG_PTR, out []byte, need uint64, err error) error {
	if rv, _ := ck.RVOf(err); rv != ck.CKR_OK && rv != ck.CKR_BUFFER_TOO_SMALL {
		return err
	}
	if out != nil {
		if cerr := copyOut(unsafe.Pointer(p), *pul, out); cerr != nil {
			return cerr
		}
	}
	*pul = C.CK_ULONG(need)
	return err
}

// writeList writes a CK_ULONG list with the two-call convention: p NULL
// gives the count; a short buffer gives CKR_BUFFER_TOO_SMALL and the count.
// The caller has checked pul.
func writeList(p *C.CK_ULONG, pul C.CK_ULONG_PTR, list []uint64) error {
	n := C.CK_ULONG(len(list))
	if p != nil {
		if *pul < n {
			*pul = n
			return ck.CKR_BUFFER_TOO_SMALL
		}
		dst := unsafe.Slice(p, len(list))
		for i, v := range list {
			dst[i] = C.CK_ULONG(v)
		}
	}
	*pul = n
	return nil
}

// putText fills a fixed-width text field: s, cut so that no UTF-8 sequence
// is split, then blanks. The field is not NUL-terminated.
func putText(dst []C.CK_UTF8CHAR, s string) {
	if len(s) > len(dst) {
		n := len(dst)
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	for i := range dst {
		if i < len(s) {
			dst[i] = C.CK_UTF8CHAR(s[i])
		} else {
			dst[i] = ' '
		}
	}
}

func version(v ck.Version) C.CK_VERSION {
	return C.CK_VERSION{major: C.CK_BYTE(v.Major), minor: C.CK_BYTE(v.Minor)}
}
