package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

//export goInitialize
func goInitialize(pInitArgs C.CK_VOID_PTR) (rv C.CK_RV) {
	const fn = "C_Initialize"
	defer recoverRV(&rv, fn)
	syncEnviron()
	err := mod.Initialize(initArgs((*C.CK_C_INITIALIZE_ARGS)(pInitArgs)))
	if err == nil {
		generatesIVs.Store(mod.GeneratesIVs())
	}
	return rvOf(fn, err)
}

// initArgs reads CK_C_INITIALIZE_ARGS; the core judges the combination.
func initArgs(p *C.CK_C_INITIALIZE_ARGS) ck.InitArgs {
	if p == nil {
		return ck.InitArgs{}
	}
	a := ck.InitArgs{
		HasArgs:     true,
		OSLockingOK: p.flags&ck.CKF_OS_LOCKING_OK != 0,
		NoOSThreads: p.flags&ck.CKF_LIBRARY_CANT_CREATE_OS_THREADS != 0,
	}
	for _, set := range []bool{p.CreateMutex != nil, p.DestroyMutex != nil, p.LockMutex != nil, p.UnlockMutex != nil} {
		if set {
			a.MutexCallbacks++
		}
	}
	if p.pReserved != nil {
		a.ReservedSet = true
		a.Reserved = cString(unsafe.Pointer(p.pReserved), maxReserved)
	}
	return a
}

//export goFinalize
func goFinalize(pReserved C.CK_VOID_PTR) (rv C.CK_RV) {
	const fn = "C_Finalize"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pReserved != nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	return rvOf(fn, mod.Finalize())
}

//export goGetInfo
func goGetInfo(pInfo C.CK_INFO_PTR) (rv C.CK_RV) {
	const fn = "C_GetInfo"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pInfo == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	in, err := mod.GetInfo()
	if err != nil {
		return rvOf(fn, err)
	}
	var out C.CK_INFO
	out.cryptokiVersion = version(in.CryptokiVersion)
	putText(out.manufacturerID[:], in.ManufacturerID)
	out.flags = C.CK_FLAGS(in.Flags)
	putText(out.libraryDescription[:], in.LibraryDescription)
	out.libraryVersion = version(in.LibraryVersion)
	*pInfo = out
	return rvOf(fn, nil)
}

//export goGetSlotList
func goGetSlotList(tokenPresent C.CK_BBOOL, pSlotList C.CK_SLOT_ID_PTR, pulCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	const fn = "C_GetSlotList"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pulCount == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	slots, err := mod.GetSlotList(tokenPresent != C.CK_FALSE)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, writeList((*C.CK_ULONG)(pSlotList), pulCount, slots))
}

//export goGetSlotInfo
func goGetSlotInfo(slotID C.CK_SLOT_ID, pInfo C.CK_SLOT_INFO_PTR) (rv C.CK_RV) {
	const fn = "C_GetSlotInfo"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pInfo == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	in, err := mod.GetSlotInfo(uint64(slotID))
	if err != nil {
		return rvOf(fn, err)
	}
	var out C.CK_SLOT_INFO
	putText(out.slotDescription[:], in.SlotDescription)
	putText(out.manufacturerID[:], in.ManufacturerID)
	out.flags = C.CK_FLAGS(in.Flags)
	out.hardwareVersion = version(in.HardwareVersion)
	out.firmwareVersion = version(in.FirmwareVersion)
	*pInfo = out
	return rvOf(fn, nil)
}

//export goGetTokenInfo
func goGetTokenInfo(slotID C.CK_SLOT_ID, pInfo C.CK_TOKEN_INFO_PTR) (rv C.CK_RV) {
	const fn = "C_GetTokenInfo"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pInfo == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	in, err := mod.GetTokenInfo(uint64(slotID))
	if err != nil {
		return rvOf(fn, err)
	}
	*pInfo = tokenInfo(in)
	return rvOf(fn, nil)
}

func tokenInfo(in ck.TokenInfo) C.CK_TOKEN_INFO {
	var out C.CK_TOKEN_INFO
	putText(out.label[:], in.Label)
	putText(out.manufacturerID[:], in.ManufacturerID)
	putText(out.model[:], in.Model)
	putText(out.serialNumber[:], in.SerialNumber)
	out.flags = C.CK_FLAGS(in.Flags)
	out.ulMaxSessionCount = C.CK_ULONG(in.MaxSessionCount)
	out.ulSessionCount = C.CK_ULONG(in.SessionCount)
	out.ulMaxRwSessionCount = C.CK_ULONG(in.MaxRwSessionCount)
	out.ulRwSessionCount = C.CK_ULONG(in.RwSessionCount)
	out.ulMaxPinLen = C.CK_ULONG(in.MaxPinLen)
	out.ulMinPinLen = C.CK_ULONG(in.MinPinLen)
	out.ulTotalPublicMemory = C.CK_ULONG(in.TotalPublicMemory)
	out.ulFreePublicMemory = C.CK_ULONG(in.FreePublicMemory)
	out.ulTotalPrivateMemory = C.CK_ULONG(in.TotalPrivateMemory)
	out.ulFreePrivateMemory = C.CK_ULONG(in.FreePrivateMemory)
	out.hardwareVersion = version(in.HardwareVersion)
	out.firmwareVersion = version(in.FirmwareVersion)
	putText(out.utcTime[:], in.UTCTime)
	return out
}

//export goGetMechanismList
func goGetMechanismList(slotID C.CK_SLOT_ID, pMechanismList C.CK_MECHANISM_TYPE_PTR, pulCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	const fn = "C_GetMechanismList"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pulCount == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	mechs, err := mod.GetMechanismList(uint64(slotID))
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, writeList((*C.CK_ULONG)(pMechanismList), pulCount, mechs))
}

//export goGetMechanismInfo
func goGetMechanismInfo(slotID C.CK_SLOT_ID, mechType C.CK_MECHANISM_TYPE, pInfo C.CK_MECHANISM_INFO_PTR) (rv C.CK_RV) {
	const fn = "C_GetMechanismInfo"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pInfo == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	in, err := mod.GetMechanismInfo(uint64(slotID), uint64(mechType))
	if err != nil {
		return rvOf(fn, err)
	}
	*pInfo = C.CK_MECHANISM_INFO{
		ulMinKeySize: C.CK_ULONG(in.MinKeySize),
		ulMaxKeySize: C.CK_ULONG(in.MaxKeySize),
		flags:        C.CK_FLAGS(in.Flags),
	}
	return rvOf(fn, nil)
}

//export goWaitForSlotEvent
func goWaitForSlotEvent(flags C.CK_FLAGS, pSlot C.CK_SLOT_ID_PTR, pReserved C.CK_VOID_PTR) (rv C.CK_RV) {
	const fn = "C_WaitForSlotEvent"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pSlot == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	slot, err := mod.WaitForSlotEvent(uint64(flags))
	if err != nil {
		return rvOf(fn, err)
	}
	*pSlot = C.CK_SLOT_ID(slot)
	return rvOf(fn, nil)
}

// goMessageNotSupported answers the 3.0 message functions, which have no Go
// method yet: shims.c routes them here.
//
//export goMessageNotSupported
func goMessageNotSupported(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_Message*"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.NotSupported(uint64(hSession)))
}

//export goGetFunctionStatus
func goGetFunctionStatus(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_GetFunctionStatus"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.GetFunctionStatus(uint64(hSession)))
}

//export goCancelFunction
func goCancelFunction(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_CancelFunction"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.CancelFunction(uint64(hSession)))
}
