/*
 * LS11CLOUD - what both PKCS#11 modules (libls11token.so and libls11cloud.so) share at their
 * entry points: the function lists' member order, and the interface list and lookup of v3.0.
 * Header-only: each module defines its own ls_C_* functions and its interfaces[] table, then
 * expands these.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_P11_ENTRY_H
#define LS11_CORE_P11_ENTRY_H

#include <string.h>

#include "pkcs11x.h"

/* The v2.40 members, in the order both lists share. */
#define LS_FUNCTIONS_2_40                                                                         \
	.C_Initialize = ls_C_Initialize, .C_Finalize = ls_C_Finalize, .C_GetInfo = ls_C_GetInfo,  \
	.C_GetFunctionList = C_GetFunctionList, .C_GetSlotList = ls_C_GetSlotList,                \
	.C_GetSlotInfo = ls_C_GetSlotInfo, .C_GetTokenInfo = ls_C_GetTokenInfo,                   \
	.C_GetMechanismList = ls_C_GetMechanismList,                                              \
	.C_GetMechanismInfo = ls_C_GetMechanismInfo, .C_InitToken = ls_C_InitToken,               \
	.C_InitPIN = ls_C_InitPIN, .C_SetPIN = ls_C_SetPIN, .C_OpenSession = ls_C_OpenSession,    \
	.C_CloseSession = ls_C_CloseSession, .C_CloseAllSessions = ls_C_CloseAllSessions,         \
	.C_GetSessionInfo = ls_C_GetSessionInfo,                                                  \
	.C_GetOperationState = ls_C_GetOperationState,                                            \
	.C_SetOperationState = ls_C_SetOperationState, .C_Login = ls_C_Login,                     \
	.C_Logout = ls_C_Logout, .C_CreateObject = ls_C_CreateObject,                             \
	.C_CopyObject = ls_C_CopyObject, .C_DestroyObject = ls_C_DestroyObject,                   \
	.C_GetObjectSize = ls_C_GetObjectSize, .C_GetAttributeValue = ls_C_GetAttributeValue,     \
	.C_SetAttributeValue = ls_C_SetAttributeValue,                                            \
	.C_FindObjectsInit = ls_C_FindObjectsInit, .C_FindObjects = ls_C_FindObjects,             \
	.C_FindObjectsFinal = ls_C_FindObjectsFinal, .C_EncryptInit = ls_C_EncryptInit,           \
	.C_Encrypt = ls_C_Encrypt, .C_EncryptUpdate = ls_C_EncryptUpdate,                         \
	.C_EncryptFinal = ls_C_EncryptFinal, .C_DecryptInit = ls_C_DecryptInit,                   \
	.C_Decrypt = ls_C_Decrypt, .C_DecryptUpdate = ls_C_DecryptUpdate,                         \
	.C_DecryptFinal = ls_C_DecryptFinal, .C_DigestInit = ls_C_DigestInit,                     \
	.C_Digest = ls_C_Digest, .C_DigestUpdate = ls_C_DigestUpdate,                             \
	.C_DigestKey = ls_C_DigestKey, .C_DigestFinal = ls_C_DigestFinal,                         \
	.C_SignInit = ls_C_SignInit, .C_Sign = ls_C_Sign, .C_SignUpdate = ls_C_SignUpdate,        \
	.C_SignFinal = ls_C_SignFinal, .C_SignRecoverInit = ls_C_SignRecoverInit,                 \
	.C_SignRecover = ls_C_SignRecover, .C_VerifyInit = ls_C_VerifyInit,                       \
	.C_Verify = ls_C_Verify, .C_VerifyUpdate = ls_C_VerifyUpdate,                             \
	.C_VerifyFinal = ls_C_VerifyFinal, .C_VerifyRecoverInit = ls_C_VerifyRecoverInit,         \
	.C_VerifyRecover = ls_C_VerifyRecover,                                                    \
	.C_DigestEncryptUpdate = ls_C_DigestEncryptUpdate,                                        \
	.C_DecryptDigestUpdate = ls_C_DecryptDigestUpdate,                                        \
	.C_SignEncryptUpdate = ls_C_SignEncryptUpdate,                                            \
	.C_DecryptVerifyUpdate = ls_C_DecryptVerifyUpdate, .C_GenerateKey = ls_C_GenerateKey,     \
	.C_GenerateKeyPair = ls_C_GenerateKeyPair, .C_WrapKey = ls_C_WrapKey,                     \
	.C_UnwrapKey = ls_C_UnwrapKey, .C_DeriveKey = ls_C_DeriveKey,                             \
	.C_SeedRandom = ls_C_SeedRandom, .C_GenerateRandom = ls_C_GenerateRandom,                 \
	.C_GetFunctionStatus = ls_C_GetFunctionStatus,                                            \
	.C_CancelFunction = ls_C_CancelFunction, .C_WaitForSlotEvent = ls_C_WaitForSlotEvent

/* The members v3.0 adds after the v2.40 ones. */
#define LS_FUNCTIONS_3_0_ADDED \
	.C_GetInterfaceList = C_GetInterfaceList, \
	.C_GetInterface = C_GetInterface, \
	.C_LoginUser = ls_C_LoginUser, \
	.C_SessionCancel = ls_C_SessionCancel, \
	.C_MessageEncryptInit = ls_C_MessageEncryptInit, \
	.C_EncryptMessage = ls_C_EncryptMessage, \
	.C_EncryptMessageBegin = ls_C_EncryptMessageBegin, \
	.C_EncryptMessageNext = ls_C_EncryptMessageNext, \
	.C_MessageEncryptFinal = ls_C_MessageEncryptFinal, \
	.C_MessageDecryptInit = ls_C_MessageDecryptInit, \
	.C_DecryptMessage = ls_C_DecryptMessage, \
	.C_DecryptMessageBegin = ls_C_DecryptMessageBegin, \
	.C_DecryptMessageNext = ls_C_DecryptMessageNext, \
	.C_MessageDecryptFinal = ls_C_MessageDecryptFinal, \
	.C_MessageSignInit = ls_C_MessageSignInit, \
	.C_SignMessage = ls_C_SignMessage, \
	.C_SignMessageBegin = ls_C_SignMessageBegin, \
	.C_SignMessageNext = ls_C_SignMessageNext, \
	.C_MessageSignFinal = ls_C_MessageSignFinal, \
	.C_MessageVerifyInit = ls_C_MessageVerifyInit, \
	.C_VerifyMessage = ls_C_VerifyMessage, \
	.C_VerifyMessageBegin = ls_C_VerifyMessageBegin, \
	.C_VerifyMessageNext = ls_C_VerifyMessageNext, \
	.C_MessageVerifyFinal = ls_C_MessageVerifyFinal

/* C_GetInterfaceList over @interfaces (@n entries), with PKCS#11's length-query rules. */
static inline CK_RV
ls_p11_interface_list(const CK_INTERFACE *interfaces, CK_ULONG n, CK_INTERFACE_PTR list,
                      CK_ULONG_PTR count)
{
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (list == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(list, interfaces, n * sizeof(*interfaces));
	*count = n;
	return CKR_OK;
}

/*
 * C_GetInterface over @interfaces: the first entry matching @name, @version and @flags.  Without
 * a name only the "PKCS 11" interfaces are candidates (a vendor interface is asked for by name).
 */
static inline CK_RV
ls_p11_interface_find(const CK_INTERFACE *interfaces, CK_ULONG n, CK_UTF8CHAR_PTR name,
                      CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface, CK_FLAGS flags)
{
	CK_ULONG i;

	if (iface == NULL)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < n; i++) {
		const CK_INTERFACE *it = &interfaces[i];
		const CK_VERSION *v = it->pFunctionList;

		if (name != NULL && strcmp((const char *)name, (const char *)it->pInterfaceName) != 0)
			continue;
		if (name == NULL && strcmp((const char *)it->pInterfaceName, "PKCS 11") != 0)
			continue;
		if (version != NULL && (version->major != v->major || version->minor != v->minor))
			continue;
		if ((it->flags & flags) != flags)
			continue;
		*iface = (CK_INTERFACE_PTR)&interfaces[i];
		return CKR_OK;
	}
	return CKR_FUNCTION_FAILED;
}

#endif /* LS11_CORE_P11_ENTRY_H */
