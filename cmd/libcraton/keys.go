package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

//export goGenerateKey
func goGenerateKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_GenerateKey"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phKey == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	tmpl, err := copyTemplate(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	h, err := mod.GenerateKey(uint64(hSession), mech, tmpl)
	if err != nil {
		return rvOf(fn, err)
	}
	*phKey = C.CK_OBJECT_HANDLE(h)
	return rvOf(fn, nil)
}

//export goGenerateKeyPair
func goGenerateKeyPair(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pPublicKeyTemplate C.CK_ATTRIBUTE_PTR, ulPublicKeyAttributeCount C.CK_ULONG, pPrivateKeyTemplate C.CK_ATTRIBUTE_PTR, ulPrivateKeyAttributeCount C.CK_ULONG, phPublicKey, phPrivateKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_GenerateKeyPair"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phPublicKey == nil || phPrivateKey == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	pub, err := copyTemplate(pPublicKeyTemplate, ulPublicKeyAttributeCount)
	if err != nil {
		return rvOf(fn, err)
	}
	priv, err := copyTemplate(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)
	if err != nil {
		return rvOf(fn, err)
	}
	hPub, hPriv, err := mod.GenerateKeyPair(uint64(hSession), mech, pub, priv)
	if err != nil {
		return rvOf(fn, err)
	}
	*phPublicKey, *phPrivateKey = C.CK_OBJECT_HANDLE(hPub), C.CK_OBJECT_HANDLE(hPriv)
	return rvOf(fn, nil)
}

//export goWrapKey
func goWrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hWrappingKey, hKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, pulWrappedKeyLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	const fn = "C_WrapKey"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	capacity, err := outCap(pWrappedKey, pulWrappedKeyLen)
	if err != nil {
		return rvOf(fn, err)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	out, need, err := mod.WrapKey(uint64(hSession), mech, uint64(hWrappingKey), uint64(hKey), capacity)
	rv = rvOf(fn, writeOut(pWrappedKey, pulWrappedKeyLen, out, need, err))
	if t, ok := gcmIVTarget(pMechanism); ok && rv == C.CK_RV(ck.CKR_OK) && out != nil {
		writeGeneratedIV(hSession, t)
	}
	return rv
}

//export goUnwrapKey
func goUnwrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hUnwrappingKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, ulWrappedKeyLen C.CK_ULONG, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_UnwrapKey"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phKey == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	wrapped, err := bytesIn(unsafe.Pointer(pWrappedKey), ulWrappedKeyLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	tmpl, err := copyTemplate(pTemplate, ulAttributeCount)
	if err != nil {
		return rvOf(fn, err)
	}
	h, err := mod.UnwrapKey(uint64(hSession), mech, uint64(hUnwrappingKey), wrapped, tmpl)
	if err != nil {
		return rvOf(fn, err)
	}
	*phKey = C.CK_OBJECT_HANDLE(h)
	return rvOf(fn, nil)
}

//export goDeriveKey
func goDeriveKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hBaseKey C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_DeriveKey"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phKey == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	mech, err := copyMechanism(pMechanism)
	if err != nil {
		return rvOf(fn, err)
	}
	tmpl, err := copyTemplate(pTemplate, ulAttributeCount)
	if err != nil {
		return rvOf(fn, err)
	}
	h, err := mod.DeriveKey(uint64(hSession), mech, uint64(hBaseKey), tmpl)
	if err != nil {
		return rvOf(fn, err)
	}
	*phKey = C.CK_OBJECT_HANDLE(h)
	return rvOf(fn, nil)
}

//export goSeedRandom
func goSeedRandom(hSession C.CK_SESSION_HANDLE, pSeed C.CK_BYTE_PTR, ulSeedLen C.CK_ULONG) C.CK_RV {
	return inOnly("C_SeedRandom", mod.SeedRandom, hSession, pSeed, ulSeedLen)
}

//export goGenerateRandom
func goGenerateRandom(hSession C.CK_SESSION_HANDLE, pRandomData C.CK_BYTE_PTR, ulRandomLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_GenerateRandom"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if (pRandomData == nil && ulRandomLen > 0) || uint64(ulRandomLen) > maxDataLen {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	out, err := mod.GenerateRandom(uint64(hSession), uint64(ulRandomLen))
	if err != nil {
		return rvOf(fn, err)
	}
	// Fewer bytes than asked would leave caller bytes that look random.
	if uint64(len(out)) != uint64(ulRandomLen) {
		return rvOf(fn, errContract("%d random bytes for %d asked", len(out), uint64(ulRandomLen)))
	}
	return rvOf(fn, copyOut(unsafe.Pointer(pRandomData), ulRandomLen, out))
}
