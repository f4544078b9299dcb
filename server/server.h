/*
 * LS11CLOUD - ls11cloudd: the server as a unit (main.c runs it; docs/server.md describes it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_SERVER_SERVER_H
#define LS11_SERVER_SERVER_H

#include "settings.h"

typedef struct lsd_server lsd_server;

/*
 * Prepares everything the server needs before it serves: the state directory (created 0700),
 * the store, the identity key and the server secret (created at the first start, 0600), the
 * worker pool and the listeners.  Prints "listening on HOST:PORT" to stdout for each listener
 * (with the real port when the configured one is 0) once it accepts connections.  @cfg must
 * outlive the server.  Returns 0, or -1 after logging why.
 */
int lsd_server_new(lsd_config *cfg, lsd_server **out);

/* Runs the event loop until SIGTERM or SIGINT; then stops cleanly.  Returns 0. */
int lsd_server_run(lsd_server *srv);

/* Closes every connection, waits for the workers, frees everything.  NULL is accepted. */
void lsd_server_free(lsd_server *srv);

#endif /* LS11_SERVER_SERVER_H */
