/*
 * core/pkcs11x.h: every TC26 constant against the reference table (values typed in from
 * shared/reference/gost-pkcs11.md 1.1 and 1.2, "Current (2012/2018 TC26) numbering"), the v3.0
 * constants, the corrected v2.40 return values, the GOST parameter structures, and the layout of
 * CK_FUNCTION_LIST_3_0 against the order of the PKCS#11 v3.0 specification.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "pkcs11x.h"

struct constant {
	const char *name;
	CK_ULONG got;
	CK_ULONG want;
};

#define C(name, value) { #name, (CK_ULONG)(name), (CK_ULONG)(value) }

static void
check_table(const struct constant *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(t[i].got, t[i].want, "%s is 0x%lx, the table says 0x%lx", t[i].name,
		             t[i].got, t[i].want);
}

#define CHECK_TABLE(t) check_table((t), sizeof(t) / sizeof((t)[0]))

Test(pkcs11x, tc26_vendor_block_2018_numbering)
{
	static const struct constant t[] = {
		C(CK_VENDOR_PKCS11_RU_TEAM_TC26, 0xD4321000),
		C(CK_VENDOR_PKCS11_RU_TEAM_TK26, 0xD4321000),
		C(NSSCK_VENDOR_PKCS11_RU_TEAM, 0xD4321000),
		C(CKK_GOSTR3410_512, 0xD4321003),
		C(CKK_KUZNYECHIK, 0xD4321004),
		C(CKK_KUZNECHIK, 0xD4321004),
		C(CKK_MAGMA, 0xD4321005),
		C(CKK_KUZNYECHIK_TWIN_KEY, 0xD4321006),
		C(CKK_MAGMA_TWIN_KEY, 0xD4321007),
		C(CKP_PKCS5_PBKD2_HMAC_GOSTR3411_2012_512, 0xD4321003),
		C(CKM_GOSTR3410_512_KEY_PAIR_GEN, 0xD4321005),
		C(CKM_GOSTR3410_512, 0xD4321006),
		C(CKM_GOSTR3410_12_DERIVE, 0xD4321007),
		C(CKM_GOSTR3410_2012_DERIVE, 0xD4321007),
		C(CKM_GOSTR3410_WITH_GOSTR3411_12_256, 0xD4321008),
		C(CKM_GOSTR3410_WITH_GOSTR3411_2012_256, 0xD4321008),
		C(CKM_GOSTR3410_WITH_GOSTR3411_12_512, 0xD4321009),
		C(CKM_GOSTR3410_WITH_GOSTR3411_2012_512, 0xD4321009),
		C(CKM_GOSTR3410_PUBLIC_KEY_DERIVE, 0xD432100A),
		C(CKM_GOSTR3410_512_PUBLIC_KEY_DERIVE, 0xD432100B),
		C(CKM_GOSTR3411_12_256, 0xD4321012),
		C(CKM_GOSTR3411_2012_256, 0xD4321012),
		C(CKM_GOSTR3411_12_512, 0xD4321013),
		C(CKM_GOSTR3411_12_256_HMAC, 0xD4321014),
		C(CKM_GOSTR3411_12_512_HMAC, 0xD4321015),
		C(CKM_TLS_GOST_PRF_2012_256, 0xD4321016),
		C(CKM_TLS_GOST_PRF_2012_512, 0xD4321017),
		C(CKM_TLS_GOST_MASTER_KEY_DERIVE_2012_256, 0xD4321018),
		C(CKM_TLS_GOST_PRE_MASTER_KEY_GEN, 0x00001220),
		C(CKM_KDF_4357, 0xD4321025),
		C(CKD_KDF_4357, 0xD4321025),
		C(CKM_KDF_GOSTR3411_2012_256, 0xD4321026),
		C(CKD_KDF_GOSTR3411_2012_256, 0xD4321026),
		C(CKM_KDF_HMAC3411_2012_256, 0xD4321028),
		C(CKM_KDF_TREE_GOSTR3411_2012_256, 0xD432102A),
		C(CKM_KUZNYECHIK_KEXP_15_WRAP, 0xD432102B),
		C(CKM_MAGMA_KEXP_15_WRAP, 0xD432102C),
		C(CKM_KUZNYECHIK_MGM, 0xD432102D),
		C(CKM_MAGMA_MGM, 0xD432102E),
		C(CKM_KUZNYECHIK_KEY_GEN, 0xD4321030),
		C(CKM_KUZNYECHIK_ECB, 0xD4321031),
		C(CKM_KUZNYECHIK_CTR_ACPKM, 0xD4321032),
		C(CKM_KUZNYECHIK_MAC, 0xD4321033),
		C(CKM_MAGMA_KEY_GEN, 0xD4321034),
		C(CKM_MAGMA_ECB, 0xD4321035),
		C(CKM_MAGMA_CTR_ACPKM, 0xD4321036),
		C(CKM_MAGMA_MAC, 0xD4321037),
		C(CKM_VKO_GOSTR3410_2012_512, 0xD4321038),
		C(CKM_GOST_KEG, 0xD4321039),
	};

	CHECK_TABLE(t);
}

/* Section 1.1: the standard values come from p11-kit; they must still be what the table says. */
Test(pkcs11x, standard_gost_values_from_p11kit)
{
	static const struct constant t[] = {
		C(CKK_GOSTR3410, 0x30),
		C(CKK_GOSTR3411, 0x31),
		C(CKK_GOST28147, 0x32),
		C(CKA_GOSTR3410_PARAMS, 0x250),
		C(CKA_GOSTR3411_PARAMS, 0x251),
		C(CKA_GOST28147_PARAMS, 0x252),
		C(CKM_GOSTR3410_KEY_PAIR_GEN, 0x1200),
		C(CKM_GOSTR3410, 0x1201),
		C(CKM_GOSTR3410_WITH_GOSTR3411, 0x1202),
		C(CKM_GOSTR3410_KEY_WRAP, 0x1203),
		C(CKM_GOSTR3410_DERIVE, 0x1204),
		C(CKM_GOSTR3411, 0x1210),
		C(CKM_GOSTR3411_HMAC, 0x1211),
		C(CKM_GOST28147_KEY_GEN, 0x1220),
		C(CKM_GOST28147_ECB, 0x1221),
		C(CKM_GOST28147, 0x1222),
		C(CKM_GOST28147_MAC, 0x1223),
		C(CKM_GOST28147_KEY_WRAP, 0x1224),
		C(CKP_PKCS5_PBKD2_HMAC_GOSTR3411, 0x2),
		C(CKD_NULL, 0x1),
		C(CKD_CPDIVERSIFY_KDF, 0x9),
	};

	CHECK_TABLE(t);
}

Test(pkcs11x, v3_0_constants)
{
	static const struct constant t[] = {
		C(CKU_SO, 0),
		C(CKU_USER, 1),
		C(CKU_CONTEXT_SPECIFIC, 2),
		C(CKA_UNIQUE_ID, 0x4),
		C(CKO_PROFILE, 0x9),
		C(CKA_PROFILE_ID, 0x601),
		C(CKP_INVALID_ID, 0),
		C(CKP_BASELINE_PROVIDER, 1),
		C(CKP_EXTENDED_PROVIDER, 2),
		C(CKP_AUTHENTICATION_TOKEN, 3),
		C(CKP_PUBLIC_CERTIFICATES_TOKEN, 4),
		C(CKP_VENDOR_DEFINED, 0x80000000),
		C(CKF_MESSAGE_ENCRYPT, 0x2),
		C(CKF_MESSAGE_DECRYPT, 0x4),
		C(CKF_MESSAGE_SIGN, 0x8),
		C(CKF_MESSAGE_VERIFY, 0x10),
		C(CKF_MULTI_MESSAGE, 0x20),
		C(CKF_FIND_OBJECTS, 0x40),
		C(CKF_END_OF_MESSAGE, 0x1),
		C(CKF_INTERFACE_FORK_SAFE, 0x1),
		C(CKR_TOKEN_RESOURCE_EXCEEDED, 0x201),
		C(CKR_OPERATION_CANCEL_FAILED, 0x202),
		C(CKR_FUNCTION_REJECTED, 0x200),
	};

	CHECK_TABLE(t);
}

/* p11-kit 0.24 has 0x1C0..0x1C4 here; every other header (OASIS, NSS, OpenSC) has these. */
Test(pkcs11x, corrected_v2_40_return_values)
{
	static const struct constant t[] = {
		C(CKR_NEW_PIN_MODE, 0x1B0),
		C(CKR_NEXT_OTP, 0x1B1),
		C(CKR_EXCEEDED_MAX_ITERATIONS, 0x1B5),
		C(CKR_FIPS_SELF_TEST_FAILED, 0x1B6),
		C(CKR_LIBRARY_LOAD_FAILED, 0x1B7),
		C(CKR_PIN_TOO_WEAK, 0x1B8),
		C(CKR_PUBLIC_KEY_INVALID, 0x1B9),
	};

	CHECK_TABLE(t);
}

/* ---- structures ---------------------------------------------------------------------------- */

#define FIELD_AFTER(type, a, b) (offsetof(type, a) < offsetof(type, b))

Test(pkcs11x, gost_parameter_structures_field_order)
{
	/* gost-pkcs11.md 1.1 and 1.2 (Aktiv): the order of the fields as the table gives it. */
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, ulLabelLength, pLabel));
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, pLabel, ulSeedLength));
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, ulSeedLength, pSeed));
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, pSeed, ulR));
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, ulR, ulL));
	cr_assert(FIELD_AFTER(CK_KDF_TREE_GOST_PARAMS, ulL, ulOffset));
	cr_assert_eq(offsetof(CK_KDF_TREE_GOST_PARAMS, ulLabelLength), 0);
	cr_assert_eq(sizeof(CK_KDF_TREE_GOST_PARAMS), 7 * sizeof(void *));

	cr_assert_eq(offsetof(CK_VENDOR_GOST_KEG_PARAMS, pPublicData), 0);
	cr_assert(FIELD_AFTER(CK_VENDOR_GOST_KEG_PARAMS, pPublicData, ulPublicDataLen));
	cr_assert(FIELD_AFTER(CK_VENDOR_GOST_KEG_PARAMS, ulPublicDataLen, pUKM));
	cr_assert(FIELD_AFTER(CK_VENDOR_GOST_KEG_PARAMS, pUKM, ulUKMLen));
	cr_assert_eq(sizeof(CK_VENDOR_GOST_KEG_PARAMS), 4 * sizeof(void *));

	cr_assert_eq(offsetof(CK_GOSTR3410_DERIVE_PARAMS, kdf), 0);
	cr_assert(FIELD_AFTER(CK_GOSTR3410_DERIVE_PARAMS, kdf, pPublicData));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_DERIVE_PARAMS, pPublicData, ulPublicDataLen));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_DERIVE_PARAMS, ulPublicDataLen, pUKM));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_DERIVE_PARAMS, pUKM, ulUKMLen));
	cr_assert_eq(sizeof(CK_GOSTR3410_DERIVE_PARAMS), 5 * sizeof(void *));

	cr_assert_eq(offsetof(CK_GOSTR3410_KEY_WRAP_PARAMS, pWrapOID), 0);
	cr_assert(FIELD_AFTER(CK_GOSTR3410_KEY_WRAP_PARAMS, pWrapOID, ulWrapOIDLen));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_KEY_WRAP_PARAMS, ulWrapOIDLen, pUKM));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_KEY_WRAP_PARAMS, pUKM, ulUKMLen));
	cr_assert(FIELD_AFTER(CK_GOSTR3410_KEY_WRAP_PARAMS, ulUKMLen, hKey));
	cr_assert_eq(sizeof(CK_GOSTR3410_KEY_WRAP_PARAMS), 5 * sizeof(void *));

	cr_assert_eq(offsetof(CK_INTERFACE, pInterfaceName), 0);
	cr_assert(FIELD_AFTER(CK_INTERFACE, pInterfaceName, pFunctionList));
	cr_assert(FIELD_AFTER(CK_INTERFACE, pFunctionList, flags));
}

/* ---- the v3.0 function list -------------------------------------------------------------- */

/* The members of CK_FUNCTION_LIST_3_0 in the order of the PKCS#11 v3.0 specification. */
#define V2_40_FUNCTIONS(X)                                                                        \
	X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList)          \
	X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo)            \
	X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession)                \
	X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState)   \
	X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject)               \
	X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit)     \
	X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)   \
	X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal)      \
	X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal)             \
	X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit)               \
	X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal)           \
	X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate)                        \
	X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate)                  \
	X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey)          \
	X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction)            \
	X(C_WaitForSlotEvent)

#define V3_0_FUNCTIONS(X)                                                                         \
	X(C_GetInterfaceList) X(C_GetInterface) X(C_LoginUser) X(C_SessionCancel)                 \
	X(C_MessageEncryptInit) X(C_EncryptMessage) X(C_EncryptMessageBegin)                      \
	X(C_EncryptMessageNext) X(C_MessageEncryptFinal) X(C_MessageDecryptInit)                  \
	X(C_DecryptMessage) X(C_DecryptMessageBegin) X(C_DecryptMessageNext)                      \
	X(C_MessageDecryptFinal) X(C_MessageSignInit) X(C_SignMessage) X(C_SignMessageBegin)      \
	X(C_SignMessageNext) X(C_MessageSignFinal) X(C_MessageVerifyInit) X(C_VerifyMessage)      \
	X(C_VerifyMessageBegin) X(C_VerifyMessageNext) X(C_MessageVerifyFinal)

struct member {
	const char *name;
	size_t offset;
};

#define MEMBER_3_0(f) { #f, offsetof(CK_FUNCTION_LIST_3_0, f) },
#define MEMBER_2_40(f) { #f, offsetof(CK_FUNCTION_LIST, f) },

Test(pkcs11x, function_list_3_0_in_specification_order)
{
	static const struct member v3[] = {
		V2_40_FUNCTIONS(MEMBER_3_0) V3_0_FUNCTIONS(MEMBER_3_0)
	};
	static const struct member v2[] = { V2_40_FUNCTIONS(MEMBER_2_40) };
	const size_t n3 = sizeof(v3) / sizeof(v3[0]), n2 = sizeof(v2) / sizeof(v2[0]);
	const size_t fp = sizeof(CK_C_Initialize);

	cr_assert_eq(n2, 68, "PKCS#11 v2.40 has 68 functions in its list");
	cr_assert_eq(n3, 68 + 24, "v3.0 adds 24");
	cr_assert_eq(offsetof(CK_FUNCTION_LIST_3_0, version), 0);
	cr_assert_eq(v3[0].offset, offsetof(CK_FUNCTION_LIST, C_Initialize),
	             "the functions start where they start in a v2.40 list");

	/* Each member directly follows the previous one: nothing missing, nothing reordered. */
	for (size_t i = 0; i < n3; i++)
		cr_expect_eq(v3[i].offset, v3[0].offset + i * fp, "%s at %zu, expected %zu",
		             v3[i].name, v3[i].offset, v3[0].offset + i * fp);
	cr_assert_eq(sizeof(CK_FUNCTION_LIST_3_0), v3[0].offset + n3 * fp,
	             "nothing after the last");

	/* The v2.40 prefix is ABI-identical to p11-kit's CK_FUNCTION_LIST. */
	for (size_t i = 0; i < n2; i++) {
		cr_expect_str_eq(v3[i].name, v2[i].name);
		cr_expect_eq(v3[i].offset, v2[i].offset, "%s differs from CK_FUNCTION_LIST",
		             v2[i].name);
	}
	cr_assert_eq(sizeof(CK_FUNCTION_LIST), v3[n2].offset, "v3.0 members start right after");
	cr_assert_eq(v3[n2].offset, offsetof(CK_FUNCTION_LIST_3_0, C_GetInterfaceList));
	cr_assert_eq(v3[n3 - 1].offset, offsetof(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal));
}

/*
 * The prototypes as the specification writes them.  Assigning each to the header's function
 * pointer type fails the build (-Werror=incompatible-pointer-types) if a parameter is wrong.
 */
static CK_RV
get_interface_list(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
	(void)list;
	*count = 1;
	return CKR_OK;
}

static CK_RV
get_interface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface,
              CK_FLAGS flags)
{
	(void)name;
	(void)version;
	(void)iface;
	return flags == CKF_INTERFACE_FORK_SAFE ? CKR_OK : CKR_ARGUMENTS_BAD;
}

static CK_RV
login_user(CK_SESSION_HANDLE s, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
           CK_UTF8CHAR_PTR user, CK_ULONG user_len)
{
	(void)s;
	(void)pin;
	(void)user;
	return type == CKU_USER && pin_len == 4 && user_len == 5 ? CKR_OK : CKR_PIN_INCORRECT;
}

static CK_RV
session_cancel(CK_SESSION_HANDLE s, CK_FLAGS flags)
{
	(void)s;
	return flags & CKF_MESSAGE_SIGN ? CKR_OK : CKR_OPERATION_CANCEL_FAILED;
}

static CK_RV
encrypt_message(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                CK_ULONG aad_len, CK_BYTE_PTR pt, CK_ULONG pt_len, CK_BYTE_PTR ct,
                CK_ULONG_PTR ct_len)
{
	(void)s;
	(void)param;
	(void)param_len;
	(void)aad;
	(void)aad_len;
	(void)pt;
	(void)ct;
	*ct_len = pt_len;
	return CKR_OK;
}

static CK_RV
encrypt_message_next(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR pt,
                     CK_ULONG pt_len, CK_BYTE_PTR ct, CK_ULONG_PTR ct_len, CK_FLAGS flags)
{
	(void)s;
	(void)param;
	(void)param_len;
	(void)pt;
	(void)ct;
	*ct_len = flags & CKF_END_OF_MESSAGE ? pt_len : 0;
	return CKR_OK;
}

static CK_RV
verify_message(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
               CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	(void)s;
	(void)param;
	(void)param_len;
	(void)data;
	(void)sig;
	return data_len == sig_len ? CKR_OK : CKR_SIGNATURE_INVALID;
}

static CK_RV
session_only(CK_SESSION_HANDLE s)
{
	return s != 0 ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

static CK_RV
message_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	(void)mech;
	return s == 1 && key == 2 ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_RV
message_begin_aad(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                  CK_ULONG aad_len)
{
	(void)s;
	(void)param;
	(void)param_len;
	(void)aad;
	return aad_len == 5 ? CKR_OK : CKR_ARGUMENTS_BAD;
}

static CK_RV
message_begin(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len)
{
	(void)s;
	(void)param;
	return param_len == 3 ? CKR_OK : CKR_ARGUMENTS_BAD;
}

static CK_RV
sign_message(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
             CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	(void)s;
	(void)param;
	(void)param_len;
	(void)data;
	(void)data_len;
	(void)sig;
	*sig_len = 64;
	return CKR_OK;
}

Test(pkcs11x, v3_0_prototypes_match_the_specification)
{
	CK_FUNCTION_LIST_3_0 list;
	CK_UTF8CHAR pin[] = "1234", user[] = "alice";
	CK_ULONG n = 0;

	memset(&list, 0, sizeof(list));
	list.version.major = 3;
	list.version.minor = 0;
	list.C_GetInterfaceList = get_interface_list;
	list.C_GetInterface = get_interface;
	list.C_LoginUser = login_user;
	list.C_SessionCancel = session_cancel;
	list.C_EncryptMessage = encrypt_message;
	list.C_DecryptMessage = encrypt_message;
	list.C_EncryptMessageNext = encrypt_message_next;
	list.C_DecryptMessageNext = encrypt_message_next;
	list.C_VerifyMessage = verify_message;
	list.C_VerifyMessageNext = verify_message;
	list.C_MessageEncryptFinal = session_only;
	list.C_MessageDecryptFinal = session_only;
	list.C_MessageSignFinal = session_only;
	list.C_MessageVerifyFinal = session_only;

	cr_assert_eq(list.C_GetInterfaceList(NULL, &n), CKR_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(list.C_GetInterface(NULL, NULL, NULL, CKF_INTERFACE_FORK_SAFE), CKR_OK);
	cr_assert_eq(list.C_LoginUser(1, CKU_USER, pin, 4, user, 5), CKR_OK);
	cr_assert_eq(list.C_SessionCancel(1, CKF_MESSAGE_SIGN), CKR_OK);
	cr_assert_eq(list.C_EncryptMessage(1, NULL, 0, NULL, 0, NULL, 7, NULL, &n), CKR_OK);
	cr_assert_eq(n, 7);
	cr_assert_eq(list.C_EncryptMessageNext(1, NULL, 0, NULL, 9, NULL, &n, CKF_END_OF_MESSAGE),
	             CKR_OK);
	cr_assert_eq(n, 9);
	cr_assert_eq(list.C_VerifyMessage(1, NULL, 0, NULL, 3, NULL, 4), CKR_SIGNATURE_INVALID);
	cr_assert_eq(list.C_MessageVerifyFinal(0), CKR_SESSION_HANDLE_INVALID);

	list.C_MessageEncryptInit = message_init;
	list.C_MessageDecryptInit = message_init;
	list.C_MessageSignInit = message_init;
	list.C_MessageVerifyInit = message_init;
	list.C_EncryptMessageBegin = message_begin_aad;
	list.C_DecryptMessageBegin = message_begin_aad;
	list.C_SignMessageBegin = message_begin;
	list.C_VerifyMessageBegin = message_begin;
	list.C_SignMessage = sign_message;
	list.C_SignMessageNext = sign_message;
	cr_assert_eq(list.C_MessageSignInit(1, NULL, 2), CKR_OK);
	cr_assert_eq(list.C_EncryptMessageBegin(1, NULL, 0, NULL, 5), CKR_OK);
	cr_assert_eq(list.C_VerifyMessageBegin(1, NULL, 3), CKR_OK);
	cr_assert_eq(list.C_SignMessage(1, NULL, 0, NULL, 3, NULL, &n), CKR_OK);
	cr_assert_eq(n, 64);

	/* A v3.0 list read through the v2.40 type sees the same functions. */
	CK_FUNCTION_LIST *v2 = (CK_FUNCTION_LIST *)&list;
	cr_assert_eq(v2->version.major, 3);
	cr_assert_null(v2->C_WaitForSlotEvent);
}

/* p11-kit's field-name macros must not leak: they would rename fields of our own structures. */
Test(header, no_field_name_macros)
{
#if defined(iv_len) || defined(aad_len) || defined(public_data_len) || defined(tag_bits)
	cr_assert_fail("a p11-kit field-name macro is still defined after pkcs11x.h");
#endif
	struct { size_t iv_len, aad_len; } s = { 1, 2 };
	cr_assert_eq(s.iv_len + s.aad_len, 3);
}
