/*
 * LS11CLOUD - the one rule for cloud passwords, shared by ls11cloud_config and ls11cloud-admin.
 *
 * A cloud password is 6 to 256 printable ASCII characters of at least two kinds (lower case,
 * upper case, digits, punctuation).  Non-Latin letters are refused because the seed warns that
 * they are encoded differently from one system to the next, and the SESPAKE verifier is made
 * from the bytes.
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOOLS_PASSWORD_H
#define LS11_TOOLS_PASSWORD_H

#include <stddef.h>

#define LS_TOOLS_PASSWORD_MIN 6
#define LS_TOOLS_PASSWORD_MAX 256

/* NULL when the @len bytes at @pw are acceptable as a new cloud password; otherwise the reason,
 * translated, as a clause ("it is shorter than 6 characters"). */
const char *ls_tools_password_weakness(const char *pw, size_t len);

#endif /* LS11_TOOLS_PASSWORD_H */
