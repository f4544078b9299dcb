/*
 * LS11CLOUD - the command-line tools' one definition of _() and N_().
 *
 * Every user-facing string of a tool goes through _() (or N_() where it must stay a constant),
 * so that xgettext finds it.  With ENABLE_NLS the strings are looked up in the "ls11cloud"
 * catalogue; without it they are the English originals.  Each tool's main() starts with
 * ls_tools_i18n_init() (docs/i18n.md).
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOOLS_I18N_H
#define LS11_TOOLS_I18N_H

#include "config.h"

#ifdef ENABLE_NLS
#include <libintl.h>
#define _(s) gettext(s)
#else
#define _(s) (s)
#endif
#define N_(s) (s)

/* setlocale(LC_ALL, "") and, with ENABLE_NLS, the "ls11cloud" text domain bound to LOCALEDIR
 * (or to $LS11CLOUD_LOCALEDIR, the tests' build-tree catalogues).  In tools/i18n.c. */
void ls_tools_i18n_init(void);

#endif /* LS11_TOOLS_I18N_H */
