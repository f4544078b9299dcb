/*
 * token/token*.c: the token's life (create, information, C_InitToken), PINs and the PIN policy
 * (length range, retry counter, COUNT_LOW/FINAL_TRY/LOCKED, persistence, unlock by the SO),
 * C_Login/C_LoginUser/C_Logout with their exact return codes, and the per-application login
 * state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>

#include "test-token-util.h"

TestSuite(login, .init = tt_setup, .fini = tt_teardown);

/* ---- the fresh token ------------------------------------------------------------------------ */

Test(login, fresh_token_is_uninitialised)
{
	CK_TOKEN_INFO info, again;
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h;
	size_t i;

	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.flags & CKF_TOKEN_INITIALIZED, 0);
	cr_assert_eq(info.flags & CKF_USER_PIN_INITIALIZED, 0);
	cr_assert_neq(info.flags & CKF_SO_PIN_TO_BE_CHANGED, 0);
	cr_assert_neq(info.flags & CKF_RNG, 0);
	cr_assert_neq(info.flags & CKF_LOGIN_REQUIRED, 0);
	cr_assert_eq(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH, 0);
	cr_assert_eq(memcmp(info.manufacturerID, "LS11CLOUD                       ", 32), 0);
	cr_assert_eq(memcmp(info.model, "LS11TOKEN       ", 16), 0);
	for (i = 0; i < 16; i++)
		cr_assert(info.serialNumber[i] != ' ' && info.serialNumber[i] != 0);
	cr_assert_eq(info.ulMinPinLen, 6);
	cr_assert_eq(info.ulMaxPinLen, 64);
	cr_assert_eq(info.ulSessionCount, 0);
	cr_assert_eq(info.ulTotalPublicMemory, CK_UNAVAILABLE_INFORMATION);
	/* A fresh token has no session to offer. */
	cr_assert_eq(ls_token_open_session(app, CKF_SERIAL_SESSION, &h), CKR_TOKEN_NOT_RECOGNIZED);

	/* The serial number is stable. */
	ls_token_app_free(app);
	tt_reopen(true);
	cr_assert_eq(ls_token_get_token_info(tt.token, &again), CKR_OK);
	cr_assert_eq(memcmp(info.serialNumber, again.serialNumber, 16), 0);
}

Test(login, two_tokens_have_different_serials)
{
	CK_TOKEN_INFO a, b;
	ls_token *other = NULL;
	uint64_t id2 = 0;

	cr_assert_eq(ls_token_create(tt.store, &id2), CKR_OK);
	cr_assert_neq(id2, tt.id);
	cr_assert_eq(ls_token_open(tt.store, id2, &tt.cfg, &other), CKR_OK);
	cr_assert_eq(ls_token_get_token_info(tt.token, &a), CKR_OK);
	cr_assert_eq(ls_token_get_token_info(other, &b), CKR_OK);
	cr_assert_neq(memcmp(a.serialNumber, b.serialNumber, 16), 0);
	ls_token_close(other);
	cr_assert_eq(ls_token_destroy(tt.store, id2), CKR_OK);
	cr_assert_eq(ls_token_open(tt.store, id2, &tt.cfg, &other), CKR_TOKEN_NOT_PRESENT);
	cr_assert_eq(ls_token_destroy(tt.store, id2), CKR_TOKEN_NOT_PRESENT);
}

Test(login, clock_on_token)
{
	CK_TOKEN_INFO info;
	size_t i;

	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_neq(info.flags & CKF_CLOCK_ON_TOKEN, 0);
	for (i = 0; i < 16; i++)
		cr_assert(info.utcTime[i] >= '0' && info.utcTime[i] <= '9');
	cr_assert_eq(memcmp(info.utcTime, "20", 2), 0);
}

/* ---- C_InitToken ---------------------------------------------------------------------------- */

Test(login, init_token_with_default_so_pin)
{
	CK_TOKEN_INFO info;
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h;

	tt_init_token("my token");
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_neq(info.flags & CKF_TOKEN_INITIALIZED, 0);
	cr_assert_eq(info.flags & CKF_USER_PIN_INITIALIZED, 0);
	cr_assert_neq(info.flags & CKF_SO_PIN_TO_BE_CHANGED, 0);
	cr_assert_eq(memcmp(info.label, "my token                        ", 32), 0);
	h = tt_session(app, false);
	cr_assert_eq(tt_state(app, h), CKS_RO_PUBLIC_SESSION);
	/* No user PIN yet. */
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
	ls_token_app_free(app);

	/* Everything persists. */
	tt_reopen(true);
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_neq(info.flags & CKF_TOKEN_INITIALIZED, 0);
	cr_assert_eq(memcmp(info.label, "my token", 8), 0);
}

Test(login, init_token_wrong_so_pin)
{
	ls_token_app *app = tt_app();
	CK_UTF8CHAR label[32];

	tt_label(label, "x");
	cr_assert_eq(ls_token_init_token(app, PIN("12345678"), label), CKR_PIN_INCORRECT);
	cr_assert_eq(tt_flags() & CKF_TOKEN_INITIALIZED, 0);
	cr_assert_neq(tt_flags() & CKF_SO_PIN_COUNT_LOW, 0);
	/* Out of the length range: refused, not counted.  NULL label: bad arguments. */
	cr_assert_eq(ls_token_init_token(app, PIN("1"), label), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_init_token(app, PIN(SO_PIN), NULL), CKR_ARGUMENTS_BAD);
	/* The right PIN resets the counter. */
	cr_assert_eq(ls_token_init_token(app, PIN(SO_PIN), label), CKR_OK);
	cr_assert_eq(tt_flags() & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY), 0);
	ls_token_app_free(app);
}

Test(login, init_token_refused_while_a_session_exists)
{
	ls_token_app *a = tt_app(), *b = tt_app();
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	tt_init_token("t");
	tt_label(label, "again");
	h = tt_session(b, false);
	/* A session of ANY application blocks it. */
	cr_assert_eq(ls_token_init_token(a, PIN(SO_PIN), label), CKR_SESSION_EXISTS);
	cr_assert_eq(ls_token_close_session(b, h), CKR_OK);
	cr_assert_eq(ls_token_init_token(a, PIN(SO_PIN), label), CKR_OK);
	ls_token_app_free(a);
	ls_token_app_free(b);
}

Test(login, so_pin_to_be_changed_until_the_so_changes_it)
{
	ls_token_app *app = tt_app();
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	tt_init_token("t");
	cr_assert_neq(tt_flags() & CKF_SO_PIN_TO_BE_CHANGED, 0);
	/* Re-initialising with the default keeps it. */
	tt_init_token("t2");
	cr_assert_neq(tt_flags() & CKF_SO_PIN_TO_BE_CHANGED, 0);

	h = tt_session(app, true);
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(tt_state(app, h), CKS_RW_SO_FUNCTIONS);
	cr_assert_eq(ls_token_set_pin(app, h, PIN(SO_PIN), PIN("so-secret-1")), CKR_OK);
	cr_assert_eq(tt_flags() & CKF_SO_PIN_TO_BE_CHANGED, 0);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN("so-secret-1")), CKR_OK);
	cr_assert_eq(ls_token_close_session(app, h), CKR_OK);

	/* The old default no longer initialises; the new SO PIN does, and the flag stays clear. */
	tt_label(label, "t3");
	cr_assert_eq(ls_token_init_token(app, PIN(SO_PIN), label), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_init_token(app, PIN("so-secret-1"), label), CKR_OK);
	cr_assert_eq(tt_flags() & CKF_SO_PIN_TO_BE_CHANGED, 0);
	ls_token_app_free(app);
	tt_reopen(true);
	cr_assert_eq(tt_flags() & CKF_SO_PIN_TO_BE_CHANGED, 0);
}

Test(login, init_pin_sets_user_pin_to_be_changed)
{
	ls_token_app *app;
	CK_SESSION_HANDLE h;

	tt_ready();
	cr_assert_neq(tt_flags() & CKF_USER_PIN_INITIALIZED, 0);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_TO_BE_CHANGED, 0);

	app = tt_app();
	h = tt_session(app, true);
	tt_login(app, h);
	cr_assert_eq(tt_state(app, h), CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(ls_token_set_pin(app, h, PIN(USER_PIN), PIN("654321")), CKR_OK);
	cr_assert_eq(tt_flags() & CKF_USER_PIN_TO_BE_CHANGED, 0);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("654321")), CKR_OK);
	ls_token_app_free(app);
}

Test(login, reinit_clears_the_user_pin)
{
	ls_token_app *app;
	CK_SESSION_HANDLE h;

	tt_ready();
	tt_init_token("again");
	cr_assert_eq(tt_flags() & CKF_USER_PIN_INITIALIZED, 0);
	cr_assert_eq(tt_flags() & CKF_USER_PIN_TO_BE_CHANGED, 0);
	app = tt_app();
	h = tt_session(app, false);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
	ls_token_app_free(app);
}

/* ---- C_InitPIN / C_SetPIN rules ------------------------------------------------------------- */

Test(login, init_pin_rules)
{
	ls_token_app *app;
	CK_SESSION_HANDLE rw, ro;

	tt_init_token("t");
	app = tt_app();
	rw = tt_session(app, true);
	/* Not the SO: CKR_USER_NOT_LOGGED_IN. */
	cr_assert_eq(ls_token_init_pin(app, rw, PIN(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_token_init_pin(app, 9999, PIN(USER_PIN)), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_OK);
	/* An R/O session cannot be opened while the SO is logged in. */
	cr_assert_eq(ls_token_open_session(app, CKF_SERIAL_SESSION, &ro),
	             CKR_SESSION_READ_WRITE_SO_EXISTS);
	/* PIN length range. */
	cr_assert_eq(ls_token_init_pin(app, rw, PIN("12345")), CKR_PIN_LEN_RANGE);
	cr_assert_eq(ls_token_init_pin(app, rw,
	                               PIN("12345678901234567890123456789012345678901234567890"
	                                   "123456789012345")),
	             CKR_PIN_LEN_RANGE);
	cr_assert_eq(ls_token_init_pin(app, rw, NULL, 6), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_init_pin(app, rw, PIN(USER_PIN)), CKR_OK);
	ls_token_app_free(app);
}

Test(login, set_pin_rules)
{
	ls_token_app *app;
	CK_SESSION_HANDLE rw, ro;

	tt_ready();
	app = tt_app();
	ro = tt_session(app, false);
	rw = tt_session(app, true);
	cr_assert_eq(ls_token_set_pin(app, ro, PIN(USER_PIN), PIN("abcdef")), CKR_SESSION_READ_ONLY);
	/* In a R/W public session, C_SetPIN changes the user PIN. */
	cr_assert_eq(tt_state(app, rw), CKS_RW_PUBLIC_SESSION);
	cr_assert_eq(ls_token_set_pin(app, rw, PIN(USER_PIN), PIN("abc")), CKR_PIN_LEN_RANGE);
	cr_assert_eq(ls_token_set_pin(app, rw, PIN("wrong-pin"), PIN("abcdef")), CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(ls_token_set_pin(app, rw, PIN(USER_PIN), PIN("abcdef")), CKR_OK);
	cr_assert_eq(tt_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(tt_state(app, rw), CKS_RW_PUBLIC_SESSION);
	cr_assert_eq(ls_token_login(app, ro, CKU_USER, PIN("abcdef")), CKR_OK);
	cr_assert_eq(tt_state(app, ro), CKS_RO_USER_FUNCTIONS);
	cr_assert_eq(tt_state(app, rw), CKS_RW_USER_FUNCTIONS);
	ls_token_app_free(app);
}

/* ---- C_Login / C_Logout --------------------------------------------------------------------- */

Test(login, login_return_codes)
{
	ls_token_app *app;
	CK_SESSION_HANDLE ro, rw;

	tt_ready();
	app = tt_app();
	ro = tt_session(app, false);
	rw = tt_session(app, true);

	cr_assert_eq(ls_token_login(app, 777, CKU_USER, PIN(USER_PIN)), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_login(app, ro, 7, PIN(USER_PIN)), CKR_USER_TYPE_INVALID);
	cr_assert_eq(ls_token_login(app, ro, CKU_USER, NULL, 6), CKR_ARGUMENTS_BAD);
	/* The SO cannot log in while the application has a R/O session. */
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
	/* No operation waits for a context-specific login. */
	cr_assert_eq(ls_token_login(app, ro, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)),
	             CKR_OPERATION_NOT_INITIALIZED);

	cr_assert_eq(ls_token_logout(app, ro), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_token_login(app, ro, CKU_USER, PIN(USER_PIN)), CKR_OK);
	cr_assert_eq(ls_token_login(app, rw, CKU_USER, PIN(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	cr_assert_eq(tt_state(app, ro), CKS_RO_USER_FUNCTIONS);
	cr_assert_eq(tt_state(app, rw), CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(ls_token_logout(app, rw), CKR_OK);
	cr_assert_eq(ls_token_logout(app, rw), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(tt_state(app, ro), CKS_RO_PUBLIC_SESSION);

	/* The SO, after the R/O session is gone. */
	cr_assert_eq(ls_token_close_session(app, ro), CKR_OK);
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(ls_token_login(app, rw, CKU_USER, PIN(USER_PIN)),
	             CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_USER_ALREADY_LOGGED_IN);
	cr_assert_eq(tt_state(app, rw), CKS_RW_SO_FUNCTIONS);
	ls_token_app_free(app);
}

Test(login, login_user_v3)
{
	ls_token_app *app;
	CK_SESSION_HANDLE h;

	tt_ready();
	app = tt_app();
	h = tt_session(app, false);
	cr_assert_eq(ls_token_login_user(app, h, CKU_USER, PIN(USER_PIN), (CK_UTF8CHAR *)"bob", 3),
	             CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_login_user(app, h, CKU_USER, PIN(USER_PIN), NULL, 3),
	             CKR_ARGUMENTS_BAD);
	cr_assert_eq(tt_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(ls_token_login_user(app, 4242, CKU_USER, PIN(USER_PIN), NULL, 0),
	             CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_login_user(app, h, CKU_USER, PIN(USER_PIN), NULL, 0), CKR_OK);
	cr_assert_eq(tt_state(app, h), CKS_RO_USER_FUNCTIONS);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	cr_assert_eq(ls_token_login_user(app, h, CKU_USER, PIN(USER_PIN), (CK_UTF8CHAR *)"", 0),
	             CKR_OK);
	ls_token_app_free(app);
}

Test(login, closing_the_last_session_logs_out)
{
	ls_token_app *app;
	CK_SESSION_HANDLE a, b;

	tt_ready();
	app = tt_app();
	a = tt_session(app, false);
	b = tt_session(app, false);
	tt_login(app, a);
	cr_assert_eq(ls_token_close_session(app, a), CKR_OK);
	cr_assert_eq(tt_state(app, b), CKS_RO_USER_FUNCTIONS);
	cr_assert_eq(ls_token_close_session(app, b), CKR_OK);
	a = tt_session(app, false);
	cr_assert_eq(tt_state(app, a), CKS_RO_PUBLIC_SESSION);
	tt_login(app, a);
	cr_assert_eq(ls_token_close_all_sessions(app), CKR_OK);
	a = tt_session(app, true);
	cr_assert_eq(tt_state(app, a), CKS_RW_PUBLIC_SESSION);
	ls_token_app_free(app);
}

/* ---- the retry counter ---------------------------------------------------------------------- */

Test(login, user_lockout_flags_and_persistence)
{
	ls_token_app *app;
	CK_SESSION_HANDLE h;
	CK_FLAGS f;
	int i;

	tt_ready();
	app = tt_app();
	h = tt_session(app, false);

	cr_assert_eq(tt_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
	                           CKF_USER_PIN_LOCKED), 0);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	f = tt_flags();
	cr_assert_neq(f & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(f & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);
	/* A PIN outside the length range cannot be the PIN: refused without being counted. */
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("12")), CKR_PIN_INCORRECT);
	for (i = 2; i <= 5; i++)
		cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);

	/* The counter survives closing the token and the store. */
	ls_token_app_free(app);
	tt_reopen(true);
	app = tt_app();
	h = tt_session(app, false);
	f = tt_flags();
	cr_assert_neq(f & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(f & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);

	for (i = 6; i <= 9; i++)
		cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	/* Nine failures: one attempt remains. */
	f = tt_flags();
	cr_assert_neq(f & CKF_USER_PIN_FINAL_TRY, 0);
	cr_assert_eq(f & CKF_USER_PIN_LOCKED, 0);
	/* The tenth locks the PIN; from then on even the right PIN is refused. */
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	f = tt_flags();
	cr_assert_neq(f & CKF_USER_PIN_LOCKED, 0);
	cr_assert_eq(f & CKF_USER_PIN_FINAL_TRY, 0);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_PIN_LOCKED);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("000000")), CKR_PIN_LOCKED);
	cr_assert_eq(tt_state(app, h), CKS_RO_PUBLIC_SESSION);
	ls_token_app_free(app);

	tt_reopen(true);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_LOCKED, 0);
	app = tt_app();
	h = tt_session(app, true);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_PIN_LOCKED);
	/* C_SetPIN with the locked PIN is refused too. */
	cr_assert_eq(ls_token_set_pin(app, h, PIN(USER_PIN), PIN("abcdef")), CKR_PIN_LOCKED);

	/* The SO unlocks the user with C_InitPIN. */
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(ls_token_init_pin(app, h, PIN("fresh-pin")), CKR_OK);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	f = tt_flags();
	cr_assert_eq(f & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY),
	             0);
	cr_assert_neq(f & CKF_USER_PIN_TO_BE_CHANGED, 0);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("fresh-pin")), CKR_OK);
	ls_token_app_free(app);
}

Test(login, success_resets_the_counter)
{
	ls_token_app *app;
	CK_SESSION_HANDLE h;
	int i;

	tt_ready();
	app = tt_app();
	h = tt_session(app, false);
	for (i = 0; i < 9; i++)
		cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("999999")), CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_FINAL_TRY, 0);
	tt_login(app, h);
	cr_assert_eq(tt_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY), 0);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	/* Nine more failures are allowed again. */
	for (i = 0; i < 9; i++)
		cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("999999")), CKR_PIN_INCORRECT);
	tt_login(app, h);
	ls_token_app_free(app);
}

Test(login, so_lockout)
{
	ls_token_app *app = tt_app();
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;
	int i;

	tt_init_token("t");
	h = tt_session(app, true);
	for (i = 0; i < 9; i++)
		cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN("11111111")), CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_SO_PIN_FINAL_TRY, 0);
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN("11111111")), CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_SO_PIN_LOCKED, 0);
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_PIN_LOCKED);
	cr_assert_eq(ls_token_close_session(app, h), CKR_OK);
	tt_label(label, "t");
	cr_assert_eq(ls_token_init_token(app, PIN(SO_PIN), label), CKR_PIN_LOCKED);
	ls_token_app_free(app);
}

Test(login, custom_policy)
{
	ls_token_config cfg = tt_config();
	ls_token_app *app;
	CK_TOKEN_INFO info;
	CK_SESSION_HANDLE h;

	cfg.max_pin_failures = 3;
	cfg.pin_min_len = 4;
	cfg.pin_max_len = 8;
	cfg.model = "CUSTOM";
	ls_token_close(tt.token);
	tt.cfg = cfg;
	tt_open_token();
	tt_ready();
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.ulMinPinLen, 4);
	cr_assert_eq(info.ulMaxPinLen, 8);
	cr_assert_eq(memcmp(info.model, "CUSTOM          ", 16), 0);
	app = tt_app();
	h = tt_session(app, false);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_FINAL_TRY, 0);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_PIN_LOCKED);
	ls_token_app_free(app);
}

/* ---- applications are separate -------------------------------------------------------------- */

Test(login, login_state_is_per_application)
{
	ls_token_app *a, *b;
	CK_SESSION_HANDLE ha, hb;

	tt_ready();
	a = tt_app();
	b = tt_app();
	ha = tt_session(a, true);
	tt_session(b, true);
	tt_session(b, true);
	hb = tt_session(b, true);
	/* Handles come from per-application counters: B's third handle is unknown to A. */
	cr_assert_neq(ha, hb);
	tt_login(a, ha);
	cr_assert_eq(tt_state(a, ha), CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(tt_state(b, hb), CKS_RW_PUBLIC_SESSION);

	/* A wrong PIN in B logs nobody in, and A stays logged in. */
	cr_assert_eq(ls_token_login(b, hb, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	cr_assert_eq(tt_state(b, hb), CKS_RW_PUBLIC_SESSION);
	cr_assert_eq(tt_state(a, ha), CKS_RW_USER_FUNCTIONS);
	/* B's logout is B's. */
	cr_assert_eq(ls_token_logout(b, hb), CKR_USER_NOT_LOGGED_IN);
	/* B may be the SO while A is the user. */
	cr_assert_eq(ls_token_login(b, hb, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(tt_state(b, hb), CKS_RW_SO_FUNCTIONS);
	cr_assert_eq(tt_state(a, ha), CKS_RW_USER_FUNCTIONS);
	/* Handles do not cross applications. */
	cr_assert_eq(ls_token_logout(a, hb), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_close_session(a, hb), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_logout(a, ha), CKR_OK);
	cr_assert_eq(tt_state(b, hb), CKS_RW_SO_FUNCTIONS);
	ls_token_app_free(a);
	ls_token_app_free(b);
}

Test(login, login_strengthens_a_weak_wrap)
{
	ls_token_config cfg = tt_config();
	ls_store_token rec;
	ls_store_txn *txn;
	ls_token_app *app;
	CK_SESSION_HANDLE h;
	uint32_t it = 0;

	tt_ready(); /* wraps made with LS_PROTECT_MIN_ITERATIONS */
	cfg.pbkdf2_iterations = 2 * LS_PROTECT_MIN_ITERATIONS;
	ls_token_close(tt.token);
	tt.cfg = cfg;
	tt_open_token();
	app = tt_app();
	h = tt_session(app, false);
	tt_login(app, h);
	cr_assert_eq(ls_store_begin(tt.store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, tt.id, &rec), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(ls_protect_wrap_iterations(rec.user_wrap, rec.user_wrap_len, &it), LS_OK);
	cr_assert_eq(it, 2 * LS_PROTECT_MIN_ITERATIONS);
	cr_assert_eq(ls_protect_wrap_iterations(rec.so_wrap, rec.so_wrap_len, &it), LS_OK);
	cr_assert_eq(it, LS_PROTECT_MIN_ITERATIONS);
	/* The same PIN still works. */
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	tt_login(app, h);
	ls_token_app_free(app);
}
