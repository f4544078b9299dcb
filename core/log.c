/*
 * LS11CLOUD - levelled logging.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static ls_log_handler log_handler;
static void *log_user_data;
static int log_threshold = -1;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void
log_read_env(void)
{
	const char *env = getenv("LS11CLOUD_LOG");

	if (log_threshold >= 0)
		return;
	log_threshold = LS_LOG_WARNING;
	if (env == NULL)
		return;
	if (strcasecmp(env, "error") == 0)
		log_threshold = LS_LOG_ERROR;
	else if (strcasecmp(env, "info") == 0)
		log_threshold = LS_LOG_INFO;
	else if (strcasecmp(env, "debug") == 0)
		log_threshold = LS_LOG_DEBUG;
}

void
ls_log_set_handler(ls_log_handler handler, void *user_data)
{
	log_handler = handler;
	log_user_data = user_data;
}

void
ls_log_set_level(ls_log_level level)
{
	pthread_once(&log_once, log_read_env);
	log_threshold = (int)level;
}

int
ls_log_enabled(ls_log_level level)
{
	if (log_handler != NULL)
		return 1;
	pthread_once(&log_once, log_read_env);
	return (int)level <= log_threshold;
}

void
ls_logv(ls_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024];

	if (!ls_log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_handler != NULL) {
		log_handler(level, msg, log_user_data);
		return;
	}
	fprintf(stderr, "ls11cloud: %s: %s\n", names[level > LS_LOG_DEBUG ? LS_LOG_DEBUG : level],
	        msg);
}

void
ls_log(ls_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ls_logv(level, fmt, ap);
	va_end(ap);
}
