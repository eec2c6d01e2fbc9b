package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

// Most cryptographic functions come in a few shapes; each shape has one
// bridge body below, called with the function's name and its core method.

// opInit is the shape of C_EncryptInit, C_SignInit, ...: (session, mechanism, key).
func opInit(fn string, f func(uint64, ck.Mechanism, uint64) error, hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, f(uint64(hSession), mech, uint64(hKey)))
}

// inOut is the shape of C_EncryptUpdate, C_Sign, C_Digest, ...: bytes in,
// bytes out with the two-call length convention. The input is read in
// place (the core copies what it keeps).
func inOut(fn string, f func(uint64, []byte, int64) ([]byte, uint64, error), hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR) C.CK_RV {
	return inOutCore(fn, hSession, pIn, ulInLen, pOut, pulOutLen, false,
		func(h uint64, in []byte, capacity int64, _ []byte) ([]byte, uint64, error) { return f(h, in, capacity) })
}

// inOutInto is inOut for C_Encrypt, C_Decrypt and C_Sign, whose core writes
// into the caller's buffer: bulk data is read and written in place, never
// copied (C_Sign: an HMAC goes straight into the caller's buffer). Buffers that overlap (in-place encryption) get the input copied
// first. dst is bounded by what any mechanism can return for the input, so
// an absurd *pulOutLen makes no absurd slice.
func inOutInto(fn string, f func(uint64, []byte, int64, []byte) ([]byte, uint64, error), hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR) C.CK_RV {
	return inOutCore(fn, hSession, pIn, ulInLen, pOut, pulOutLen, true, f)
}

func inOutCore(fn string, hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR,
	into bool, f func(uint64, []byte, int64, []byte) ([]byte, uint64, error)) (rv C.CK_RV) {
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	capacity, err := outCap(pOut, pulOutLen)
	if err != nil {
		return rvOf(fn, err)
	}
	data, err := bytesView(unsafe.Pointer(pIn), ulInLen, maxDataLen)
	if err != nil {
		return rvOf(fn, err)
	}
	var dst []byte
	if into && capacity > 0 {
		dst = unsafe.Slice((*byte)(unsafe.Pointer(pOut)), min(capacity, int64(len(data))+maxExpansion))
		if overlap(data, dst) {
			data = append([]byte(nil), data...)
		}
	}
	out, need, err := f(uint64(hSession), data, capacity, dst)
	return rvOf(fn, writeOut(pOut, pulOutLen, out, need, err))
}

// maxExpansion bounds how much longer than its input a C_Encrypt or
// C_Decrypt output is (a GCM tag, a padding block, an RSA block's growth
// over a short message).
const maxExpansion = 1024

// outOnly is the shape of C_EncryptFinal, C_SignFinal, ...: bytes out only.
func outOnly(fn string, f func(uint64, int64) ([]byte, uint64, error), hSession C.CK_SESSION_HANDLE, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	capacity, err := outCap(pOut, pulOutLen)
	if err != nil {
		return rvOf(fn, err)
	}
	out, need, err := f(uint64(hSession), capacity)
	return rvOf(fn, writeOut(pOut, pulOutLen, out, need, err))
}

// inOnly is the shape of C_DigestUpdate, C_SignUpdate, C_VerifyFinal, ...: bytes in only.
func inOnly(fn string, f func(uint64, []byte) error, hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG) (rv C.CK_RV) {
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	data, err := bytesView(unsafe.Pointer(pIn), ulInLen, maxDataLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, f(uint64(hSession), data))
}

//export goEncryptInit
func goEncryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	rv := opInit("C_EncryptInit", mod.EncryptInit, hSession, pMechanism, hKey)
	if rv == C.CK_RV(ck.CKR_OK) {
		rememberIVTarget(hSession, pMechanism)
	}
	return rv
}

//export goEncrypt
func goEncrypt(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pEncryptedData C.CK_BYTE_PTR, pulEncryptedDataLen C.CK_ULONG_PTR) C.CK_RV {
	rv := inOutInto("C_Encrypt", mod.EncryptInto, hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen)
	afterEncrypt(hSession, rv, pEncryptedData)
	return rv
}

//export goEncryptUpdate
func goEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_EncryptUpdate", mod.EncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
}

//export goEncryptFinal
func goEncryptFinal(hSession C.CK_SESSION_HANDLE, pLastEncryptedPart C.CK_BYTE_PTR, pulLastEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	rv := outOnly("C_EncryptFinal", mod.EncryptFinal, hSession, pLastEncryptedPart, pulLastEncryptedPartLen)
	afterEncrypt(hSession, rv, pLastEncryptedPart)
	return rv
}

//export goDecryptInit
func goDecryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit("C_DecryptInit", mod.DecryptInit, hSession, pMechanism, hKey)
}

//export goDecrypt
func goDecrypt(hSession C.CK_SESSION_HANDLE, pEncryptedData C.CK_BYTE_PTR, ulEncryptedDataLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) C.CK_RV {
	return inOutInto("C_Decrypt", mod.DecryptInto, hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen)
}

//export goDecryptUpdate
func goDecryptUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_DecryptUpdate", mod.DecryptUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
}

//export goDecryptFinal
func goDecryptFinal(hSession C.CK_SESSION_HANDLE, pLastPart C.CK_BYTE_PTR, pulLastPartLen C.CK_ULONG_PTR) C.CK_RV {
	return outOnly("C_DecryptFinal", mod.DecryptFinal, hSession, pLastPart, pulLastPartLen)
}

//export goDigestInit
func goDigestInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR) (rv C.CK_RV) {
	const fn = "C_DigestInit"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.DigestInit(uint64(hSession), mech))
}

//export goDigest
func goDigest(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_Digest", mod.Digest, hSession, pData, ulDataLen, pDigest, pulDigestLen)
}

//export goDigestUpdate
func goDigestUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return inOnly("C_DigestUpdate", mod.DigestUpdate, hSession, pPart, ulPartLen)
}

//export goDigestKey
func goDigestKey(hSession C.CK_SESSION_HANDLE, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	const fn = "C_DigestKey"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.DigestKey(uint64(hSession), uint64(hKey)))
}

//export goDigestFinal
func goDigestFinal(hSession C.CK_SESSION_HANDLE, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return outOnly("C_DigestFinal", mod.DigestFinal, hSession, pDigest, pulDigestLen)
}

//export goSignInit
func goSignInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit("C_SignInit", mod.SignInit, hSession, pMechanism, hKey)
}

//export goSign
func goSign(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return inOutInto("C_Sign", mod.SignInto, hSession, pData, ulDataLen, pSignature, pulSignatureLen)
}

//export goSignUpdate
func goSignUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return inOnly("C_SignUpdate", mod.SignUpdate, hSession, pPart, ulPartLen)
}

//export goSignFinal
func goSignFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return outOnly("C_SignFinal", mod.SignFinal, hSession, pSignature, pulSignatureLen)
}

//export goSignRecoverInit
func goSignRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit("C_SignRecoverInit", mod.SignRecoverInit, hSession, pMechanism, hKey)
}

//export goSignRecover
func goSignRecover(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_SignRecover", mod.SignRecover, hSession, pData, ulDataLen, pSignature, pulSignatureLen)
}

//export goVerifyInit
func goVerifyInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit("C_VerifyInit", mod.VerifyInit, hSession, pMechanism, hKey)
}

//export goVerify
func goVerify(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_Verify"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	data, err := bytesView(unsafe.Pointer(pData), ulDataLen, maxDataLen)
	if err != nil {
		return rvOf(fn, err)
	}
	sig, err := bytesView(unsafe.Pointer(pSignature), ulSignatureLen, maxDataLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.Verify(uint64(hSession), data, sig))
}

//export goVerifyUpdate
func goVerifyUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return inOnly("C_VerifyUpdate", mod.VerifyUpdate, hSession, pPart, ulPartLen)
}

//export goVerifyFinal
func goVerifyFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	return inOnly("C_VerifyFinal", mod.VerifyFinal, hSession, pSignature, ulSignatureLen)
}

//export goVerifyRecoverInit
func goVerifyRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit("C_VerifyRecoverInit", mod.VerifyRecoverInit, hSession, pMechanism, hKey)
}

//export goVerifyRecover
func goVerifyRecover(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_VerifyRecover", mod.VerifyRecover, hSession, pSignature, ulSignatureLen, pData, pulDataLen)
}

//export goDigestEncryptUpdate
func goDigestEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_DigestEncryptUpdate", mod.DigestEncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
}

//export goDecryptDigestUpdate
func goDecryptDigestUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_DecryptDigestUpdate", mod.DecryptDigestUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
}

//export goSignEncryptUpdate
func goSignEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_SignEncryptUpdate", mod.SignEncryptUpdate, hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
}

//export goDecryptVerifyUpdate
func goDecryptVerifyUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return inOut("C_DecryptVerifyUpdate", mod.DecryptVerifyUpdate, hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
}
