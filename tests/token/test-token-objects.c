/*
 * token/token*.c: objects through the engine: token and session objects, the session and login
 * rules for creating, changing and destroying them, visibility of private objects, handles per
 * application, find (including a find by CKA_ID among 100,000 token objects that must decode
 * only what the store's index returns), C_InitToken wiping every object, the object limit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>

#include "object.h"
#include "test-token-util.h"

static void
setup_ready(void)
{
	tt_setup();
	tt_ready();
}

TestSuite(objects, .init = setup_ready, .fini = tt_teardown);

static CK_OBJECT_CLASS cls_data = CKO_DATA;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* A data object: token or session, private or public, with a label. */
static CK_RV
make_data(ls_token_app *app, CK_SESSION_HANDLE h, bool token, bool priv, const char *label,
          CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE t[] = {
		{CKA_CLASS, &cls_data, sizeof(cls_data)},
		{CKA_TOKEN, token ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_PRIVATE, priv ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_VALUE, "some data", 9},
	};

	return ls_token_create_object(app, h, t, sizeof(t) / sizeof(t[0]), out);
}

/* Finds every object with @label; returns how many (handles in @out, up to @max). */
static CK_ULONG
find_label(ls_token_app *app, CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *out,
           CK_ULONG max)
{
	CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE dummy[1];
	CK_ULONG n = 0;

	cr_assert_eq(ls_token_find_objects_init(app, h, t, 1), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, h, out != NULL ? out : dummy, out != NULL ? max : 1,
	                                   &n),
	             CKR_OK);
	cr_assert_eq(ls_token_find_objects_final(app, h), CKR_OK);
	return n;
}

static void
get_label(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, char *buf, size_t size)
{
	CK_ATTRIBUTE a = {CKA_LABEL, buf, size - 1};

	cr_assert_eq(ls_token_get_attribute_value(app, h, o, &a, 1), CKR_OK);
	buf[a.ulValueLen] = 0;
}

Test(objects, create_token_object_and_read_it_back)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_OBJECT_HANDLE o = 0, found[4];
	CK_ULONG size = 0;
	char label[64];

	cr_assert_eq(make_data(app, h, true, false, "alpha", &o), CKR_OK);
	cr_assert_neq(o, 0);
	get_label(app, h, o, label, sizeof(label));
	cr_assert_str_eq(label, "alpha");
	cr_assert_eq(ls_token_get_object_size(app, h, o, &size), CKR_OK);
	cr_assert_gt(size, 0);
	cr_assert_eq(ls_token_get_object_size(app, h, o, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(find_label(app, h, "alpha", found, 4), 1);
	cr_assert_eq(found[0], o);
	ls_token_app_free(app);

	/* It is a token object: another application (after a reopen) finds it. */
	tt_reopen(true);
	app = tt_app();
	h = tt_session(app, false);
	cr_assert_eq(find_label(app, h, "alpha", found, 4), 1);
	get_label(app, h, found[0], label, sizeof(label));
	cr_assert_str_eq(label, "alpha");
	ls_token_app_free(app);
}

Test(objects, create_arguments)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}};
	CK_OBJECT_HANDLE o;

	cr_assert_eq(ls_token_create_object(app, h, t, 1, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_create_object(app, h, NULL, 1, &o), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_create_object(app, h + 7, t, 1, &o), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(ls_token_create_object(app, h, t, 1, &o), CKR_OK);
	ls_token_app_free(app);
}

Test(objects, read_only_session_and_public_session_rules)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE ro = tt_session(app, false), rw = tt_session(app, true);
	CK_OBJECT_HANDLE o, so, tok;
	CK_ATTRIBUTE lab = {CKA_LABEL, "new", 3};

	/* R/O: no token object; session objects are fine. */
	cr_assert_eq(make_data(app, ro, true, false, "t", &o), CKR_SESSION_READ_ONLY);
	cr_assert_eq(make_data(app, ro, false, false, "s", &so), CKR_OK);
	/* Public session: no private object. */
	cr_assert_eq(make_data(app, rw, true, true, "p", &o), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(make_data(app, ro, false, true, "p", &o), CKR_USER_NOT_LOGGED_IN);

	/* A token object made in the R/W session cannot be changed or destroyed from the R/O. */
	cr_assert_eq(make_data(app, rw, true, false, "t", &tok), CKR_OK);
	cr_assert_eq(ls_token_set_attribute_value(app, ro, tok, &lab, 1), CKR_SESSION_READ_ONLY);
	cr_assert_eq(ls_token_destroy_object(app, ro, tok), CKR_SESSION_READ_ONLY);
	cr_assert_eq(ls_token_set_attribute_value(app, ro, so, &lab, 1), CKR_OK);
	cr_assert_eq(ls_token_destroy_object(app, ro, so), CKR_OK);
	cr_assert_eq(ls_token_destroy_object(app, rw, tok), CKR_OK);
	cr_assert_eq(ls_token_destroy_object(app, rw, tok), CKR_OBJECT_HANDLE_INVALID);
	cr_assert_eq(ls_token_destroy_object(app, rw, so), CKR_OBJECT_HANDLE_INVALID);
	ls_token_app_free(app);
}

Test(objects, private_objects_are_invisible_until_login)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_OBJECT_HANDLE priv, pub, sess, found[8];
	char label[64];
	CK_ULONG size;

	tt_login(app, h);
	cr_assert_eq(make_data(app, h, true, true, "secret", &priv), CKR_OK);
	cr_assert_eq(make_data(app, h, false, true, "secret", &sess), CKR_OK);
	cr_assert_eq(make_data(app, h, true, false, "secret", &pub), CKR_OK);
	cr_assert_eq(find_label(app, h, "secret", found, 8), 3);

	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	/* Gone from sight: not found, handle invalid for every call. */
	cr_assert_eq(find_label(app, h, "secret", found, 8), 1);
	cr_assert_eq(found[0], pub);
	cr_assert_eq(ls_token_get_object_size(app, h, priv, &size), CKR_OBJECT_HANDLE_INVALID);
	cr_assert_eq(ls_token_get_object_size(app, h, sess, &size), CKR_OBJECT_HANDLE_INVALID);
	cr_assert_eq(ls_token_destroy_object(app, h, priv), CKR_OBJECT_HANDLE_INVALID);
	/* The SO sees public objects only. */
	cr_assert_eq(ls_token_login(app, h, CKU_SO, PIN(SO_PIN)), CKR_OK);
	cr_assert_eq(find_label(app, h, "secret", found, 8), 1);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);

	/* Back after login, with the same handles (logout destroyed nothing). */
	tt_login(app, h);
	cr_assert_eq(find_label(app, h, "secret", found, 8), 3);
	get_label(app, h, priv, label, sizeof(label));
	cr_assert_str_eq(label, "secret");
	get_label(app, h, sess, label, sizeof(label));
	cr_assert_str_eq(label, "secret");
	ls_token_app_free(app);
}

Test(objects, find_results_hide_private_objects_after_a_logout)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true), h2 = tt_session(app, true);
	CK_ATTRIBUTE t[] = {{CKA_LABEL, "x", 1}};
	CK_OBJECT_HANDLE o, found[8];
	CK_ULONG n = 0;

	tt_login(app, h);
	cr_assert_eq(make_data(app, h, true, true, "x", &o), CKR_OK);
	cr_assert_eq(make_data(app, h, true, false, "x", &o), CKR_OK);
	cr_assert_eq(ls_token_find_objects_init(app, h2, t, 1), CKR_OK);
	cr_assert_eq(ls_token_logout(app, h), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, h2, found, 8, &n), CKR_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(found[0], o);
	ls_token_app_free(app);
}

Test(objects, two_applications)
{
	ls_token_app *a = tt_app(), *b = tt_app();
	CK_SESSION_HANDLE ha = tt_session(a, true), hb = tt_session(b, true);
	CK_OBJECT_HANDLE x, y, s1, s2, s3, found[8];
	CK_ULONG size;

	tt_login(a, ha);
	cr_assert_eq(make_data(a, ha, true, false, "pub", &x), CKR_OK);
	cr_assert_eq(make_data(a, ha, true, true, "priv", &y), CKR_OK);
	cr_assert_eq(make_data(a, ha, false, false, "sess", &s1), CKR_OK);
	cr_assert_eq(make_data(a, ha, false, false, "sess", &s2), CKR_OK);
	cr_assert_eq(make_data(a, ha, false, false, "sess", &s3), CKR_OK);

	/* B has no handles yet: every handle of A is unknown to B. */
	cr_assert_eq(ls_token_get_object_size(b, hb, x, &size), CKR_OBJECT_HANDLE_INVALID);
	cr_assert_eq(ls_token_get_object_size(b, hb, s3, &size), CKR_OBJECT_HANDLE_INVALID);
	cr_assert_eq(ls_token_destroy_object(b, hb, s3), CKR_OBJECT_HANDLE_INVALID);
	/* A's login does not show A's private objects to B; A's session objects are A's. */
	cr_assert_eq(find_label(b, hb, "priv", NULL, 0), 0);
	cr_assert_eq(find_label(b, hb, "sess", NULL, 0), 0);
	cr_assert_eq(find_label(b, hb, "pub", found, 8), 1);
	/* B's handle for the shared token object is B's own number. */
	cr_assert_eq(ls_token_get_object_size(b, hb, found[0], &size), CKR_OK);
	/* B's own login shows it the private token object. */
	tt_login(b, hb);
	cr_assert_eq(find_label(b, hb, "priv", found, 8), 1);
	ls_token_app_free(a);
	ls_token_app_free(b);
}

Test(objects, session_objects_live_with_their_session)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h1 = tt_session(app, false), h2 = tt_session(app, false);
	CK_OBJECT_HANDLE a, b, found[8];
	char label[64];
	ls_token_stats st;

	cr_assert_eq(make_data(app, h1, false, false, "mine", &a), CKR_OK);
	cr_assert_eq(make_data(app, h2, false, false, "mine", &b), CKR_OK);
	ls_token_get_stats(tt.token, &st);
	cr_assert_eq(st.session_objects, 2);
	/* Visible to every session of the application. */
	get_label(app, h2, a, label, sizeof(label));
	cr_assert_str_eq(label, "mine");
	cr_assert_eq(find_label(app, h2, "mine", found, 8), 2);
	/* Destroyed when the session that created it closes. */
	cr_assert_eq(ls_token_close_session(app, h1), CKR_OK);
	cr_assert_eq(find_label(app, h2, "mine", found, 8), 1);
	cr_assert_eq(found[0], b);
	ls_token_get_stats(tt.token, &st);
	cr_assert_eq(st.session_objects, 1);
	/* And all of them with C_CloseAllSessions. */
	cr_assert_eq(ls_token_close_all_sessions(app), CKR_OK);
	ls_token_get_stats(tt.token, &st);
	cr_assert_eq(st.session_objects, 0);
	h1 = tt_session(app, false);
	cr_assert_eq(find_label(app, h1, "mine", NULL, 0), 0);
	ls_token_app_free(app);
}

Test(objects, handles_are_stable)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true), h2;
	CK_OBJECT_HANDLE o, f1[2], f2[2], s;

	cr_assert_eq(make_data(app, h, true, false, "stable", &o), CKR_OK);
	cr_assert_eq(find_label(app, h, "stable", f1, 2), 1);
	h2 = tt_session(app, false);
	cr_assert_eq(find_label(app, h2, "stable", f2, 2), 1);
	cr_assert_eq(f1[0], o);
	cr_assert_eq(f2[0], o);
	/* A destroyed object's handle is never handed out again. */
	cr_assert_eq(make_data(app, h, false, false, "gone", &s), CKR_OK);
	cr_assert_eq(ls_token_destroy_object(app, h, s), CKR_OK);
	cr_assert_eq(make_data(app, h, false, false, "next", &o), CKR_OK);
	cr_assert_neq(o, s);
	ls_token_app_free(app);
}

Test(objects, set_attribute_persists_and_copy)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_ATTRIBUTE lab = {CKA_LABEL, "renamed", 7};
	CK_ATTRIBUTE to_session[] = {{CKA_TOKEN, &no, sizeof(no)}, {CKA_LABEL, "copy", 4}};
	CK_OBJECT_CLASS other = CKO_CERTIFICATE;
	CK_ATTRIBUTE cls = {CKA_CLASS, &other, sizeof(other)};
	CK_OBJECT_HANDLE o, c, found[2];
	char label[64];

	cr_assert_eq(make_data(app, h, true, false, "orig", &o), CKR_OK);
	cr_assert_eq(ls_token_set_attribute_value(app, h, o, &lab, 1), CKR_OK);
	get_label(app, h, o, label, sizeof(label));
	cr_assert_str_eq(label, "renamed");
	cr_assert_eq(ls_token_set_attribute_value(app, h, o, &cls, 1), CKR_ATTRIBUTE_READ_ONLY);
	cr_assert_eq(ls_token_set_attribute_value(app, h, o, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_copy_object(app, h, o, to_session, 2, &c), CKR_OK);
	cr_assert_neq(c, o);
	get_label(app, h, c, label, sizeof(label));
	cr_assert_str_eq(label, "copy");
	cr_assert_eq(ls_token_copy_object(app, h, 999, to_session, 2, &c), CKR_OBJECT_HANDLE_INVALID);
	ls_token_app_free(app);

	tt_reopen(true);
	app = tt_app();
	h = tt_session(app, false);
	cr_assert_eq(find_label(app, h, "renamed", found, 2), 1);
	cr_assert_eq(find_label(app, h, "orig", NULL, 0), 0);
	cr_assert_eq(find_label(app, h, "copy", NULL, 0), 0); /* the copy was a session object */
	ls_token_app_free(app);
}

Test(objects, find_rules)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}};
	CK_OBJECT_HANDLE o, found[3];
	CK_ULONG n = 0, total = 0;
	int i;

	for (i = 0; i < 7; i++)
		cr_assert_eq(make_data(app, h, i % 2 == 0, false, "many", &o), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, h, found, 3, &n), CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_find_objects_final(app, h), CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_find_objects_init(app, h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_find_objects_init(app, h, t, 1), CKR_OK);
	cr_assert_eq(ls_token_find_objects_init(app, h, t, 1), CKR_OPERATION_ACTIVE);
	cr_assert_eq(ls_token_find_objects(app, h, found, 3, NULL), CKR_ARGUMENTS_BAD);
	/* In batches. */
	do {
		cr_assert_eq(ls_token_find_objects(app, h, found, 3, &n), CKR_OK);
		cr_assert_leq(n, 3);
		total += n;
	} while (n > 0);
	cr_assert_eq(total, 7);
	cr_assert_eq(ls_token_find_objects_final(app, h), CKR_OK);
	/* An empty template finds everything (the data objects and nothing else here). */
	cr_assert_eq(ls_token_find_objects_init(app, h, NULL, 0), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, h, found, 3, &n), CKR_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(ls_token_find_objects_final(app, h), CKR_OK);
	ls_token_app_free(app);
}

Test(objects, init_token_wipes_every_object)
{
	ls_token_app *app = tt_app();
	CK_SESSION_HANDLE h = tt_session(app, true);
	CK_OBJECT_HANDLE o;
	ls_store_txn *txn;
	uint64_t count = 99;
	int i;

	tt_login(app, h);
	for (i = 0; i < 20; i++)
		cr_assert_eq(make_data(app, h, true, i % 2 == 0, "wipe me", &o), CKR_OK);
	cr_assert_eq(ls_token_close_session(app, h), CKR_OK);
	tt_ready();
	cr_assert_eq(ls_store_begin(tt.store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_object_count(txn, tt.id, &count), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(count, 0);
	h = tt_session(app, true);
	tt_login(app, h);
	cr_assert_eq(find_label(app, h, "wipe me", NULL, 0), 0);
	/* The stale handle does not reach anything. */
	cr_assert_eq(ls_token_destroy_object(app, h, o), CKR_OBJECT_HANDLE_INVALID);
	ls_token_app_free(app);
}

Test(objects, object_limit)
{
	ls_token_config cfg = tt_config();
	ls_token_app *app;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;

	cfg.max_objects = 3;
	ls_token_close(tt.token);
	tt.cfg = cfg;
	tt_open_token();
	app = tt_app();
	h = tt_session(app, true);
	cr_assert_eq(make_data(app, h, true, false, "1", &o), CKR_OK);
	cr_assert_eq(make_data(app, h, false, false, "2", &o), CKR_OK);
	cr_assert_eq(make_data(app, h, true, false, "3", &o), CKR_OK);
	cr_assert_eq(make_data(app, h, true, false, "4", &o), CKR_DEVICE_MEMORY);
	cr_assert_eq(make_data(app, h, false, false, "4", &o), CKR_DEVICE_MEMORY);
	cr_assert_eq(ls_token_destroy_object(app, h, o), CKR_OK);
	cr_assert_eq(make_data(app, h, false, false, "4", &o), CKR_OK);
	ls_token_app_free(app);
}

/* ---- 100,000 token objects ------------------------------------------------------------------ */

#define MANY 100000

/* Writes @n certificates with CKA_ID "id-<i>" straight into the store, in one transaction. */
static void
bulk_certificates(int n)
{
	static CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	static CK_CERTIFICATE_TYPE ct = CKC_X_509;
	ls_object_ctx ctx = {LS_OBJECT_OP_CREATE, LS_OBJECT_USER, 0, NULL,
	                     CK_UNAVAILABLE_INFORMATION};
	ls_store_txn *txn;
	int i;

	cr_assert_eq(ls_store_begin(tt.store, true, &txn), LS_OK);
	for (i = 0; i < n; i++) {
		char id[32];
		CK_ATTRIBUTE t[] = {
			{CKA_CLASS, &cls, sizeof(cls)},
			{CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
			{CKA_TOKEN, &yes, sizeof(yes)},
			{CKA_ID, id, 0},
			{CKA_LABEL, "bulk", 4},
			{CKA_SUBJECT, "\x30\x00", 2},
			{CKA_VALUE, "\x30\x03\x02\x01\x00", 5},
		};
		ls_store_object so;
		ls_object *obj = NULL;
		uint64_t oid = 0;

		t[3].ulValueLen = (CK_ULONG)snprintf(id, sizeof(id), "id-%d", i);
		cr_assert_eq(ls_object_create(&ctx, t, sizeof(t) / sizeof(t[0]), &obj), CKR_OK);
		cr_assert_eq(ls_store_object_id_new(txn, tt.id, &oid), LS_OK);
		cr_assert_eq(ls_object_set_store_id(obj, oid), CKR_OK);
		cr_assert_eq(ls_object_to_store(obj, NULL, &so), CKR_OK);
		cr_assert_eq(ls_store_object_put(txn, tt.id, &so), LS_OK);
		ls_store_object_clear(&so);
		ls_object_unref(obj);
	}
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

Test(objects, find_by_id_among_100000_uses_the_index)
{
	CK_ATTRIBUTE t[] = {{CKA_ID, "id-77777", 8}};
	CK_ATTRIBUTE lab = {CKA_LABEL, NULL, 0};
	CK_OBJECT_HANDLE found[4];
	ls_token_stats before, after;
	ls_store_query q;
	ls_token_app *app;
	CK_SESSION_HANDLE h;
	CK_ULONG n = 0;
	char plan[1024], label[16];

	bulk_certificates(MANY);
	app = tt_app();
	h = tt_session(app, false);

	ls_token_get_stats(tt.token, &before);
	cr_assert_eq(ls_token_find_objects_init(app, h, t, 1), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, h, found, 4, &n), CKR_OK);
	cr_assert_eq(ls_token_find_objects_final(app, h), CKR_OK);
	cr_assert_eq(n, 1);
	ls_token_get_stats(tt.token, &after);
	/* One row decoded, not 100,000. */
	cr_assert_eq(after.objects_loaded - before.objects_loaded, 1);

	/* And the store answered from its CKA_ID index. */
	cr_assert(ls_object_find_query(t, 1, &q));
	cr_assert_neq(q.fields & LS_STORE_Q_CKA_ID, 0);
	cr_assert_eq(ls_store_sqlite_query_plan(tt.store, &q, plan, sizeof(plan)), LS_OK);
	cr_assert_not_null(strstr(plan, "objects_ck_id"), "plan: %s", plan);
	cr_assert_null(strstr(plan, "SCAN"), "plan: %s", plan);

	lab.pValue = label;
	lab.ulValueLen = sizeof(label);
	cr_assert_eq(ls_token_get_attribute_value(app, h, found[0], &lab, 1), CKR_OK);
	cr_assert_eq(lab.ulValueLen, 4);
	cr_assert_eq(memcmp(label, "bulk", 4), 0);
	ls_token_app_free(app);
}
