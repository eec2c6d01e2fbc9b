/*
 * shims.c: the exported C_* functions other than the loader entry points.
 * Each one checks the fork guard, then calls the //export-ed Go bridge
 * go<Name> (goSign for C_Sign, ...) with the same arguments; the bridges
 * live in the .go files of this package.
 */
#include "pkcs11.h"
#include "shim.h"
#include "_cgo_export.h"

/*
 * Functions with no Go method yet: their bridge is a C function that hands
 * the session to goMessageNotSupported, which checks initialisation and the
 * session, then answers CKR_FUNCTION_NOT_SUPPORTED. The bridge is variadic so that one
 * line serves every parameter list (all begin with the session handle).
 * When the core gains the method, delete the line here and add the Go export.
 */
#define CRATON_NOT_IN_GO(name) \
	static CK_RV go##name(CK_SESSION_HANDLE hSession, ...) \
	{ \
		return goMessageNotSupported(hSession); \
	}

CRATON_NOT_IN_GO(MessageEncryptInit)
CRATON_NOT_IN_GO(EncryptMessage)
CRATON_NOT_IN_GO(EncryptMessageBegin)
CRATON_NOT_IN_GO(EncryptMessageNext)
CRATON_NOT_IN_GO(MessageEncryptFinal)
CRATON_NOT_IN_GO(MessageDecryptInit)
CRATON_NOT_IN_GO(DecryptMessage)
CRATON_NOT_IN_GO(DecryptMessageBegin)
CRATON_NOT_IN_GO(DecryptMessageNext)
CRATON_NOT_IN_GO(MessageDecryptFinal)
CRATON_NOT_IN_GO(MessageSignInit)
CRATON_NOT_IN_GO(SignMessage)
CRATON_NOT_IN_GO(SignMessageBegin)
CRATON_NOT_IN_GO(SignMessageNext)
CRATON_NOT_IN_GO(MessageSignFinal)
CRATON_NOT_IN_GO(MessageVerifyInit)
CRATON_NOT_IN_GO(VerifyMessage)
CRATON_NOT_IN_GO(VerifyMessageBegin)
CRATON_NOT_IN_GO(VerifyMessageNext)
CRATON_NOT_IN_GO(MessageVerifyFinal)

#undef CRATON_NOT_IN_GO

/* One shim per function; the loader entry points (L) are in tables.c. */
#define CRATON_SHIM(name, params, args) \
	CK_RV C_##name params \
	{ \
		if (craton_in_forked_child()) \
			return CKR_GENERAL_ERROR; \
		return go##name args; \
	}
#define CRATON_IN_TABLES_C(name, params, args)

CK_FUNCTIONS_2_40(CRATON_SHIM, CRATON_IN_TABLES_C)
CK_FUNCTIONS_3_0(CRATON_SHIM, CRATON_IN_TABLES_C)
