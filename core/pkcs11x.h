/*
 * LS11CLOUD - the project's one PKCS#11 header.
 *
 * Debian's p11-kit header (libp11-kit-dev 0.24.1, <p11-kit/pkcs11.h>, freely redistributable)
 * stops at PKCS#11 v2.40.  This header includes it and adds on top:
 *
 *  1. corrections of the five v2.40 return values p11-kit 0.24 gets wrong (the OASIS header,
 *     NSS and OpenSC use 0x1B5..0x1B9; p11-kit 0.24 has 0x1C0..0x1C4);
 *  2. the PKCS#11 v3.0 interface: CK_INTERFACE, CK_FUNCTION_LIST_3_0 (every v3.0 function
 *     pointer in the order of the specification), the prototypes and function-pointer types of
 *     C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel and the message-based
 *     functions, and the v3.0 constants we need;
 *  3. the TC26 vendor block (GOST R 34.10/34.11-2012, Kuznyechik, Magma, MGM, KDF_TREE, KEG) with
 *     the 2012/2018 TC26 numbering (shared/reference/gost-pkcs11.md 1.2), and the GOST mechanism
 *     parameter structures p11-kit lacks.
 *
 * Everything is guarded: a constant is defined only when p11-kit did not define it, and the v3.0
 * types only when p11-kit's header is older than v3.0 (a p11-kit that ships v3.0 brings its own,
 * with the same names and layout).  The compatibility names of p11-kit (CK_ULONG, CK_RV, ...)
 * are required, so CRYPTOKI_GNU must not be defined.
 *
 * tests/core/test-pkcs11x.c checks every value against the reference table and the function
 * list layout against the specification's order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_PKCS11X_H
#define LS11_CORE_PKCS11X_H

#ifdef CRYPTOKI_GNU
#error "pkcs11x.h needs p11-kit's PKCS#11 compatibility names; do not define CRYPTOKI_GNU"
#endif

/*
 * pkg-config's p11-kit-1 adds -I.../p11-kit-1; without it (a target that only needs the header)
 * the file is found under the default include path.
 */
#if defined(__has_include)
#if __has_include(<p11-kit/pkcs11.h>)
#include <p11-kit/pkcs11.h>
#else
#include <p11-kit-1/p11-kit/pkcs11.h>
#endif
#else
#include <p11-kit/pkcs11.h>
#endif

#if defined(__cplusplus)
extern "C" {
#endif

/* The same packing rule as p11-kit's header (and the specification): 1 on Windows. */
#if defined(_WIN32) || defined(CRYPTOKI_FORCE_WIN32)
#pragma pack(push, cryptoki, 1)
#endif

/* ---------------------------------------------------------------------------------------------
 * 1. v2.40 values that p11-kit 0.24 defines wrongly
 * ------------------------------------------------------------------------------------------- */

#undef CKR_EXCEEDED_MAX_ITERATIONS
#undef CKR_FIPS_SELF_TEST_FAILED
#undef CKR_LIBRARY_LOAD_FAILED
#undef CKR_PIN_TOO_WEAK
#undef CKR_PUBLIC_KEY_INVALID
#define CKR_EXCEEDED_MAX_ITERATIONS (0x1B5UL)
#define CKR_FIPS_SELF_TEST_FAILED   (0x1B6UL)
#define CKR_LIBRARY_LOAD_FAILED     (0x1B7UL)
#define CKR_PIN_TOO_WEAK            (0x1B8UL)
#define CKR_PUBLIC_KEY_INVALID      (0x1B9UL)

/* v2.40 names p11-kit 0.24 lacks. */
#ifndef CKP_PKCS5_PBKD2_HMAC_GOSTR3411
#define CKP_PKCS5_PBKD2_HMAC_GOSTR3411 (0x00000002UL)
#endif
/* A C11 typedef may be repeated with the same type, so this cannot clash. */
typedef CK_ULONG CK_EC_KDF_TYPE;

/* ---------------------------------------------------------------------------------------------
 * 2. PKCS#11 v3.0
 * ------------------------------------------------------------------------------------------- */

#ifndef CKU_CONTEXT_SPECIFIC
#define CKU_CONTEXT_SPECIFIC (2UL)
#endif

/* Object class, attributes and profiles new in v3.0. */
#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID (0x00000004UL)
#endif
#ifndef CKO_PROFILE
#define CKO_PROFILE (0x00000009UL)
#endif
#ifndef CKA_PROFILE_ID
#define CKA_PROFILE_ID (0x00000601UL)
#endif
#ifndef CKP_INVALID_ID
#define CKP_INVALID_ID                (0x00000000UL)
#define CKP_BASELINE_PROVIDER         (0x00000001UL)
#define CKP_EXTENDED_PROVIDER         (0x00000002UL)
#define CKP_AUTHENTICATION_TOKEN      (0x00000003UL)
#define CKP_PUBLIC_CERTIFICATES_TOKEN (0x00000004UL)
#define CKP_VENDOR_DEFINED            (0x80000000UL)
#endif

/* CK_MECHANISM_INFO flags new in v3.0 (also the operation bits of C_SessionCancel). */
#ifndef CKF_MESSAGE_ENCRYPT
#define CKF_MESSAGE_ENCRYPT (0x00000002UL)
#endif
#ifndef CKF_MESSAGE_DECRYPT
#define CKF_MESSAGE_DECRYPT (0x00000004UL)
#endif
#ifndef CKF_MESSAGE_SIGN
#define CKF_MESSAGE_SIGN (0x00000008UL)
#endif
#ifndef CKF_MESSAGE_VERIFY
#define CKF_MESSAGE_VERIFY (0x00000010UL)
#endif
#ifndef CKF_MULTI_MESSAGE
#define CKF_MULTI_MESSAGE (0x00000020UL)
#endif
#ifndef CKF_FIND_OBJECTS
#define CKF_FIND_OBJECTS (0x00000040UL)
#endif

/* Flags of C_EncryptMessageNext & co. and of CK_INTERFACE. */
#ifndef CKF_END_OF_MESSAGE
#define CKF_END_OF_MESSAGE (0x00000001UL)
#endif
#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE (0x00000001UL)
#endif

/* Return values new in v3.0. */
#ifndef CKR_TOKEN_RESOURCE_EXCEEDED
#define CKR_TOKEN_RESOURCE_EXCEEDED (0x00000201UL)
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED (0x00000202UL)
#endif

#if !defined(CRYPTOKI_VERSION_MAJOR) || CRYPTOKI_VERSION_MAJOR < 3

/* The interface a module hands out from C_GetInterface / C_GetInterfaceList. */
typedef struct CK_INTERFACE {
	CK_CHAR *pInterfaceName; /* "PKCS 11" for the standard function lists */
	CK_VOID_PTR pFunctionList;
	CK_FLAGS flags; /* CKF_INTERFACE_FORK_SAFE */
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

typedef CK_ULONG *CK_FLAGS_PTR;

/*
 * Declares both the prototype and the CK_<name> function-pointer type, the way p11-kit's header
 * does for the v2.40 functions (CK_C_Initialize, ...).
 */
#define LS_CK_DECLARE_FUNCTION(name, args)                                                        \
	typedef CK_RV (*CK_##name) args;                                                          \
	CK_RV CK_SPEC name args

LS_CK_DECLARE_FUNCTION(C_GetInterfaceList,
                       (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount));
LS_CK_DECLARE_FUNCTION(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                        CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags));
LS_CK_DECLARE_FUNCTION(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                                     CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                                     CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen));
LS_CK_DECLARE_FUNCTION(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags));

LS_CK_DECLARE_FUNCTION(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession,
                                              CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey));
LS_CK_DECLARE_FUNCTION(C_EncryptMessage,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                        CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                        CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                        CK_ULONG_PTR pulCiphertextLen));
LS_CK_DECLARE_FUNCTION(C_EncryptMessageBegin,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                        CK_ULONG ulAssociatedDataLen));
LS_CK_DECLARE_FUNCTION(C_EncryptMessageNext,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
                        CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
                        CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags));
LS_CK_DECLARE_FUNCTION(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession));

LS_CK_DECLARE_FUNCTION(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession,
                                              CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey));
LS_CK_DECLARE_FUNCTION(C_DecryptMessage,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                        CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                        CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                        CK_ULONG_PTR pulPlaintextLen));
LS_CK_DECLARE_FUNCTION(C_DecryptMessageBegin,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                        CK_ULONG ulAssociatedDataLen));
LS_CK_DECLARE_FUNCTION(C_DecryptMessageNext,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
                        CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
                        CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags));
LS_CK_DECLARE_FUNCTION(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession));

LS_CK_DECLARE_FUNCTION(C_MessageSignInit, (CK_SESSION_HANDLE hSession,
                                           CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey));
LS_CK_DECLARE_FUNCTION(C_SignMessage,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen));
LS_CK_DECLARE_FUNCTION(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                            CK_ULONG ulParameterLen));
LS_CK_DECLARE_FUNCTION(C_SignMessageNext,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen));
LS_CK_DECLARE_FUNCTION(C_MessageSignFinal, (CK_SESSION_HANDLE hSession));

LS_CK_DECLARE_FUNCTION(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession,
                                             CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey));
LS_CK_DECLARE_FUNCTION(C_VerifyMessage,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen));
LS_CK_DECLARE_FUNCTION(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession,
                                              CK_VOID_PTR pParameter, CK_ULONG ulParameterLen));
LS_CK_DECLARE_FUNCTION(C_VerifyMessageNext,
                       (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen));
LS_CK_DECLARE_FUNCTION(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession));

/*
 * The v3.0 function list: the v2.40 list (same members, same order, so a pointer to it may be
 * handed out where a CK_FUNCTION_LIST is expected) followed by the v3.0 functions in the order
 * of the specification (PKCS#11 v3.0 base specification, CK_FUNCTION_LIST_3_0).
 */
typedef struct CK_FUNCTION_LIST_3_0 {
	CK_VERSION version;
	CK_C_Initialize C_Initialize;
	CK_C_Finalize C_Finalize;
	CK_C_GetInfo C_GetInfo;
	CK_C_GetFunctionList C_GetFunctionList;
	CK_C_GetSlotList C_GetSlotList;
	CK_C_GetSlotInfo C_GetSlotInfo;
	CK_C_GetTokenInfo C_GetTokenInfo;
	CK_C_GetMechanismList C_GetMechanismList;
	CK_C_GetMechanismInfo C_GetMechanismInfo;
	CK_C_InitToken C_InitToken;
	CK_C_InitPIN C_InitPIN;
	CK_C_SetPIN C_SetPIN;
	CK_C_OpenSession C_OpenSession;
	CK_C_CloseSession C_CloseSession;
	CK_C_CloseAllSessions C_CloseAllSessions;
	CK_C_GetSessionInfo C_GetSessionInfo;
	CK_C_GetOperationState C_GetOperationState;
	CK_C_SetOperationState C_SetOperationState;
	CK_C_Login C_Login;
	CK_C_Logout C_Logout;
	CK_C_CreateObject C_CreateObject;
	CK_C_CopyObject C_CopyObject;
	CK_C_DestroyObject C_DestroyObject;
	CK_C_GetObjectSize C_GetObjectSize;
	CK_C_GetAttributeValue C_GetAttributeValue;
	CK_C_SetAttributeValue C_SetAttributeValue;
	CK_C_FindObjectsInit C_FindObjectsInit;
	CK_C_FindObjects C_FindObjects;
	CK_C_FindObjectsFinal C_FindObjectsFinal;
	CK_C_EncryptInit C_EncryptInit;
	CK_C_Encrypt C_Encrypt;
	CK_C_EncryptUpdate C_EncryptUpdate;
	CK_C_EncryptFinal C_EncryptFinal;
	CK_C_DecryptInit C_DecryptInit;
	CK_C_Decrypt C_Decrypt;
	CK_C_DecryptUpdate C_DecryptUpdate;
	CK_C_DecryptFinal C_DecryptFinal;
	CK_C_DigestInit C_DigestInit;
	CK_C_Digest C_Digest;
	CK_C_DigestUpdate C_DigestUpdate;
	CK_C_DigestKey C_DigestKey;
	CK_C_DigestFinal C_DigestFinal;
	CK_C_SignInit C_SignInit;
	CK_C_Sign C_Sign;
	CK_C_SignUpdate C_SignUpdate;
	CK_C_SignFinal C_SignFinal;
	CK_C_SignRecoverInit C_SignRecoverInit;
	CK_C_SignRecover C_SignRecover;
	CK_C_VerifyInit C_VerifyInit;
	CK_C_Verify C_Verify;
	CK_C_VerifyUpdate C_VerifyUpdate;
	CK_C_VerifyFinal C_VerifyFinal;
	CK_C_VerifyRecoverInit C_VerifyRecoverInit;
	CK_C_VerifyRecover C_VerifyRecover;
	CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
	CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
	CK_C_SignEncryptUpdate C_SignEncryptUpdate;
	CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
	CK_C_GenerateKey C_GenerateKey;
	CK_C_GenerateKeyPair C_GenerateKeyPair;
	CK_C_WrapKey C_WrapKey;
	CK_C_UnwrapKey C_UnwrapKey;
	CK_C_DeriveKey C_DeriveKey;
	CK_C_SeedRandom C_SeedRandom;
	CK_C_GenerateRandom C_GenerateRandom;
	CK_C_GetFunctionStatus C_GetFunctionStatus;
	CK_C_CancelFunction C_CancelFunction;
	CK_C_WaitForSlotEvent C_WaitForSlotEvent;
	/* new in v3.0 */
	CK_C_GetInterfaceList C_GetInterfaceList;
	CK_C_GetInterface C_GetInterface;
	CK_C_LoginUser C_LoginUser;
	CK_C_SessionCancel C_SessionCancel;
	CK_C_MessageEncryptInit C_MessageEncryptInit;
	CK_C_EncryptMessage C_EncryptMessage;
	CK_C_EncryptMessageBegin C_EncryptMessageBegin;
	CK_C_EncryptMessageNext C_EncryptMessageNext;
	CK_C_MessageEncryptFinal C_MessageEncryptFinal;
	CK_C_MessageDecryptInit C_MessageDecryptInit;
	CK_C_DecryptMessage C_DecryptMessage;
	CK_C_DecryptMessageBegin C_DecryptMessageBegin;
	CK_C_DecryptMessageNext C_DecryptMessageNext;
	CK_C_MessageDecryptFinal C_MessageDecryptFinal;
	CK_C_MessageSignInit C_MessageSignInit;
	CK_C_SignMessage C_SignMessage;
	CK_C_SignMessageBegin C_SignMessageBegin;
	CK_C_SignMessageNext C_SignMessageNext;
	CK_C_MessageSignFinal C_MessageSignFinal;
	CK_C_MessageVerifyInit C_MessageVerifyInit;
	CK_C_VerifyMessage C_VerifyMessage;
	CK_C_VerifyMessageBegin C_VerifyMessageBegin;
	CK_C_VerifyMessageNext C_VerifyMessageNext;
	CK_C_MessageVerifyFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

/* v2.40 structures for the standard GOST mechanisms (absent from p11-kit 0.24). */

/* CKM_GOSTR3410_DERIVE (and the TC26 CKM_GOSTR3410_12_DERIVE). */
typedef struct CK_GOSTR3410_DERIVE_PARAMS {
	CK_EC_KDF_TYPE kdf; /* CKD_NULL, CKD_CPDIVERSIFY_KDF, CKD_KDF_4357, ... */
	CK_BYTE_PTR pPublicData;
	CK_ULONG ulPublicDataLen;
	CK_BYTE_PTR pUKM;
	CK_ULONG ulUKMLen;
} CK_GOSTR3410_DERIVE_PARAMS;
typedef CK_GOSTR3410_DERIVE_PARAMS *CK_GOSTR3410_DERIVE_PARAMS_PTR;

/* CKM_GOSTR3410_KEY_WRAP. */
typedef struct CK_GOSTR3410_KEY_WRAP_PARAMS {
	CK_BYTE_PTR pWrapOID;
	CK_ULONG ulWrapOIDLen;
	CK_BYTE_PTR pUKM;
	CK_ULONG ulUKMLen;
	CK_OBJECT_HANDLE hKey;
} CK_GOSTR3410_KEY_WRAP_PARAMS;
typedef CK_GOSTR3410_KEY_WRAP_PARAMS *CK_GOSTR3410_KEY_WRAP_PARAMS_PTR;

#endif /* p11-kit older than v3.0 */

/* ---------------------------------------------------------------------------------------------
 * 3. TC26 vendor block: the current (2012/2018) numbering
 *
 * Source: TC26 "PKCS#11 extensions for GOST R 34.10-2012 and GOST R 34.11-2012" and its 2018
 * edition as carried by Aktiv's pkcs11tc26_12.h / pkcs11tc26_18.h (see gost-pkcs11.md 1.2).  The
 * older 2013-2015 draft numbering (JaCarta, the _PKCS11_TC26_15_H_ header) gives different
 * meanings to several of these offsets and must not be mixed in.
 * ------------------------------------------------------------------------------------------- */

#ifndef CK_VENDOR_PKCS11_RU_TEAM_TC26
#define CK_VENDOR_PKCS11_RU_TEAM_TC26 (CKK_VENDOR_DEFINED | 0x54321000UL)
/* The deprecated spelling OpenSC still uses, and NSS's name for the same base. */
#define CK_VENDOR_PKCS11_RU_TEAM_TK26 CK_VENDOR_PKCS11_RU_TEAM_TC26
#define NSSCK_VENDOR_PKCS11_RU_TEAM   CK_VENDOR_PKCS11_RU_TEAM_TC26

/* Key types.  256-bit GOST R 34.10-2012 keys use the standard CKK_GOSTR3410 (0x30). */
#define CKK_GOSTR3410_512       (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x003UL)
#define CKK_KUZNYECHIK          (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x004UL)
#define CKK_KUZNECHIK           CKK_KUZNYECHIK
#define CKK_MAGMA               (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x005UL)
#define CKK_KUZNYECHIK_TWIN_KEY (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x006UL)
#define CKK_MAGMA_TWIN_KEY      (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x007UL)

/* PBKDF2 pseudo-random function (CK_PKCS5_PBKDF2_PSEUDO_RANDOM_FUNCTION_TYPE, not a key type). */
#define CKP_PKCS5_PBKD2_HMAC_GOSTR3411_2012_512 (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x003UL)

/* GOST R 34.10-2012 */
#define CKM_GOSTR3410_512_KEY_PAIR_GEN         (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x005UL)
#define CKM_GOSTR3410_512                      (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x006UL)
#define CKM_GOSTR3410_12_DERIVE                (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x007UL)
#define CKM_GOSTR3410_2012_DERIVE              CKM_GOSTR3410_12_DERIVE
#define CKM_GOSTR3410_WITH_GOSTR3411_12_256    (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x008UL)
#define CKM_GOSTR3410_WITH_GOSTR3411_2012_256  CKM_GOSTR3410_WITH_GOSTR3411_12_256
#define CKM_GOSTR3410_WITH_GOSTR3411_12_512    (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x009UL)
#define CKM_GOSTR3410_WITH_GOSTR3411_2012_512  CKM_GOSTR3410_WITH_GOSTR3411_12_512
#define CKM_GOSTR3410_PUBLIC_KEY_DERIVE        (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x00AUL)
#define CKM_GOSTR3410_512_PUBLIC_KEY_DERIVE    (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x00BUL)

/* GOST R 34.11-2012 */
#define CKM_GOSTR3411_12_256                   (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x012UL)
#define CKM_GOSTR3411_2012_256                 CKM_GOSTR3411_12_256
#define CKM_GOSTR3411_12_512                   (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x013UL)
#define CKM_GOSTR3411_12_256_HMAC              (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x014UL)
#define CKM_GOSTR3411_12_512_HMAC              (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x015UL)

/* TLS */
#define CKM_TLS_GOST_PRF_2012_256              (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x016UL)
#define CKM_TLS_GOST_PRF_2012_512              (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x017UL)
#define CKM_TLS_GOST_MASTER_KEY_DERIVE_2012_256 (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x018UL)
#define CKM_TLS_GOST_PRE_MASTER_KEY_GEN        CKM_GOST28147_KEY_GEN

/* Key derivation (the CKD_ names are the same values used as the kdf of derive parameters). */
#define CKM_KDF_4357                           (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x025UL)
#define CKD_KDF_4357                           CKM_KDF_4357
#define CKM_KDF_GOSTR3411_2012_256             (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x026UL)
#define CKD_KDF_GOSTR3411_2012_256             CKM_KDF_GOSTR3411_2012_256
#define CKM_KDF_HMAC3411_2012_256              (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x028UL)
#define CKM_KDF_TREE_GOSTR3411_2012_256        (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x02AUL)

/* Key export (KExp15) and MGM */
#define CKM_KUZNYECHIK_KEXP_15_WRAP            (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x02BUL)
#define CKM_MAGMA_KEXP_15_WRAP                 (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x02CUL)
#define CKM_KUZNYECHIK_MGM                     (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x02DUL)
#define CKM_MAGMA_MGM                          (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x02EUL)

/* GOST R 34.12-2015 ciphers with GOST R 34.13-2015 modes */
#define CKM_KUZNYECHIK_KEY_GEN                 (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x030UL)
#define CKM_KUZNYECHIK_ECB                     (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x031UL)
#define CKM_KUZNYECHIK_CTR_ACPKM               (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x032UL)
#define CKM_KUZNYECHIK_MAC                     (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x033UL)
#define CKM_MAGMA_KEY_GEN                      (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x034UL)
#define CKM_MAGMA_ECB                          (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x035UL)
#define CKM_MAGMA_CTR_ACPKM                    (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x036UL)
#define CKM_MAGMA_MAC                          (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x037UL)

/* VKO and KEG */
#define CKM_VKO_GOSTR3410_2012_512             (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x038UL)
#define CKM_GOST_KEG                           (CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x039UL)

/* CKM_KDF_TREE_GOSTR3411_2012_256: KDF_TREE (RFC 7836 4.5) parameters. */
typedef struct CK_KDF_TREE_GOST_PARAMS {
	CK_ULONG ulLabelLength;
	CK_BYTE_PTR pLabel;
	CK_ULONG ulSeedLength;
	CK_BYTE_PTR pSeed;
	CK_ULONG ulR;      /* counter width in bytes, 1..4 */
	CK_ULONG ulL;      /* output length in bits */
	CK_ULONG ulOffset; /* offset of the derived key in the output, in bytes */
} CK_KDF_TREE_GOST_PARAMS;
typedef CK_KDF_TREE_GOST_PARAMS *CK_KDF_TREE_GOST_PARAMS_PTR;

/* CKM_GOST_KEG (R 1323565.1.020-2018). */
typedef struct CK_VENDOR_GOST_KEG_PARAMS {
	CK_BYTE_PTR pPublicData;
	CK_ULONG ulPublicDataLen;
	CK_BYTE_PTR pUKM;
	CK_ULONG ulUKMLen;
} CK_VENDOR_GOST_KEG_PARAMS;
typedef CK_VENDOR_GOST_KEG_PARAMS *CK_VENDOR_GOST_KEG_PARAMS_PTR;

#endif /* CK_VENDOR_PKCS11_RU_TEAM_TC26 */

#if defined(_WIN32) || defined(CRYPTOKI_FORCE_WIN32)
#pragma pack(pop, cryptoki)
#endif

/*
 * p11-kit's header (with its compatibility names) leaves field-name macros defined after it
 * (iv_len -> ulIvLen, aad_len -> ulAADLen, ...).  They would silently rename fields of our own
 * structures, e.g. ls_cipher_params.iv_len, in every file that sees both this header and ours.
 * The PKCS#11 structures keep their real names (pIv, ulIvLen, ...), which is what we use.
 */
#undef iv_ptr
#undef iv_len
#undef iv_bits
#undef aad_ptr
#undef aad_len
#undef tag_bits
#undef counter_bits
#undef hash_alg
#undef s_len
#undef source_data
#undef source_data_len
#undef shared_data
#undef shared_data_len
#undef public_data
#undef public_data_len
#undef string_data
#undef string_data_len
#undef data_params

#if defined(__cplusplus)
}
#endif

#endif /* LS11_CORE_PKCS11X_H */
