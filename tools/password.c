/*
 * LS11CLOUD - the one rule for cloud passwords (tools/password.h).
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "password.h"

#include <stdbool.h>

#include "i18n.h"

const char *
ls_tools_password_weakness(const char *pw, size_t len)
{
	bool lower = false, upper = false, digit = false, other = false;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		/* Classified by hand: the locale must not decide what a letter is. */
		if (c >= 0x80)
			return _("it contains non-Latin (non-ASCII) characters: use Latin letters, digits "
			         "and punctuation only");
		if (c < 0x20 || c == 0x7f)
			return _("it contains control characters");
		if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else
			other = true;
	}
	if (len < LS_TOOLS_PASSWORD_MIN)
		return _("it is shorter than 6 characters");
	if (len > LS_TOOLS_PASSWORD_MAX)
		return _("it is longer than 256 characters");
	if (lower + upper + digit + other < 2)
		return _("it uses one kind of character only: mix letters, digits or punctuation");
	return NULL;
}
