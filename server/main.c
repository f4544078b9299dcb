/*
 * LS11CLOUD - ls11cloudd, the cloud token server (docs/server.md).
 *
 *   ls11cloudd [--config FILE] [--listen HOST:PORT]... [--state-dir DIR] [--KEY VALUE]...
 *
 * Runs in the foreground, logs to stderr (or syslog), stops cleanly on SIGTERM or SIGINT.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "settings.h"

typedef struct {
	ls_log_level threshold;
	bool syslog;
	bool journal; /* stderr goes to the journal: prefix the priority, no time stamp */
} log_sink;

static log_sink sink;

static void
log_handler(ls_log_level level, const char *message, void *user_data)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const names[] = { "error", "warning", "info", "debug" };
	log_sink *s = user_data;
	unsigned l = level > LS_LOG_DEBUG ? LS_LOG_DEBUG : level;
	char stamp[32];
	struct tm tm;
	time_t now;

	if (level > s->threshold)
		return;
	if (s->syslog) {
		syslog(prio[l], "%s", message);
		return;
	}
	if (s->journal) {
		fprintf(stderr, "<%d>%s: %s\n", prio[l], names[l], message);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s ls11cloudd %s: %s\n", stamp, names[l], message);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	        "usage: ls11cloudd [--config FILE] [--listen HOST:PORT]... [--state-dir DIR]\n"
	        "                  [--KEY VALUE]...\n"
	        "\n"
	        "The LS11CLOUD cloud token server.  Runs in the foreground; SIGTERM stops it.\n"
	        "\n"
	        "  --config FILE       settings file (default %s, if present)\n"
	        "  --listen HOST:PORT  address to listen on, repeatable (default 0.0.0.0:4444 and\n"
	        "                      [::]:4444); port 0 picks a free port\n"
	        "  --state-dir DIR     accounts, tokens and keys (default %s)\n"
	        "  --help, --version\n"
	        "\n"
	        "Every setting of the file is also an option (docs/server.md):\n ",
	        LSD_DEFAULT_CONFIG, LSD_DEFAULT_STATE_DIR);
	for (i = 0; lsd_config_keys[i] != NULL; i++)
		fprintf(f, " --%s%s", lsd_config_keys[i], i % 4 == 3 ? "\n " : "");
	fprintf(f, "\n");
}

int
main(int argc, char **argv)
{
	enum { OPT_HELP = 1000, OPT_VERSION, OPT_CONFIG, OPT_KEY };
	struct option opts[64];
	struct {
		const char *key;
		const char *value;
	} cli[128];
	const char *config_path = NULL;
	char err[512];
	lsd_config cfg;
	lsd_server *srv = NULL;
	size_t n_opts = 0, n_cli = 0, i;
	bool cli_listen = false;
	int c, idx, status;

	for (i = 0; lsd_config_keys[i] != NULL; i++)
		opts[n_opts++] = (struct option){ lsd_config_keys[i], required_argument, NULL, OPT_KEY };
	opts[n_opts++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	opts[n_opts++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	opts[n_opts++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	opts[n_opts] = (struct option){ NULL, 0, NULL, 0 };

	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("ls11cloudd %s\n", PACKAGE_VERSION);
			return 0;
		case OPT_CONFIG:
			config_path = optarg;
			break;
		case OPT_KEY:
			if (n_cli == sizeof(cli) / sizeof(cli[0])) {
				fprintf(stderr, "ls11cloudd: too many options\n");
				return 2;
			}
			cli[n_cli].key = opts[idx].name;
			cli[n_cli].value = optarg;
			if (strcmp(opts[idx].name, "listen") == 0)
				cli_listen = true;
			n_cli++;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ls11cloudd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	lsd_config_init(&cfg);
	if (lsd_config_load(&cfg, config_path != NULL ? config_path : LSD_DEFAULT_CONFIG,
	                    config_path != NULL, err, sizeof(err)) != 0)
		goto config_error;
	/* The command line wins; its --listen addresses replace the file's. */
	if (cli_listen)
		lsd_config_reset_listen(&cfg);
	for (i = 0; i < n_cli; i++) {
		if (lsd_config_set(&cfg, cli[i].key, cli[i].value, err, sizeof(err)) != 0)
			goto config_error;
	}
	if (lsd_config_finish(&cfg, err, sizeof(err)) != 0)
		goto config_error;

	sink.threshold = cfg.log_level;
	sink.syslog = cfg.log_target == LSD_LOG_SYSLOG;
	sink.journal = !sink.syslog && getenv("JOURNAL_STREAM") != NULL;
	if (sink.syslog)
		openlog("ls11cloudd", LOG_PID, LOG_DAEMON);
	ls_log_set_handler(log_handler, &sink);

	/* Everything the server writes (store, keys) is for its own user only. */
	umask(077);
	status = 1;
	if (lsd_server_new(&cfg, &srv) == 0)
		status = lsd_server_run(srv);
	lsd_server_free(srv);
	ls_log_set_handler(NULL, NULL);
	if (sink.syslog)
		closelog();
	lsd_config_clear(&cfg);
	return status;

config_error:
	fprintf(stderr, "ls11cloudd: %s\n", err);
	lsd_config_clear(&cfg);
	return 1;
}
