/*
 * Helpers shared by the token engine tests (tests/token/test-token-*.c): a temporary SQLite
 * store with one fresh token opened with a fast PBKDF2 count, and short-hands for the usual
 * set-up steps.  Header-only so each test program stays one file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TEST_TOKEN_UTIL_H
#define LS11_TEST_TOKEN_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protect.h"
#include "store-sqlite.h"
#include "token.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"
#define PIN(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)

static struct {
	char dir[64];
	char path[128];
	ls_store *store;
	uint64_t id;
	ls_token *token;
	ls_token_config cfg;
} tt;

static inline ls_token_config
tt_config(void)
{
	ls_token_config cfg;

	ls_token_config_init(&cfg);
	cfg.pbkdf2_iterations = LS_PROTECT_MIN_ITERATIONS; /* tests: ~4 ms per PIN check */
	return cfg;
}

static inline void
tt_open_token(void)
{
	cr_assert_eq(ls_token_open(tt.store, tt.id, &tt.cfg, &tt.token), CKR_OK);
}

/* A new store and a fresh token, opened with @cfg (NULL: tt_config()). */
static inline void
tt_setup_with(const ls_token_config *cfg)
{
	snprintf(tt.dir, sizeof(tt.dir), "/tmp/ls11-token-XXXXXX");
	cr_assert_not_null(mkdtemp(tt.dir));
	snprintf(tt.path, sizeof(tt.path), "%s/token.db", tt.dir);
	cr_assert_eq(ls_store_sqlite_open(tt.path, NULL, &tt.store), LS_OK);
	cr_assert_eq(ls_token_create(tt.store, &tt.id), CKR_OK);
	tt.cfg = cfg != NULL ? *cfg : tt_config();
	tt_open_token();
}

static inline void
tt_setup(void)
{
	tt_setup_with(NULL);
}

static inline void
tt_teardown(void)
{
	char side[160];

	ls_token_close(tt.token);
	tt.token = NULL;
	ls_store_close(tt.store);
	tt.store = NULL;
	unlink(tt.path);
	snprintf(side, sizeof(side), "%s-wal", tt.path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", tt.path);
	unlink(side);
	rmdir(tt.dir);
}

/* Closes and reopens the token (and with @store, the store too): what persists, persists. */
static inline void
tt_reopen(bool store)
{
	ls_token_close(tt.token);
	tt.token = NULL;
	if (store) {
		ls_store_close(tt.store);
		cr_assert_eq(ls_store_sqlite_open(tt.path, NULL, &tt.store), LS_OK);
	}
	tt_open_token();
}

static inline ls_token_app *
tt_app(void)
{
	ls_token_app *app = NULL;

	cr_assert_eq(ls_token_app_new(tt.token, &app), CKR_OK);
	return app;
}

static inline void
tt_label(CK_UTF8CHAR label[32], const char *s)
{
	size_t n = strlen(s);

	memset(label, ' ', 32);
	memcpy(label, s, n < 32 ? n : 32);
}

static inline CK_SESSION_HANDLE
tt_session(ls_token_app *app, bool rw)
{
	CK_SESSION_HANDLE h = 0;

	cr_assert_eq(ls_token_open_session(app, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), &h),
	             CKR_OK);
	cr_assert_neq(h, 0);
	return h;
}

static inline CK_FLAGS
tt_flags(void)
{
	CK_TOKEN_INFO info;

	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	return info.flags;
}

static inline CK_STATE
tt_state(ls_token_app *app, CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;

	cr_assert_eq(ls_token_get_session_info(app, h, &si), CKR_OK);
	return si.state;
}

/* C_InitToken with the default SO PIN, from a throw-away application. */
static inline void
tt_init_token(const char *label)
{
	ls_token_app *app = tt_app();
	CK_UTF8CHAR l[32];

	tt_label(l, label);
	cr_assert_eq(ls_token_init_token(app, PIN(SO_PIN), l), CKR_OK);
	ls_token_app_free(app);
}

/* The SO sets the user PIN @pin (SO PIN: the default). */
static inline void
tt_init_user(const char *pin)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);

	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(ls_token_init_pin(app, h, PIN(pin)), CKR_OK);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	ls_token_app_free(app);
}

/* An initialised token with the user PIN USER_PIN. */
static inline void
tt_ready(void)
{
	tt_init_token("test token");
	tt_init_user(USER_PIN);
}

static inline void
tt_login(ls_token_app *app, CK_SESSION_HANDLE h)
{
	cr_assert_eq(ls_token_login(app, h, CKU_USER, PIN(USER_PIN)), CKR_OK);
}

#endif /* LS11_TEST_TOKEN_UTIL_H */
