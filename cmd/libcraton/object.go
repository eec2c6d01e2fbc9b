package main

/*
#include "pkcs11.h"
*/
import "C"

import (
	"math"
	"unsafe"

	"github.com/craton-hsm/craton/pkcs11/ck"
)

//export goCreateObject
func goCreateObject(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phObject C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_CreateObject"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phObject == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	tmpl, err := copyTemplate(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	h, err := mod.CreateObject(uint64(hSession), tmpl)
	if err != nil {
		return rvOf(fn, err)
	}
	*phObject = C.CK_OBJECT_HANDLE(h)
	return rvOf(fn, nil)
}

//export goCopyObject
func goCopyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phNewObject C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	const fn = "C_CopyObject"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phNewObject == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	tmpl, err := copyTemplate(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	h, err := mod.CopyObject(uint64(hSession), uint64(hObject), tmpl)
	if err != nil {
		return rvOf(fn, err)
	}
	*phNewObject = C.CK_OBJECT_HANDLE(h)
	return rvOf(fn, nil)
}

//export goDestroyObject
func goDestroyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	const fn = "C_DestroyObject"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.DestroyObject(uint64(hSession), uint64(hObject)))
}

//export goGetObjectSize
func goGetObjectSize(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pulSize C.CK_ULONG_PTR) (rv C.CK_RV) {
	const fn = "C_GetObjectSize"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if pulSize == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	size, err := mod.GetObjectSize(uint64(hSession), uint64(hObject))
	if err != nil {
		return rvOf(fn, err)
	}
	*pulSize = C.CK_ULONG(size)
	return rvOf(fn, nil)
}

//export goGetAttributeValue
func goGetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_GetAttributeValue"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	attrs, err := attrSlice(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	q := make([]ck.AttrQuery, len(attrs))
	for i, a := range attrs {
		q[i] = ck.AttrQuery{Type: uint64(a._type), Cap: -1}
		if a.pValue != nil {
			q[i].Cap = int64(min(uint64(a.ulValueLen), math.MaxInt64))
		}
	}
	answers, err := mod.GetAttributeValue(uint64(hSession), uint64(hObject), q)
	return rvOf(fn, writeAnswers(attrs, answers, err))
}

// writeAnswers writes C_GetAttributeValue's answers back into the caller's
// template: every entry gets its ulValueLen, and a value when there is one.
// Answers come with CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID and
// CKR_BUFFER_TOO_SMALL too; only nil answers leave the template alone.
func writeAnswers(attrs []C.CK_ATTRIBUTE, answers []ck.AttrAnswer, err error) error {
	if answers == nil {
		return err
	}
	if len(answers) != len(attrs) {
		return errContract("%d answers for %d attributes", len(answers), len(attrs))
	}
	for i, a := range answers {
		if a.Value != nil {
			if cerr := copyOut(unsafe.Pointer(attrs[i].pValue), attrs[i].ulValueLen, a.Value); cerr != nil {
				return cerr
			}
		}
		attrs[i].ulValueLen = C.CK_ULONG(a.Len)
	}
	return err
}

//export goSetAttributeValue
func goSetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_SetAttributeValue"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	tmpl, err := copyTemplate(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.SetAttributeValue(uint64(hSession), uint64(hObject), tmpl))
}

//export goFindObjectsInit
func goFindObjectsInit(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	const fn = "C_FindObjectsInit"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	tmpl, err := copyTemplate(pTemplate, ulCount)
	if err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.FindObjectsInit(uint64(hSession), tmpl))
}

//export goFindObjects
func goFindObjects(hSession C.CK_SESSION_HANDLE, phObject C.CK_OBJECT_HANDLE_PTR, ulMaxObjectCount C.CK_ULONG, pulObjectCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	const fn = "C_FindObjects"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	if phObject == nil || pulObjectCount == nil {
		return rvOf(fn, ck.CKR_ARGUMENTS_BAD)
	}
	found, err := mod.FindObjects(uint64(hSession), uint64(ulMaxObjectCount))
	if err != nil {
		return rvOf(fn, err)
	}
	if uint64(len(found)) > uint64(ulMaxObjectCount) {
		return rvOf(fn, errContract("%d handles for room for %d", len(found), uint64(ulMaxObjectCount)))
	}
	dst := unsafe.Slice((*C.CK_OBJECT_HANDLE)(phObject), len(found))
	for i, h := range found {
		dst[i] = C.CK_OBJECT_HANDLE(h)
	}
	*pulObjectCount = C.CK_ULONG(len(found))
	return rvOf(fn, nil)
}

//export goFindObjectsFinal
func goFindObjectsFinal(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	const fn = "C_FindObjectsFinal"
	defer recoverRV(&rv, fn)
	if err := mod.CheckInitialized(); err != nil {
		return rvOf(fn, err)
	}
	return rvOf(fn, mod.FindObjectsFinal(uint64(hSession)))
}
