/*
 * Benchmark of SESPAKE (core/crypto-sespake.c): CPU time of a whole exchange per curve and per
 * side, against two baselines measured in the same run - PBKDF2-HMAC-Streebog-512 with 2000
 * iterations (the client's fixed cost) and one constant-time scalar multiplication on the curve
 * (the unit of the server's cost).  Prints one JSON object on stdout.
 *
 * Client time = ls_sespake_client_new (PBKDF2 + F * Q_ind) + start + finish + confirm.
 * Server time = ls_sespake_server_new (verifier check) + respond + confirm.
 * Each figure is the best of 3 rounds of the mean over ROUND_RUNS runs, in thread CPU time, after
 * a warm-up; the PBKDF2 baseline is measured before and after the curves and the better kept.
 * Links the test variant of the core library for ls_sespake_test_point_mul().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "sespake.h"

#define BEST_OF    3
#define ROUND_RUNS 5
#define MUL_RUNS   40

static const struct {
	ls_curve curve;
	const char *name;
} curves[] = {
	{ LS_CURVE_CP_A, "cp-A" },
	{ LS_CURVE_CP_B, "cp-B" },
	{ LS_CURVE_CP_C, "cp-C" },
	{ LS_CURVE_TC26_256_A, "tc26-256-A" },
	{ LS_CURVE_TC26_512_A, "tc26-512-A" },
	{ LS_CURVE_TC26_512_B, "tc26-512-B" },
	{ LS_CURVE_TC26_512_C, "tc26-512-C" },
};
#define NUM_CURVES (sizeof(curves) / sizeof(curves[0]))

static const char PASSWORD[] = "correct horse battery staple";
static const uint8_t ID_A[] = "bench@ls11cloud";
static const uint8_t ID_B[] = "ls11cloudd";

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench-sespake: %s: %s\n", what, ls_strerror(rc));
	exit(1);
}

/* One exchange; adds the CPU time spent on each side to *@client and *@server. */
static void
exchange(const ls_sespake_verifier *ver, double *client, double *server)
{
	static const uint8_t data_a[32] = {1}, data_b[32] = {2};
	uint8_t u1[LS_SESPAKE_MAX_POINT], u2[LS_SESPAKE_MAX_POINT], mac_a[32], mac_b[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	size_t u1_len, u2_len;
	double t;
	int rc;

	t = now_ms();
	rc = ls_sespake_client_new((ls_curve)ver->curve, ver->ind, ver->salt, ver->salt_len,
	                           PASSWORD, sizeof(PASSWORD) - 1, ID_A, sizeof(ID_A) - 1, ID_B,
	                           sizeof(ID_B) - 1, &a);
	if (rc == LS_OK)
		rc = ls_sespake_client_start(a, u1, sizeof(u1), &u1_len);
	*client += now_ms() - t;
	if (rc != LS_OK)
		die("client start", rc);

	t = now_ms();
	rc = ls_sespake_server_new(ver, ID_A, sizeof(ID_A) - 1, ID_B, sizeof(ID_B) - 1, &b);
	if (rc == LS_OK)
		rc = ls_sespake_server_respond(b, u1, u1_len, u2, sizeof(u2), &u2_len);
	*server += now_ms() - t;
	if (rc != LS_OK)
		die("server respond", rc);

	t = now_ms();
	rc = ls_sespake_client_finish(a, u2, u2_len, data_a, sizeof(data_a), mac_a);
	*client += now_ms() - t;
	if (rc != LS_OK)
		die("client finish", rc);

	t = now_ms();
	rc = ls_sespake_server_confirm(b, data_a, sizeof(data_a), mac_a, sizeof(mac_a), data_b,
	                               sizeof(data_b), mac_b);
	*server += now_ms() - t;
	if (rc != LS_OK)
		die("server confirm", rc);

	t = now_ms();
	rc = ls_sespake_client_confirm(a, data_b, sizeof(data_b), mac_b, sizeof(mac_b));
	ls_sespake_free(a);
	*client += now_ms() - t;
	if (rc != LS_OK)
		die("client confirm", rc);
	ls_sespake_free(b);
}

static double
pbkdf2_ms(void)
{
	static const uint8_t salt[16] = {0x29, 0x23, 0xbe, 0x84};
	uint8_t out[64];
	double best = 0;
	int i, j, rc;

	for (i = 0; i < BEST_OF; i++) {
		double t = now_ms();

		for (j = 0; j < ROUND_RUNS; j++) {
			rc = ls_pbkdf2_streebog512(PASSWORD, sizeof(PASSWORD) - 1, salt,
			                           sizeof(salt), LS_SESPAKE_ITERATIONS, out,
			                           sizeof(out));
			if (rc != LS_OK)
				die("PBKDF2", rc);
		}
		t = (now_ms() - t) / ROUND_RUNS;
		if (i == 0 || t < best)
			best = t;
	}
	return best;
}

static double
point_mul_ms(ls_curve curve)
{
	double best = 0;
	int i, rc;

	for (i = 0; i < BEST_OF; i++) {
		double t = now_ms();

		if ((rc = ls_sespake_test_point_mul(curve, MUL_RUNS)) != LS_OK)
			die("point multiplication", rc);
		t = (now_ms() - t) / MUL_RUNS;
		if (i == 0 || t < best)
			best = t;
	}
	return best;
}

static void
print_result(bool *first, const char *curve, const char *side, double value,
             const char *baseline_name, double baseline)
{
	printf("%s\n    {\"curve\":\"%s\",\"side\":\"%s\",\"unit\":\"ms\",\"value\":%.4f,"
	       "\"baseline_name\":\"%s\",\"baseline\":%.4f,\"ratio\":%.3f}",
	       *first ? "" : ",", curve, side, value, baseline_name, baseline,
	       baseline > 0 ? value / baseline : 0.0);
	*first = false;
}

int
main(void)
{
	double pbkdf2, c, client[NUM_CURVES], server[NUM_CURVES], mul[NUM_CURVES];
	bool first = true;
	size_t i;
	int rc;

	if ((rc = ls_crypto_init()) != LS_OK)
		die("crypto backend", rc);
	(void)pbkdf2_ms(); /* warm-up: the first runs of a process are slower */
	pbkdf2 = pbkdf2_ms();

	for (i = 0; i < NUM_CURVES; i++) {
		ls_sespake_verifier ver;
		double c_best = 0, s_best = 0, s;
		int round, j;

		rc = ls_sespake_verifier_make(curves[i].curve, 1, NULL, 32, PASSWORD,
		                              sizeof(PASSWORD) - 1, &ver);
		if (rc != LS_OK)
			die("verifier", rc);
		/* The curve's one-time set-up is not part of an exchange. */
		c = s = 0;
		exchange(&ver, &c, &s);
		for (round = 0; round < BEST_OF; round++) {
			c = s = 0;
			for (j = 0; j < ROUND_RUNS; j++)
				exchange(&ver, &c, &s);
			c /= ROUND_RUNS;
			s /= ROUND_RUNS;
			if (round == 0 || c < c_best)
				c_best = c;
			if (round == 0 || s < s_best)
				s_best = s;
		}
		client[i] = c_best;
		server[i] = s_best;
		mul[i] = point_mul_ms(curves[i].curve);
		ls_wipe(&ver, sizeof(ver));
	}
	if ((c = pbkdf2_ms()) < pbkdf2)
		pbkdf2 = c;

	printf("{\"benchmark\":\"sespake\",\"clock\":\"thread-cpu\",\"best_of\":%d,"
	       "\"runs_per_round\":%d,\"results\":[",
	       BEST_OF, ROUND_RUNS);
	for (i = 0; i < NUM_CURVES; i++) {
		print_result(&first, curves[i].name, "client", client[i], "pbkdf2_2000", pbkdf2);
		print_result(&first, curves[i].name, "server", server[i], "ec_point_mul", mul[i]);
	}
	printf("\n]}\n");
	return 0;
}
