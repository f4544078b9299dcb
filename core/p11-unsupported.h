/*
 * LS11CLOUD - the PKCS#11 functions both modules answer with CKR_FUNCTION_NOT_SUPPORTED: the
 * dual-function updates (v2.40) and the message-based functions (v3.0).  docs/local-module.md
 * and docs/client-module.md say why.
 *
 * Included once by each module's module.c, after that file defines
 *     static CK_RV unsupported(void);
 * (which checks that the library is initialised, so an application that has not called
 * C_Initialize gets CKR_CRYPTOKI_NOT_INITIALIZED as everywhere else).  The function lists of
 * core/p11-entry.h name these ls_C_* functions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_P11_UNSUPPORTED_H
#define LS11_CORE_P11_UNSUPPORTED_H

static CK_RV
ls_C_DigestEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_DecryptDigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_SignEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_MessageEncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	return unsupported();
}

static CK_RV
ls_C_EncryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR ad,
                    CK_ULONG ad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_EncryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                         CK_BYTE_PTR ad, CK_ULONG ad_len)
{
	return unsupported();
}

static CK_RV
ls_C_EncryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                        CK_FLAGS flags)
{
	return unsupported();
}

static CK_RV
ls_C_MessageEncryptFinal(CK_SESSION_HANDLE h)
{
	return unsupported();
}

static CK_RV
ls_C_MessageDecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	return unsupported();
}

static CK_RV
ls_C_DecryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR ad,
                    CK_ULONG ad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
	return unsupported();
}

static CK_RV
ls_C_DecryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                         CK_BYTE_PTR ad, CK_ULONG ad_len)
{
	return unsupported();
}

static CK_RV
ls_C_DecryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                        CK_FLAGS flags)
{
	return unsupported();
}

static CK_RV
ls_C_MessageDecryptFinal(CK_SESSION_HANDLE h)
{
	return unsupported();
}

static CK_RV
ls_C_MessageSignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	return unsupported();
}

static CK_RV
ls_C_SignMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                 CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	return unsupported();
}

static CK_RV
ls_C_SignMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len)
{
	return unsupported();
}

static CK_RV
ls_C_SignMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                     CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	return unsupported();
}

static CK_RV
ls_C_MessageSignFinal(CK_SESSION_HANDLE h)
{
	return unsupported();
}

static CK_RV
ls_C_MessageVerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	return unsupported();
}

static CK_RV
ls_C_VerifyMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                   CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	return unsupported();
}

static CK_RV
ls_C_VerifyMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len)
{
	return unsupported();
}

static CK_RV
ls_C_VerifyMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                       CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	return unsupported();
}

static CK_RV
ls_C_MessageVerifyFinal(CK_SESSION_HANDLE h)
{
	return unsupported();
}

#endif /* LS11_CORE_P11_UNSUPPORTED_H */
