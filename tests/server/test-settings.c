/*
 * server/settings.c, server/pool.c and the nickname rule of server/account.c, in-process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "pool.h"
#include "settings.h"

static char path[64];

static void
write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/ls11-conf-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(settings, defaults_and_finish)
{
	lsd_config cfg;
	char err[256];

	lsd_config_init(&cfg);
	cr_assert_str_eq(cfg.state_dir, "/var/lib/ls11cloud");
	cr_assert_eq(cfg.resume_lease, 60);
	cr_assert_eq(cfg.registration, LSD_REG_CLOSED);
	cr_assert(cfg.loop_batch, "the event loop runs under SCHED_BATCH by default");
	cr_assert_eq(lsd_config_finish(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_listen, 2, "no listen address: IPv4 and IPv6 on port 4444");
	cr_assert_str_eq(cfg.listen[0], "0.0.0.0:4444");
	cr_assert_str_eq(cfg.listen[1], "[::]:4444");
	lsd_config_clear(&cfg);
}

Test(settings, file_with_every_kind_of_line)
{
	lsd_config cfg;
	char err[256];

	write_conf("# comment\n"
	           "; another\n"
	           "\n"
	           "[ls11cloudd]\n"
	           "listen = 127.0.0.1:5555, [::1]:5556\n"
	           "state-dir = /srv/ls11\n"
	           "log = syslog\n"
	           "log-level = debug\n"
	           "max-inflight = 7\n"
	           "resume-lease = 0\n"
	           "registration = code\n"
	           "registration-code = s3cret\n"
	           "loop-scheduling = normal\n");
	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, path, true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lsd_config_finish(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_str_eq(cfg.listen[0], "127.0.0.1:5555");
	cr_assert_str_eq(cfg.listen[1], "[::1]:5556");
	cr_assert_str_eq(cfg.state_dir, "/srv/ls11");
	cr_assert_eq(cfg.log_target, LSD_LOG_SYSLOG);
	cr_assert_eq(cfg.log_level, LS_LOG_DEBUG);
	cr_assert_eq(cfg.max_inflight, 7);
	cr_assert_eq(cfg.resume_lease, 0);
	cr_assert_eq(cfg.registration, LSD_REG_CODE);
	cr_assert_str_eq(cfg.registration_code, "s3cret");
	cr_assert(!cfg.loop_batch);
	lsd_config_clear(&cfg);
	unlink(path);
}

Test(settings, errors_name_the_line_and_the_reason)
{
	lsd_config cfg;
	char err[256];

	write_conf("listen = 127.0.0.1:1\nmax-frobs = 3\n");
	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, path, true, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":2: unknown setting 'max-frobs'") != NULL, "%s", err);
	lsd_config_clear(&cfg);
	unlink(path);

	write_conf("max-inflight = 0\n");
	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, path, true, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":1: max-inflight: 0 is out of range") != NULL, "%s", err);
	lsd_config_clear(&cfg);
	unlink(path);

	write_conf("[other]\n");
	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, path, true, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown group") != NULL, "%s", err);
	lsd_config_clear(&cfg);
	unlink(path);

	write_conf("just words\n");
	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, path, true, err, sizeof(err)), -1);
	cr_assert(strstr(err, "expected 'key = value'") != NULL, "%s", err);
	lsd_config_clear(&cfg);
	unlink(path);

	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_set(&cfg, "listen", "nocolon", err, sizeof(err)), -1);
	cr_assert_eq(lsd_config_set(&cfg, "listen", "1.2.3.4:70000", err, sizeof(err)), -1);
	cr_assert_eq(lsd_config_set(&cfg, "state-dir", "relative", err, sizeof(err)), -1);
	cr_assert_eq(lsd_config_set(&cfg, "registration", "maybe", err, sizeof(err)), -1);
	cr_assert_eq(lsd_config_set(&cfg, "workers", "12x", err, sizeof(err)), -1);
	cr_assert_eq(lsd_config_set(&cfg, "loop-scheduling", "fifo", err, sizeof(err)), -1);
	cr_assert(strstr(err, "neither batch nor normal") != NULL, "%s", err);
	cr_assert_eq(lsd_config_set(&cfg, "registration", "code", err, sizeof(err)), 0);
	cr_assert_eq(lsd_config_finish(&cfg, err, sizeof(err)), -1, "code needs a code");
	cr_assert(strstr(err, "registration-code") != NULL, "%s", err);
	lsd_config_clear(&cfg);

	lsd_config_init(&cfg);
	cr_assert_eq(lsd_config_load(&cfg, "/nonexistent/ls11.conf", false, err, sizeof(err)), 0,
	             "the default file may be missing");
	cr_assert_eq(lsd_config_load(&cfg, "/nonexistent/ls11.conf", true, err, sizeof(err)), -1,
	             "a file named on the command line must exist");
	lsd_config_clear(&cfg);
}

Test(nickname, rules_and_messages)
{
	char why[200];

	cr_assert_eq(lsd_nickname_check("alice", why, sizeof(why)), LS_OK);
	cr_assert_eq(lsd_nickname_check("a.b_c-d@example.org", why, sizeof(why)), LS_OK);
	cr_assert_neq(lsd_nickname_check("ab", why, sizeof(why)), LS_OK);
	cr_assert(strstr(why, "3 to 64 characters, this one has 2") != NULL, "%s", why);
	cr_assert_neq(lsd_nickname_check("al ice", why, sizeof(why)), LS_OK);
	cr_assert(strstr(why, "' ' at position 3") != NULL, "%s", why);
	cr_assert_neq(lsd_nickname_check("al\xd0\xb8", why, sizeof(why)), LS_OK);
	cr_assert(strstr(why, "byte 0xd0 at position 3") != NULL, "%s", why);
	cr_assert_neq(lsd_nickname_check("semi;colon", why, sizeof(why)), LS_OK);
	cr_assert(strstr(why, "';'") != NULL, "%s", why);
}

/* ---- the worker pool ------------------------------------------------------------------------ */

static atomic_int worked, done_on_loop;
static pthread_t loop_thread;

static void
work(void *arg)
{
	(void)arg;
	cr_assert(!pthread_equal(pthread_self(), loop_thread), "work runs on a worker thread");
	usleep(2000);
	atomic_fetch_add(&worked, 1);
}

static void
done(void *arg)
{
	struct event_base *base = arg;

	cr_assert(pthread_equal(pthread_self(), loop_thread), "done runs on the loop's thread");
	if (atomic_fetch_add(&done_on_loop, 1) + 1 == 40)
		event_base_loopbreak(base);
}

Test(pool, jobs_run_on_workers_and_complete_on_the_loop)
{
	struct event_base *base = event_base_new();
	lsd_pool *pool = NULL;
	int i;

	loop_thread = pthread_self();
	cr_assert_eq(lsd_pool_new(base, 3, &pool), LS_OK);
	for (i = 0; i < 40; i++)
		cr_assert_eq(lsd_pool_submit(pool, work, done, base), LS_OK);
	event_base_dispatch(base);
	cr_assert_eq(atomic_load(&worked), 40);
	cr_assert_eq(atomic_load(&done_on_loop), 40);
	cr_assert_eq(lsd_pool_pending(pool), 0);
	lsd_pool_free(pool);
	event_base_free(base);
}

Test(pool, free_drains_what_is_queued)
{
	struct event_base *base = event_base_new();
	lsd_pool *pool = NULL;
	int i;

	loop_thread = pthread_self();
	cr_assert_eq(lsd_pool_new(base, 2, &pool), LS_OK);
	for (i = 0; i < 10; i++)
		cr_assert_eq(lsd_pool_submit(pool, work, done, base), LS_OK);
	lsd_pool_free(pool); /* no loop ran: free waits for the work and runs the done parts */
	cr_assert_eq(atomic_load(&worked), 10);
	cr_assert_eq(atomic_load(&done_on_loop), 10);
	event_base_free(base);
}
