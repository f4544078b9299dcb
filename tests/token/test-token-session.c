/*
 * token/token*.c: sessions (flags, the five states, limits, handles, counts across
 * applications, close and close-all), operation state, C_SessionCancel, mechanism information
 * and randomness.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "mech.h"
#include "test-token-util.h"

static void
setup_ready(void)
{
	tt_setup();
	tt_ready();
}

TestSuite(session, .init = setup_ready, .fini = tt_teardown);

Test(session, open_session_arguments)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h;

	cr_assert_eq(ls_token_open_session(app, CKF_RW_SESSION, &h),
	             CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	cr_assert_eq(ls_token_open_session(app, 0, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	cr_assert_eq(ls_token_open_session(app, CKF_SERIAL_SESSION, NULL), CKR_ARGUMENTS_BAD);
	ls_token_app_free(app);
}

Test(session, five_states)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE ro = tt_session(app, false), rw = tt_session(app, true);
	CK_SESSION_INFO si;

	cr_assert_eq(tt_state(app, ro), CKS_RO_PUBLIC_SESSION);
	cr_assert_eq(tt_state(app, rw), CKS_RW_PUBLIC_SESSION);
	cr_assert_eq(ls_token_get_session_info(app, ro, &si), CKR_OK);
	cr_assert_eq(si.flags, CKF_SERIAL_SESSION);
	cr_assert_eq(ls_token_get_session_info(app, rw, &si), CKR_OK);
	cr_assert_eq(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
	cr_assert_eq(si.ulDeviceError, 0);
	cr_assert_eq(ls_token_get_session_info(app, rw, NULL), CKR_ARGUMENTS_BAD);

	tt_login(app, ro);
	cr_assert_eq(tt_state(app, ro), CKS_RO_USER_FUNCTIONS);
	cr_assert_eq(tt_state(app, rw), CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(ls_token_logout(app, rw), CKR_OK);
	cr_assert_eq(ls_token_close_session(app, ro), CKR_OK);
	cr_assert_eq(ls_token_login(app, rw, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(tt_state(app, rw), CKS_RW_SO_FUNCTIONS);
	/* A new R/W session joins the SO state; an R/O one cannot exist. */
	cr_assert_eq(tt_state(app, tt_session(app, true)), CKS_RW_SO_FUNCTIONS);
	cr_assert_eq(ls_token_open_session(app, CKF_SERIAL_SESSION, &ro),
	             CKR_SESSION_READ_WRITE_SO_EXISTS);
	ls_token_app_free(app);
}

Test(session, handles_are_never_reused_and_belong_to_their_application)
{
	ls_token_app *a = tt_app(), *b = tt_app();
	CK_SESSION_HANDLE h1, h2, h3, hb;
	CK_SESSION_INFO si;

	h1 = tt_session(a, false);
	cr_assert_eq(ls_token_close_session(a, h1), CKR_OK);
	h2 = tt_session(a, false);
	cr_assert_neq(h1, h2);
	cr_assert_eq(ls_token_get_session_info(a, h1, &si), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_close_session(a, h1), CKR_SESSION_HANDLE_INVALID);
	h3 = tt_session(a, false);
	cr_assert(h3 != h1 && h3 != h2);

	/* B's handles are B's: A's third handle does not exist in B. */
	hb = tt_session(b, false);
	cr_assert_eq(ls_token_get_session_info(b, h3, &si), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_close_session(b, h3), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_get_session_info(b, hb, &si), CKR_OK);
	ls_token_app_free(a);
	ls_token_app_free(b);
}

Test(session, counts_across_applications)
{
	ls_token_app *a = tt_app(), *b = tt_app();
	CK_TOKEN_INFO info;

	tt_session(a, false);
	tt_session(a, true);
	tt_session(b, true);
	tt_session(b, false);
	tt_session(b, false);
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.ulSessionCount, 5);
	cr_assert_eq(info.ulRwSessionCount, 2);
	cr_assert_eq(info.ulMaxSessionCount, 1024);
	cr_assert_eq(ls_token_close_all_sessions(b), CKR_OK);
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.ulSessionCount, 2);
	cr_assert_eq(info.ulRwSessionCount, 1);
	ls_token_app_free(a);
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.ulSessionCount, 0);
	cr_assert_eq(info.ulRwSessionCount, 0);
	ls_token_app_free(b);
}

Test(session, session_limit_per_application)
{
	ls_token_config cfg = tt_config();
	ls_token_app *a, *b;
	CK_SESSION_HANDLE h;
	int i;

	cfg.max_sessions = 4;
	ls_token_close(tt.token);
	tt.cfg = cfg;
	tt_open_token();
	a = tt_app();
	b = tt_app();
	for (i = 0; i < 4; i++)
		tt_session(a, i % 2 == 0);
	cr_assert_eq(ls_token_open_session(a, CKF_SERIAL_SESSION, &h), CKR_SESSION_COUNT);
	/* Another application has its own allowance; a closed session frees a place. */
	tt_session(b, false);
	cr_assert_eq(ls_token_close_session(a, 1), CKR_OK);
	h = tt_session(a, false);
	cr_assert_eq(h, 5);
	ls_token_app_free(a);
	ls_token_app_free(b);
}

Test(session, operation_state)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, false);
	CK_MECHANISM mech = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_BYTE state[64];
	CK_ULONG len = sizeof(state);

	cr_assert_eq(ls_token_get_operation_state(app, h, state, &len),
	             CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_get_operation_state(app, h, state, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_get_operation_state(app, 99, state, &len), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_digest_init(app, h, &mech), CKR_OK);
	cr_assert_eq(ls_token_get_operation_state(app, h, NULL, &len), CKR_STATE_UNSAVEABLE);
	cr_assert_eq(ls_token_set_operation_state(app, h, state, 16, 0, 0), CKR_SAVED_STATE_INVALID);
	cr_assert_eq(ls_token_set_operation_state(app, 99, state, 16, 0, 0),
	             CKR_SESSION_HANDLE_INVALID);
	/* The digest goes on. */
	cr_assert_eq(ls_token_digest_update(app, h, (const CK_BYTE *)"abc", 3), CKR_OK);
	ls_token_app_free(app);
}

Test(session, session_cancel)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, false);
	CK_MECHANISM mech = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_ULONG n = 0;
	CK_OBJECT_HANDLE o;

	cr_assert_eq(ls_token_digest_init(app, h, &mech), CKR_OK);
	cr_assert_eq(ls_token_find_objects_init(app, h, NULL, 0), CKR_OK);
	/* Cancelling something else leaves the digest alone. */
	cr_assert_eq(ls_token_session_cancel(app, h, CKF_SIGN), CKR_OK);
	cr_assert_eq(ls_token_digest_update(app, h, (const CK_BYTE *)"a", 1), CKR_OK);
	cr_assert_eq(ls_token_session_cancel(app, h, CKF_DIGEST | CKF_FIND_OBJECTS), CKR_OK);
	cr_assert_eq(ls_token_digest_update(app, h, (const CK_BYTE *)"a", 1),
	             CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_find_objects(app, h, &o, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
	/* A new digest can start. */
	cr_assert_eq(ls_token_digest_init(app, h, &mech), CKR_OK);
	cr_assert_eq(ls_token_session_cancel(app, 1234, CKF_DIGEST), CKR_SESSION_HANDLE_INVALID);
	ls_token_app_free(app);
}

Test(session, mechanisms)
{
	CK_MECHANISM_TYPE list[128];
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0, small = 2;
	size_t table_len, i;
	bool seen_gen = false, seen_512 = false;

	ls_mech_table(&table_len);
	cr_assert_eq(ls_token_get_mechanism_list(tt.token, NULL, &n), CKR_OK);
	cr_assert_eq(n, table_len);
	cr_assert_eq(ls_token_get_mechanism_list(tt.token, list, &small), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(small, table_len);
	cr_assert_eq(ls_token_get_mechanism_list(tt.token, list, NULL), CKR_ARGUMENTS_BAD);
	n = sizeof(list) / sizeof(list[0]);
	cr_assert_eq(ls_token_get_mechanism_list(tt.token, list, &n), CKR_OK);
	for (i = 0; i < n; i++) {
		seen_gen |= list[i] == CKM_GOSTR3410_KEY_PAIR_GEN;
		seen_512 |= list[i] == CKM_GOSTR3410_WITH_GOSTR3411_12_512;
		cr_assert_eq(ls_token_get_mechanism_info(tt.token, list[i], &mi), CKR_OK);
	}
	cr_assert(seen_gen && seen_512);
	cr_assert_eq(ls_token_get_mechanism_info(tt.token, CKM_GOSTR3410_KEY_PAIR_GEN, &mi), CKR_OK);
	cr_assert_neq(mi.flags & CKF_GENERATE_KEY_PAIR, 0);
	cr_assert_eq(ls_token_get_mechanism_info(tt.token, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
	cr_assert_eq(ls_token_get_mechanism_info(tt.token, CKM_RSA_PKCS, NULL), CKR_ARGUMENTS_BAD);
}

Test(session, random)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, false);
	CK_BYTE a[32], b[32], zero[32] = {0};

	cr_assert_eq(ls_token_seed_random(app, h, (const CK_BYTE *)"some seed", 9), CKR_OK);
	cr_assert_eq(ls_token_seed_random(app, h, NULL, 4), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_generate_random(app, h, a, sizeof(a)), CKR_OK);
	cr_assert_eq(ls_token_generate_random(app, h, b, sizeof(b)), CKR_OK);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
	cr_assert_neq(memcmp(a, zero, sizeof(a)), 0);
	cr_assert_eq(ls_token_generate_random(app, h, NULL, 4), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_generate_random(app, h, a, 0), CKR_OK);
	cr_assert_eq(ls_token_generate_random(app, h + 1, a, 4), CKR_SESSION_HANDLE_INVALID);
	ls_token_app_free(app);
}

/* Sessions of one application closed by one thread while others use them. */
typedef struct {
	ls_token_app *app;
	int rounds;
	int errors; /* checked by the main thread: no assertion outside it */
	pthread_mutex_t lock;
} churn_arg;

static void *
churn(void *p)
{
	churn_arg *c = p;
	CK_MECHANISM mech = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_BYTE out[32];
	CK_ULONG len;
	int i, errors = 0;

	for (i = 0; i < c->rounds; i++) {
		CK_SESSION_HANDLE h = 0;
		CK_RV rv;

		if (ls_token_open_session(c->app, CKF_SERIAL_SESSION, &h) != CKR_OK) {
			errors++;
			continue;
		}
		rv = ls_token_digest_init(c->app, h, &mech);
		if (rv == CKR_OK) {
			len = sizeof(out);
			rv = ls_token_digest(c->app, h, (const CK_BYTE *)"x", 1, out, &len);
		}
		/* Another thread's C_CloseAllSessions may have closed it meanwhile. */
		if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED)
			errors++;
		rv = ls_token_close_session(c->app, h);
		if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
			errors++;
		if (i % 16 == 0 && ls_token_close_all_sessions(c->app) != CKR_OK)
			errors++;
	}
	pthread_mutex_lock(&c->lock);
	c->errors += errors;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

Test(session, concurrent_open_close)
{
	ls_token_app *app = tt_app();
	pthread_t th[4];
	churn_arg arg = {app, 200, 0, PTHREAD_MUTEX_INITIALIZER};
	CK_TOKEN_INFO info;
	int i;

	for (i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn, &arg), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(arg.errors, 0);
	cr_assert_eq(ls_token_get_token_info(tt.token, &info), CKR_OK);
	cr_assert_eq(info.ulSessionCount, 0);
	ls_token_app_free(app);
}
