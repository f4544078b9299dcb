/*
 * LS11CLOUD - the command-line tools' translations: one call at the start of each main().
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>

#include "i18n.h"

void
ls_tools_i18n_init(void)
{
	setlocale(LC_ALL, "");
#ifdef ENABLE_NLS
	{
		/*
		 * LS11CLOUD_LOCALEDIR points at another locale tree, as GIT_TEXTDOMAINDIR does for
		 * git: the tests use the catalogues of the build tree (build/po) without installing.
		 * secure_getenv: ignored by a program running with raised privileges.
		 */
		const char *dir = secure_getenv("LS11CLOUD_LOCALEDIR");

		bindtextdomain(GETTEXT_PACKAGE, dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR);
		textdomain(GETTEXT_PACKAGE);
	}
#endif
}
