/*
 * ls11cloudd as a process: it starts on an ephemeral port and says so, keeps its state where
 * it is told (identity key and secret 0600, made once), takes settings from a file and the
 * command line, refuses bad settings with a reason, and stops cleanly on SIGTERM - also with
 * clients connected and with the pipe of frames cut in the middle.  An identity key rotated by
 * ls11cloud-admin is used by the next registration without a restart.  Its event loop thread
 * runs under SCHED_BATCH (loop-scheduling).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>

#include "server-util.h"

static ts_server srv;

static void
setup(void)
{
	ts_prepare(&srv);
}

static void
teardown(void)
{
	ts_cleanup(&srv);
}

TestSuite(lifecycle, .init = setup, .fini = teardown);

Test(lifecycle, starts_on_port_0_and_stops_on_sigterm)
{
	char path[160];
	struct stat st;
	int fd;

	ts_start(&srv);
	/* It accepts connections. */
	fd = ts_connect_fd(srv.port);
	close(fd);
	cr_assert_eq(ts_stop(&srv), 0, "a clean stop exits 0 (and, under ASan, leaks nothing)");

	snprintf(path, sizeof(path), "%s/state/identity.key", srv.dir);
	cr_assert_eq(stat(path, &st), 0, "the identity key is made at the first start");
	cr_assert_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/state/server.secret", srv.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(st.st_size, 32);
	snprintf(path, sizeof(path), "%s/state", srv.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
}

static void
read_file(const char *p, uint8_t *buf, size_t size, size_t *len)
{
	FILE *f = fopen(p, "rb");

	cr_assert_not_null(f);
	*len = fread(buf, 1, size, f);
	fclose(f);
}

Test(lifecycle, identity_key_is_kept_across_restarts)
{
	uint8_t a[4096], b[4096];
	size_t la, lb;
	char path[160], out[256];
	const char *fp_args[] = { "fingerprint", NULL };

	ts_start(&srv);
	cr_assert_eq(ts_stop(&srv), 0);
	snprintf(path, sizeof(path), "%s/state/identity.key", srv.dir);
	read_file(path, a, sizeof(a), &la);
	ts_start(&srv);
	cr_assert_eq(ts_stop(&srv), 0);
	read_file(path, b, sizeof(b), &lb);
	cr_assert_eq(la, lb);
	cr_assert_arr_eq(a, b, la, "the second start reads the key the first one made");
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), fp_args), 0, "%s", out);
	cr_assert_eq(strlen(out), 65, "a 32-byte fingerprint in hex: %s", out);
}

/* The fingerprint @out of "ls11cloud-admin fingerprint" (64 hex digits and a newline). */
static void
parse_fp(const char *out, uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	unsigned v;
	size_t i;

	cr_assert_geq(strlen(out), 64, "%s", out);
	for (i = 0; i < LS_HANDSHAKE_FINGERPRINT_SIZE; i++) {
		cr_assert_eq(sscanf(out + 2 * i, "%2x", &v), 1, "%s", out);
		fp[i] = (uint8_t)v;
	}
}

/* A registration that pins @fp; returns its status and the reason. */
static int
register_pinned(const char *nick, const uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE],
                ls_handshake_reason *why)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;
	ls_transport *t = ts_connect(srv.port);
	int r;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_REGISTER;
	p.nickname = nick;
	p.password = "a password";
	p.password_len = strlen(p.password);
	p.pinned_fingerprint = fp;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	r = ls_handshake_client_run(hs, t, TS_TIMEOUT_MS);
	*why = ls_handshake_get_reason(hs);
	ls_handshake_free(hs);
	ls_transport_free(t);
	return r;
}

/* ls11cloud-admin server-key rotate while the server runs: the next registration uses it. */
Test(lifecycle, a_rotated_identity_key_is_used_without_a_restart)
{
	const char *extra[] = { "--registration", "open", NULL };
	const char *fp_args[] = { "server-key", "show", NULL };
	const char *rotate[] = { "server-key", "rotate", NULL };
	uint8_t old_fp[LS_HANDSHAKE_FINGERPRINT_SIZE], new_fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	char out[2048], path[160];
	ls_handshake_reason why;
	struct stat st;
	FILE *f;

	ts_start_args(&srv, extra);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), fp_args), 0, "%s", out);
	parse_fp(out, old_fp);
	cr_assert_eq(register_pinned("before", old_fp, &why), LS_OK, "%s",
	             ls_handshake_reason_string(why));
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), rotate), 0, "%s", out);
	cr_assert(strstr(out, "old fingerprint: ") != NULL && strstr(out, "pinned") != NULL, "%s",
	          out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), fp_args), 0, "%s", out);
	parse_fp(out, new_fp);
	cr_assert(memcmp(old_fp, new_fp, sizeof(old_fp)) != 0, "a new key");
	snprintf(path, sizeof(path), "%s/state/identity.key.old", srv.dir);
	cr_assert_eq(stat(path, &st), 0, "the old key is kept");
	cr_assert_eq(st.st_mode & 07777, 0600);

	cr_assert_neq(register_pinned("old-pin", old_fp, &why), LS_OK);
	cr_assert_eq(why, LS_HS_SERVER_KEY_MISMATCH, "%s", ls_handshake_reason_string(why));
	cr_assert_eq(register_pinned("new-pin", new_fp, &why), LS_OK, "%s",
	             ls_handshake_reason_string(why));

	/* A broken identity.key (not the tool's doing) is refused; the key in use stays. */
	snprintf(path, sizeof(path), "%s/state/identity.key.tmp", srv.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("not a key", f);
	fclose(f);
	snprintf(out, sizeof(out), "%s/state/identity.key", srv.dir);
	cr_assert_eq(rename(path, out), 0);
	cr_assert_eq(register_pinned("after-junk", new_fp, &why), LS_OK, "%s",
	             ls_handshake_reason_string(why));
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(lifecycle, stops_cleanly_with_clients_in_every_state)
{
	ts_client c;
	int idle, partial, i;
	static const uint8_t half[] = { 0x00, 0x00, 0x01 }; /* 3 of the 4 header bytes */

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	idle = ts_connect_fd(srv.port);
	partial = ts_connect_fd(srv.port);
	cr_assert_eq(write(partial, half, sizeof(half)), (ssize_t)sizeof(half));
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	for (i = 0; i < 3; i++)
		cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	cr_assert_eq(ts_stop(&srv), 0);
	ts_close(&c);
	close(idle);
	close(partial);
}

Test(lifecycle, settings_file_and_command_line)
{
	char line[160];
	const char *extra[] = { "--max-connections-per-source", "1", NULL };
	ts_client a;
	int fd;

	/* The file sets one limit; the command line another; both apply. */
	snprintf(line, sizeof(line), "[ls11cloudd]\nlog-level = debug\nmax-handshakes = 5\n");
	ts_config(&srv, line);
	ts_start_args(&srv, extra);
	fd = ts_connect_fd(srv.port);
	/* The second connection from 127.0.0.1 is over max-connections-per-source = 1. */
	cr_assert_neq(ts_login(&a, srv.port, "alice", "whatever"), LS_OK);
	cr_assert_eq(a.reason, LS_HS_PEER_BUSY, "refused with the busy message: %s",
	             ls_handshake_reason_string(a.reason));
	ts_close(&a);
	close(fd);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* The policy of each thread of @pid: how many run under SCHED_BATCH, how many not. */
static void
count_policies(pid_t pid, int *batch, int *other)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	*batch = *other = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	cr_assert_not_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		int tid = atoi(e->d_name), policy;

		if (tid <= 0)
			continue;
		cr_assert_geq(policy = sched_getscheduler(tid), 0, "thread %d: %s", tid,
		              strerror(errno));
		if (policy == SCHED_BATCH)
			(*batch)++;
		else
			(*other)++;
	}
	closedir(d);
}

Test(lifecycle, the_event_loop_runs_under_sched_batch_unless_told_otherwise)
{
	const char *normal[] = { "--loop-scheduling", "normal", NULL };
	int batch, other;

	/* The loop thread (the process's main thread) only: the workers keep the default. */
	ts_config(&srv, "workers = 3\n");
	ts_start(&srv);
	cr_assert_eq(sched_getscheduler(srv.pid), SCHED_BATCH);
	count_policies(srv.pid, &batch, &other);
	cr_assert_eq(batch, 1, "the loop thread alone (%d batch, %d other)", batch, other);
	cr_assert_geq(other, 3, "the three workers keep SCHED_OTHER");
	cr_assert_eq(ts_stop(&srv), 0);

	ts_start_args(&srv, normal);
	count_policies(srv.pid, &batch, &other);
	cr_assert_eq(batch, 0, "loop-scheduling = normal: no thread under SCHED_BATCH");
	cr_assert_eq(ts_stop(&srv), 0);
}

/* Whether thread @tid of @pid blocks @sig (its SigBlk line in /proc). */
static bool
thread_blocks(pid_t pid, int tid, int sig)
{
	char path[96], line[256];
	unsigned long long mask = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, tid);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
			found = true;
			break;
		}
	}
	fclose(f);
	cr_assert(found, "no SigBlk line in %s", path);
	return (mask >> (sig - 1)) & 1;
}

Test(lifecycle, sigterm_goes_to_the_loop_thread_not_to_a_sleeping_worker)
{
	struct dirent *e;
	int workers_blocking = 0;
	DIR *d;
	char path[64];

	/* A SIGTERM the kernel gave to a worker asleep on its condition variable would wait for
	 * the worker (it does under ThreadSanitizer, which defers signals): the workers block the
	 * asynchronous signals, the loop thread does not. */
	ts_config(&srv, "workers = 3\n");
	ts_start(&srv);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)srv.pid);
	cr_assert_not_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		int tid = atoi(e->d_name);

		if (tid <= 0)
			continue;
		if (tid == srv.pid)
			cr_assert(!thread_blocks(srv.pid, tid, SIGTERM) &&
			                  !thread_blocks(srv.pid, tid, SIGINT),
			          "the loop thread takes SIGTERM and SIGINT");
		else if (thread_blocks(srv.pid, tid, SIGTERM) && thread_blocks(srv.pid, tid, SIGINT) &&
		         thread_blocks(srv.pid, tid, SIGHUP))
			workers_blocking++;
	}
	closedir(d);
	cr_assert_geq(workers_blocking, 3, "the three workers block them (%d do)",
	              workers_blocking);
	cr_assert_eq(ts_stop(&srv), 0);
}

static int
run_daemon(const char *const *args, char *out, size_t size)
{
	const char *argv[16];
	int p[2], status = 0, n = 0, i;
	size_t used = 0;
	ssize_t got;
	pid_t pid;

	argv[n++] = ts_server_program();
	for (i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (used + 1 < size && (got = read(p[0], out + used, size - used - 1)) > 0)
		used += (size_t)got;
	out[used] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Test(lifecycle, bad_settings_are_refused_with_a_reason)
{
	char out[2048], state[96];
	const char *bad_key[] = { "--config", srv.conf, NULL };
	const char *bad_value[] = { "--config", "/dev/null", "--max-inflight", "none", NULL };
	const char *no_file[] = { "--config", "/nonexistent/ls11cloudd.conf", NULL };
	const char *bad_listen[] = { "--config", "/dev/null", "--state-dir", state, "--listen",
		                     "203.0.113.1:1", NULL };
	const char *help[] = { "--help", NULL };

	snprintf(state, sizeof(state), "%s/state", srv.dir);
	ts_config(&srv, "listen = 127.0.0.1:0\nfrobnicate = yes\n");
	cr_assert_eq(run_daemon(bad_key, out, sizeof(out)), 1);
	cr_assert(strstr(out, ":2: unknown setting 'frobnicate'") != NULL, "%s", out);
	cr_assert_eq(run_daemon(bad_value, out, sizeof(out)), 1);
	cr_assert(strstr(out, "max-inflight: 'none' is not a number") != NULL, "%s", out);
	cr_assert_eq(run_daemon(no_file, out, sizeof(out)), 1);
	cr_assert(strstr(out, "No such file") != NULL, "%s", out);
	cr_assert_eq(run_daemon(bad_listen, out, sizeof(out)), 1, "an address not on this host");
	cr_assert(strstr(out, "bind") != NULL, "%s", out);
	cr_assert_eq(run_daemon(help, out, sizeof(out)), 0);
	cr_assert(strstr(out, "--resume-lease") != NULL, "%s", out);
}

Test(lifecycle, garbage_and_oversized_frames_are_dropped_and_the_server_goes_on)
{
	static const uint8_t huge[] = { 0x00, 0x10, 0x00, 0x00 }; /* 1 MiB during the handshake */
	static const uint8_t empty[] = { 0x00, 0x00, 0x00, 0x00 };
	uint8_t junk[512], buf[64];
	ts_client c;
	int fd;
	size_t i;

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);

	fd = ts_connect_fd(srv.port);
	cr_assert_eq(write(fd, huge, sizeof(huge)), 4);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0, "a frame over the handshake's cap: closed");
	close(fd);

	fd = ts_connect_fd(srv.port);
	cr_assert_eq(write(fd, empty, sizeof(empty)), 4);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0, "an empty frame: closed");
	close(fd);

	fd = ts_connect_fd(srv.port);
	junk[0] = 0;
	junk[1] = 0;
	junk[2] = 1;
	junk[3] = 0xfc; /* a 508-byte frame of junk: not a client hello */
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	while (read(fd, buf, sizeof(buf)) > 0) /* an ERROR message, then the end */
		;
	close(fd);

	ts_login_ok(&c, srv.port, "alice", "correct horse");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}
