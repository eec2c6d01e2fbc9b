/*
 * pkcs11.h: Craton's own declaration of the PKCS#11 3.0 C interface, limited
 * to what libcraton.so needs: the scalar and pointer typedefs, the structures
 * the C_* functions read or write, and the function list.
 *
 * The binary layout (field order and types, the order of the function
 * pointers in CK_FUNCTION_LIST and CK_FUNCTION_LIST_3_0) follows the OASIS
 * PKCS#11 2.40 and 3.0 base specifications exactly: a host compiled against
 * the OASIS headers reads these structures as its own. On Linux there is no
 * struct packing and CK_ULONG is an unsigned long (8 bytes on LP64).
 *
 * Constants live in Go (pkcs11/ck); only those the C files use are here.
 */
#ifndef CRATON_PKCS11_H
#define CRATON_PKCS11_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef NULL_PTR
#define NULL_PTR 0
#endif

/* ---- Scalars ---------------------------------------------------------- */

typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_CHAR;
typedef CK_BYTE CK_UTF8CHAR;
typedef CK_BYTE CK_BBOOL;
typedef unsigned long CK_ULONG;
typedef long CK_LONG;
typedef CK_ULONG CK_FLAGS;

typedef CK_ULONG CK_NOTIFICATION;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_HW_FEATURE_TYPE;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_CERTIFICATE_TYPE;
typedef CK_ULONG CK_CERTIFICATE_CATEGORY;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_PROFILE_ID;
typedef CK_ULONG CK_RSA_PKCS_MGF_TYPE;
typedef CK_ULONG CK_RSA_PKCS_OAEP_SOURCE_TYPE;
typedef CK_ULONG CK_EC_KDF_TYPE;
typedef CK_ULONG CK_EXTRACT_PARAMS;
typedef CK_ULONG CK_GENERATOR_FUNCTION;
typedef CK_ULONG CK_MAC_GENERAL_PARAMS;

/* ---- Pointers to scalars ---------------------------------------------- */

typedef void *CK_VOID_PTR;
typedef CK_VOID_PTR *CK_VOID_PTR_PTR;
typedef CK_BYTE *CK_BYTE_PTR;
typedef CK_CHAR *CK_CHAR_PTR;
typedef CK_UTF8CHAR *CK_UTF8CHAR_PTR;
typedef CK_BBOOL *CK_BBOOL_PTR;
typedef CK_ULONG *CK_ULONG_PTR;
typedef CK_FLAGS *CK_FLAGS_PTR;
typedef CK_SLOT_ID *CK_SLOT_ID_PTR;
typedef CK_SESSION_HANDLE *CK_SESSION_HANDLE_PTR;
typedef CK_OBJECT_HANDLE *CK_OBJECT_HANDLE_PTR;
typedef CK_OBJECT_CLASS *CK_OBJECT_CLASS_PTR;
typedef CK_MECHANISM_TYPE *CK_MECHANISM_TYPE_PTR;
typedef CK_RSA_PKCS_MGF_TYPE *CK_RSA_PKCS_MGF_TYPE_PTR;
typedef CK_RSA_PKCS_OAEP_SOURCE_TYPE *CK_RSA_PKCS_OAEP_SOURCE_TYPE_PTR;
typedef CK_EXTRACT_PARAMS *CK_EXTRACT_PARAMS_PTR;
typedef CK_GENERATOR_FUNCTION *CK_GENERATOR_FUNCTION_PTR;
typedef CK_MAC_GENERAL_PARAMS *CK_MAC_GENERAL_PARAMS_PTR;

/* ---- Structures --------------------------------------------------------- */

typedef struct CK_VERSION {
	CK_BYTE major;
	CK_BYTE minor;
} CK_VERSION;
typedef CK_VERSION *CK_VERSION_PTR;

/* Text fields below are blank-padded to their width, never NUL-terminated. */

typedef struct CK_INFO {
	CK_VERSION cryptokiVersion;
	CK_UTF8CHAR manufacturerID[32];
	CK_FLAGS flags;
	CK_UTF8CHAR libraryDescription[32];
	CK_VERSION libraryVersion;
} CK_INFO;
typedef CK_INFO *CK_INFO_PTR;

typedef struct CK_SLOT_INFO {
	CK_UTF8CHAR slotDescription[64];
	CK_UTF8CHAR manufacturerID[32];
	CK_FLAGS flags;
	CK_VERSION hardwareVersion;
	CK_VERSION firmwareVersion;
} CK_SLOT_INFO;
typedef CK_SLOT_INFO *CK_SLOT_INFO_PTR;

typedef struct CK_TOKEN_INFO {
	CK_UTF8CHAR label[32];
	CK_UTF8CHAR manufacturerID[32];
	CK_UTF8CHAR model[16];
	CK_CHAR serialNumber[16];
	CK_FLAGS flags;
	CK_ULONG ulMaxSessionCount;
	CK_ULONG ulSessionCount;
	CK_ULONG ulMaxRwSessionCount;
	CK_ULONG ulRwSessionCount;
	CK_ULONG ulMaxPinLen;
	CK_ULONG ulMinPinLen;
	CK_ULONG ulTotalPublicMemory;
	CK_ULONG ulFreePublicMemory;
	CK_ULONG ulTotalPrivateMemory;
	CK_ULONG ulFreePrivateMemory;
	CK_VERSION hardwareVersion;
	CK_VERSION firmwareVersion;
	CK_CHAR utcTime[16];
} CK_TOKEN_INFO;
typedef CK_TOKEN_INFO *CK_TOKEN_INFO_PTR;

typedef struct CK_SESSION_INFO {
	CK_SLOT_ID slotID;
	CK_STATE state;
	CK_FLAGS flags;
	CK_ULONG ulDeviceError;
} CK_SESSION_INFO;
typedef CK_SESSION_INFO *CK_SESSION_INFO_PTR;

typedef struct CK_ATTRIBUTE {
	CK_ATTRIBUTE_TYPE type;
	CK_VOID_PTR pValue;
	CK_ULONG ulValueLen;
} CK_ATTRIBUTE;
typedef CK_ATTRIBUTE *CK_ATTRIBUTE_PTR;

typedef struct CK_DATE {
	CK_CHAR year[4];
	CK_CHAR month[2];
	CK_CHAR day[2];
} CK_DATE;

typedef struct CK_MECHANISM {
	CK_MECHANISM_TYPE mechanism;
	CK_VOID_PTR pParameter;
	CK_ULONG ulParameterLen;
} CK_MECHANISM;
typedef CK_MECHANISM *CK_MECHANISM_PTR;

typedef struct CK_MECHANISM_INFO {
	CK_ULONG ulMinKeySize;
	CK_ULONG ulMaxKeySize;
	CK_FLAGS flags;
} CK_MECHANISM_INFO;
typedef CK_MECHANISM_INFO *CK_MECHANISM_INFO_PTR;

/* ---- Callbacks and C_Initialize arguments ------------------------------ */

typedef CK_RV (*CK_NOTIFY)(CK_SESSION_HANDLE hSession, CK_NOTIFICATION event,
                           CK_VOID_PTR pApplication);

typedef CK_RV (*CK_CREATEMUTEX)(CK_VOID_PTR_PTR ppMutex);
typedef CK_RV (*CK_DESTROYMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_LOCKMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_UNLOCKMUTEX)(CK_VOID_PTR pMutex);

typedef struct CK_C_INITIALIZE_ARGS {
	CK_CREATEMUTEX CreateMutex;
	CK_DESTROYMUTEX DestroyMutex;
	CK_LOCKMUTEX LockMutex;
	CK_UNLOCKMUTEX UnlockMutex;
	CK_FLAGS flags;
	CK_VOID_PTR pReserved;
} CK_C_INITIALIZE_ARGS;
typedef CK_C_INITIALIZE_ARGS *CK_C_INITIALIZE_ARGS_PTR;

/* ---- Function lists and interfaces (forward declarations) -------------- */

typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;
typedef CK_FUNCTION_LIST *CK_FUNCTION_LIST_PTR;
typedef CK_FUNCTION_LIST_PTR *CK_FUNCTION_LIST_PTR_PTR;

typedef struct CK_FUNCTION_LIST_3_0 CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

typedef struct CK_INTERFACE {
	CK_CHAR *pInterfaceName;
	CK_VOID_PTR pFunctionList;
	CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

/* ---- The functions ------------------------------------------------------
 *
 * X-macros over every function, in function-list order. Each entry is
 *   X(Name, (parameter declarations), (argument names))
 * where Name lacks the "C_" prefix, so a user can paste C_##Name, CK_C_##Name
 * or a bridge name. The loader entry points (the functions that hand out
 * function lists; callable before C_Initialize) go through L instead of X,
 * so a user can treat them apart; pass the same macro twice to treat all
 * alike.
 *
 * CK_FUNCTIONS_2_40 is the 68 functions of CK_FUNCTION_LIST (version 2.40),
 * CK_FUNCTIONS_3_0 the 24 that CK_FUNCTION_LIST_3_0 appends after them.
 */

#define CK_FUNCTIONS_2_40(X, L) \
	X(Initialize, (CK_VOID_PTR pInitArgs), (pInitArgs)) \
	X(Finalize, (CK_VOID_PTR pReserved), (pReserved)) \
	X(GetInfo, (CK_INFO_PTR pInfo), (pInfo)) \
	L(GetFunctionList, (CK_FUNCTION_LIST_PTR_PTR ppFunctionList), (ppFunctionList)) \
	X(GetSlotList, (CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount), \
	  (tokenPresent, pSlotList, pulCount)) \
	X(GetSlotInfo, (CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo), (slotID, pInfo)) \
	X(GetTokenInfo, (CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo), (slotID, pInfo)) \
	X(GetMechanismList, \
	  (CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount), \
	  (slotID, pMechanismList, pulCount)) \
	X(GetMechanismInfo, \
	  (CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo), \
	  (slotID, type, pInfo)) \
	X(InitToken, \
	  (CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel), \
	  (slotID, pPin, ulPinLen, pLabel)) \
	X(InitPIN, (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen), \
	  (hSession, pPin, ulPinLen)) \
	X(SetPIN, \
	  (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, \
	   CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen), \
	  (hSession, pOldPin, ulOldLen, pNewPin, ulNewLen)) \
	X(OpenSession, \
	  (CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify, \
	   CK_SESSION_HANDLE_PTR phSession), \
	  (slotID, flags, pApplication, Notify, phSession)) \
	X(CloseSession, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(CloseAllSessions, (CK_SLOT_ID slotID), (slotID)) \
	X(GetSessionInfo, (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo), \
	  (hSession, pInfo)) \
	X(GetOperationState, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, \
	   CK_ULONG_PTR pulOperationStateLen), \
	  (hSession, pOperationState, pulOperationStateLen)) \
	X(SetOperationState, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, \
	   CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey, \
	   CK_OBJECT_HANDLE hAuthenticationKey), \
	  (hSession, pOperationState, ulOperationStateLen, hEncryptionKey, hAuthenticationKey)) \
	X(Login, \
	  (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, \
	   CK_ULONG ulPinLen), \
	  (hSession, userType, pPin, ulPinLen)) \
	X(Logout, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(CreateObject, \
	  (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, \
	   CK_OBJECT_HANDLE_PTR phObject), \
	  (hSession, pTemplate, ulCount, phObject)) \
	X(CopyObject, \
	  (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, \
	   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject), \
	  (hSession, hObject, pTemplate, ulCount, phNewObject)) \
	X(DestroyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject), \
	  (hSession, hObject)) \
	X(GetObjectSize, \
	  (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize), \
	  (hSession, hObject, pulSize)) \
	X(GetAttributeValue, \
	  (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, \
	   CK_ULONG ulCount), \
	  (hSession, hObject, pTemplate, ulCount)) \
	X(SetAttributeValue, \
	  (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, \
	   CK_ULONG ulCount), \
	  (hSession, hObject, pTemplate, ulCount)) \
	X(FindObjectsInit, \
	  (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount), \
	  (hSession, pTemplate, ulCount)) \
	X(FindObjects, \
	  (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount, \
	   CK_ULONG_PTR pulObjectCount), \
	  (hSession, phObject, ulMaxObjectCount, pulObjectCount)) \
	X(FindObjectsFinal, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(EncryptInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(Encrypt, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, \
	   CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen), \
	  (hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen)) \
	X(EncryptUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, \
	   CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen), \
	  (hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)) \
	X(EncryptFinal, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart, \
	   CK_ULONG_PTR pulLastEncryptedPartLen), \
	  (hSession, pLastEncryptedPart, pulLastEncryptedPartLen)) \
	X(DecryptInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(Decrypt, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen, \
	   CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen), \
	  (hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen)) \
	X(DecryptUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, \
	   CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen), \
	  (hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)) \
	X(DecryptFinal, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen), \
	  (hSession, pLastPart, pulLastPartLen)) \
	X(DigestInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism), \
	  (hSession, pMechanism)) \
	X(Digest, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, \
	   CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen), \
	  (hSession, pData, ulDataLen, pDigest, pulDigestLen)) \
	X(DigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), \
	  (hSession, pPart, ulPartLen)) \
	X(DigestKey, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey), (hSession, hKey)) \
	X(DigestFinal, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen), \
	  (hSession, pDigest, pulDigestLen)) \
	X(SignInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(Sign, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, \
	   CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen), \
	  (hSession, pData, ulDataLen, pSignature, pulSignatureLen)) \
	X(SignUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), \
	  (hSession, pPart, ulPartLen)) \
	X(SignFinal, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen), \
	  (hSession, pSignature, pulSignatureLen)) \
	X(SignRecoverInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(SignRecover, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, \
	   CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen), \
	  (hSession, pData, ulDataLen, pSignature, pulSignatureLen)) \
	X(VerifyInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(Verify, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, \
	   CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen), \
	  (hSession, pData, ulDataLen, pSignature, ulSignatureLen)) \
	X(VerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), \
	  (hSession, pPart, ulPartLen)) \
	X(VerifyFinal, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen), \
	  (hSession, pSignature, ulSignatureLen)) \
	X(VerifyRecoverInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(VerifyRecover, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen, \
	   CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen), \
	  (hSession, pSignature, ulSignatureLen, pData, pulDataLen)) \
	X(DigestEncryptUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, \
	   CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen), \
	  (hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)) \
	X(DecryptDigestUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, \
	   CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen), \
	  (hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)) \
	X(SignEncryptUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, \
	   CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen), \
	  (hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)) \
	X(DecryptVerifyUpdate, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, \
	   CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen), \
	  (hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)) \
	X(GenerateKey, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate, \
	   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey), \
	  (hSession, pMechanism, pTemplate, ulCount, phKey)) \
	X(GenerateKeyPair, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, \
	   CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount, \
	   CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount, \
	   CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey), \
	  (hSession, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount, \
	   pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey)) \
	X(WrapKey, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, \
	   CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, \
	   CK_ULONG_PTR pulWrappedKeyLen), \
	  (hSession, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen)) \
	X(UnwrapKey, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, \
	   CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, \
	   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey), \
	  (hSession, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen, pTemplate, \
	   ulAttributeCount, phKey)) \
	X(DeriveKey, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey, \
	   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey), \
	  (hSession, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey)) \
	X(SeedRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen), \
	  (hSession, pSeed, ulSeedLen)) \
	X(GenerateRandom, \
	  (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen), \
	  (hSession, pRandomData, ulRandomLen)) \
	X(GetFunctionStatus, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(CancelFunction, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved), \
	  (flags, pSlot, pReserved))

#define CK_FUNCTIONS_3_0(X, L) \
	L(GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount), \
	  (pInterfacesList, pulCount)) \
	L(GetInterface, \
	  (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion, \
	   CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags), \
	  (pInterfaceName, pVersion, ppInterface, flags)) \
	X(LoginUser, \
	  (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, \
	   CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen), \
	  (hSession, userType, pPin, ulPinLen, pUsername, ulUsernameLen)) \
	X(SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags), (hSession, flags)) \
	X(MessageEncryptInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(EncryptMessage, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext, \
	   CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen), \
	  (hSession, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen, \
	   pPlaintext, ulPlaintextLen, pCiphertext, pulCiphertextLen)) \
	X(EncryptMessageBegin, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen), \
	  (hSession, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen)) \
	X(EncryptMessageNext, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart, \
	   CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags), \
	  (hSession, pParameter, ulParameterLen, pPlaintextPart, ulPlaintextPartLen, \
	   pCiphertextPart, pulCiphertextPartLen, flags)) \
	X(MessageEncryptFinal, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(MessageDecryptInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(DecryptMessage, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext, \
	   CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen), \
	  (hSession, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen, \
	   pCiphertext, ulCiphertextLen, pPlaintext, pulPlaintextLen)) \
	X(DecryptMessageBegin, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen), \
	  (hSession, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen)) \
	X(DecryptMessageNext, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart, \
	   CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags), \
	  (hSession, pParameter, ulParameterLen, pCiphertextPart, ulCiphertextPartLen, \
	   pPlaintextPart, pulPlaintextPartLen, flags)) \
	X(MessageDecryptFinal, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(MessageSignInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(SignMessage, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, \
	   CK_ULONG_PTR pulSignatureLen), \
	  (hSession, pParameter, ulParameterLen, pData, ulDataLen, pSignature, pulSignatureLen)) \
	X(SignMessageBegin, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen), \
	  (hSession, pParameter, ulParameterLen)) \
	X(SignMessageNext, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, \
	   CK_ULONG_PTR pulSignatureLen), \
	  (hSession, pParameter, ulParameterLen, pData, ulDataLen, pSignature, pulSignatureLen)) \
	X(MessageSignFinal, (CK_SESSION_HANDLE hSession), (hSession)) \
	X(MessageVerifyInit, \
	  (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey), \
	  (hSession, pMechanism, hKey)) \
	X(VerifyMessage, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, \
	   CK_ULONG ulSignatureLen), \
	  (hSession, pParameter, ulParameterLen, pData, ulDataLen, pSignature, ulSignatureLen)) \
	X(VerifyMessageBegin, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen), \
	  (hSession, pParameter, ulParameterLen)) \
	X(VerifyMessageNext, \
	  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, \
	   CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, \
	   CK_ULONG ulSignatureLen), \
	  (hSession, pParameter, ulParameterLen, pData, ulDataLen, pSignature, ulSignatureLen)) \
	X(MessageVerifyFinal, (CK_SESSION_HANDLE hSession), (hSession))

/* One pointer type and one prototype per function. */
#define CK_DECLARE_TYPE_(name, params, args) typedef CK_RV (*CK_C_##name) params;
#define CK_DECLARE_PROTO_(name, params, args) CK_RV C_##name params;
CK_FUNCTIONS_2_40(CK_DECLARE_TYPE_, CK_DECLARE_TYPE_)
CK_FUNCTIONS_3_0(CK_DECLARE_TYPE_, CK_DECLARE_TYPE_)
CK_FUNCTIONS_2_40(CK_DECLARE_PROTO_, CK_DECLARE_PROTO_)
CK_FUNCTIONS_3_0(CK_DECLARE_PROTO_, CK_DECLARE_PROTO_)
#undef CK_DECLARE_TYPE_
#undef CK_DECLARE_PROTO_

#define CK_FUNCTION_LIST_MEMBER_(name, params, args) CK_C_##name C_##name;

/* CK_FUNCTION_LIST: version 2.40, 68 functions. */
struct CK_FUNCTION_LIST {
	CK_VERSION version;
	CK_FUNCTIONS_2_40(CK_FUNCTION_LIST_MEMBER_, CK_FUNCTION_LIST_MEMBER_)
};

/* CK_FUNCTION_LIST_3_0: the 2.40 list followed by the 24 3.0 additions. */
struct CK_FUNCTION_LIST_3_0 {
	CK_VERSION version;
	CK_FUNCTIONS_2_40(CK_FUNCTION_LIST_MEMBER_, CK_FUNCTION_LIST_MEMBER_)
	CK_FUNCTIONS_3_0(CK_FUNCTION_LIST_MEMBER_, CK_FUNCTION_LIST_MEMBER_)
};

#undef CK_FUNCTION_LIST_MEMBER_

/* ---- The constants the C files use -------------------------------------- */

#define CK_TRUE 1
#define CK_FALSE 0

#define CKR_OK 0x00000000UL
#define CKR_GENERAL_ERROR 0x00000005UL
#define CKR_ARGUMENTS_BAD 0x00000007UL
#define CKR_BUFFER_TOO_SMALL 0x00000150UL

#define CKF_INTERFACE_FORK_SAFE 0x00000001UL

#ifdef __cplusplus
}
#endif

#endif /* CRATON_PKCS11_H */
