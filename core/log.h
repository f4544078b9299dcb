/*
 * LS11CLOUD - levelled logging for libraries: never stdout, never secrets.
 *
 * The default sink writes to stderr messages at or above the level named by the LS11CLOUD_LOG
 * environment variable (error, warning, info, debug; default warning).  Programs install their own
 * sink (syslog in the server) with ls_log_set_handler().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_LOG_H
#define LS11_CORE_LOG_H

#include <stdarg.h>

typedef enum {
	LS_LOG_ERROR = 0,
	LS_LOG_WARNING = 1,
	LS_LOG_INFO = 2,
	LS_LOG_DEBUG = 3,
} ls_log_level;

typedef void (*ls_log_handler)(ls_log_level level, const char *message, void *user_data);

/* Replaces the sink; NULL restores the default.  Not thread-safe against concurrent logging. */
void ls_log_set_handler(ls_log_handler handler, void *user_data);
/* Sets the threshold of the default sink. */
void ls_log_set_level(ls_log_level level);
/* True when a message at @level would be emitted (to skip building expensive messages). */
int ls_log_enabled(ls_log_level level);

void ls_log(ls_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ls_logv(ls_log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define ls_error(...) ls_log(LS_LOG_ERROR, __VA_ARGS__)
#define ls_warning(...) ls_log(LS_LOG_WARNING, __VA_ARGS__)
#define ls_info(...) ls_log(LS_LOG_INFO, __VA_ARGS__)
#define ls_debug(...) ls_log(LS_LOG_DEBUG, __VA_ARGS__)

/* Programmer-error guard in the p11-kit style: logs and returns @val, never aborts. */
#define ls_return_val_if_fail(expr, val)                                                          \
	do {                                                                                      \
		if (!(expr)) {                                                                    \
			ls_log(LS_LOG_WARNING, "%s: check failed: %s", __func__, #expr);         \
			return (val);                                                             \
		}                                                                                 \
	} while (0)

#endif /* LS11_CORE_LOG_H */
