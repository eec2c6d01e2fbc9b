package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

// labelLen is the width of the blank-padded label C_InitToken receives.
const labelLen = 32

//export goInitToken
func goInitToken(slotID C.CK_SLOT_ID, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pLabel C.CK_UTF8CHAR_PTR) (rv C.CK_RV) {
	const fn = "C_InitToken"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pLabel == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	pin, err := bytesIn(unsafe.Pointer(pPin), ulPinLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	label, _ := bytesIn(unsafe.Pointer(pLabel), labelLen, labelLen)
	return rvOf(fn, mod.InitToken(uint64(slotID), pin, label))
}

//export goInitPIN
func goInitPIN(hSession C.CK_SESSION_HANDLE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_InitPIN"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	pin, err := bytesIn(unsafe.Pointer(pPin), ulPinLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.InitPIN(uint64(hSession), pin))
}

//export goSetPIN
func goSetPIN(hSession C.CK_SESSION_HANDLE, pOldPin C.CK_UTF8CHAR_PTR, ulOldLen C.CK_ULONG, pNewPin C.CK_UTF8CHAR_PTR, ulNewLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_SetPIN"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	oldPIN, err := bytesIn(unsafe.Pointer(pOldPin), ulOldLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	newPIN, err := bytesIn(unsafe.Pointer(pNewPin), ulNewLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.SetPIN(uint64(hSession), oldPIN, newPIN))
}

// goOpenSession ignores pApplication and Notify: Craton never calls back.
//
//export goOpenSession
func goOpenSession(slotID C.CK_SLOT_ID, flags C.CK_FLAGS, pApplication C.CK_VOID_PTR, notify C.CK_NOTIFY, phSession C.CK_SESSION_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_OpenSession"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phSession == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	h, err := mod.OpenSession(uint64(slotID), uint64(flags))
	if err != nil {
		return rvOf(fn, err)
	}
	*phSession = C.CK_SESSION_HANDLE(h)
	return rvOf(fn, nil)
}

//export goCloseSession
func goCloseSession(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_CloseSession"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.CloseSession(uint64(hSession)))
}

//export goCloseAllSessions
func goCloseAllSessions(slotID C.CK_SLOT_ID) (rv C.CK_RV) {
	const fn = "C_CloseAllSessions"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.CloseAllSessions(uint64(slotID)))
}

//export goGetSessionInfo
func goGetSessionInfo(hSession C.CK_SESSION_HANDLE, pInfo C.CK_SESSION_INFO_PTR) (rv C.CK_RV) {
	const fn = "C_GetSessionInfo"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pInfo == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	in, err := mod.GetSessionInfo(uint64(hSession))
	if err != nil {
		return rvOf(fn, err)
	}
	*pInfo = C.CK_SESSION_INFO{
		slotID:        C.CK_SLOT_ID(in.SlotID),
		state:         C.CK_STATE(in.State),
		flags:         C.CK_FLAGS(in.Flags),
		ulDeviceError: C.CK_ULONG(in.DeviceError),
	}
	return rvOf(fn, nil)
}

//export goSessionCancel
func goSessionCancel(hSession C.CK_SESSION_HANDLE, flags C.CK_FLAGS) (rv C.CK_RV) {
	const fn = "C_SessionCancel"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.SessionCancel(uint64(hSession), uint64(flags)))
}

//export goGetOperationState
func goGetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, pulOperationStateLen C.CK_ULONG_PTR) C.CK_RV {
	return outOnly("C_GetOperationState", mod.GetOperationState, hSession, pOperationState, pulOperationStateLen)
}

//export goSetOperationState
func goSetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, ulOperationStateLen C.CK_ULONG, hEncryptionKey, hAuthenticationKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	const fn = "C_SetOperationState"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	state, err := bytesIn(unsafe.Pointer(pOperationState), ulOperationStateLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.SetOperationState(uint64(hSession), state, uint64(hEncryptionKey), uint64(hAuthenticationKey)))
}

//export goLogin
func goLogin(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_Login"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	pin, err := bytesIn(unsafe.Pointer(pPin), ulPinLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.Login(uint64(hSession), uint64(userType), pin))
}

//export goLoginUser
func goLoginUser(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pUsername C.CK_UTF8CHAR_PTR, ulUsernameLen C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_LoginUser"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	pin, err := bytesIn(unsafe.Pointer(pPin), ulPinLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	username, err := bytesIn(unsafe.Pointer(pUsername), ulUsernameLen, maxValueLen)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.LoginUser(uint64(hSession), uint64(userType), pin, username))
}

//export goLogout
func goLogout(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_Logout"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.Logout(uint64(hSession)))
}
