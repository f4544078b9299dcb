/*
 * p11conf - private header: the one definition of _() and the constant name tables.
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOOLS_P11CONF_H
#define LS11_TOOLS_P11CONF_H

#include "pkcs11x.h"

#include "i18n.h"

struct p11conf_name {
	CK_ULONG value;
	const char *name;
};

/* Tables end with { 0, NULL }.  In p11conf-names.c. */
extern const struct p11conf_name p11conf_ckm_names[];
extern const struct p11conf_name p11conf_ckr_names[];
extern const struct p11conf_name p11conf_cka_names[];
extern const struct p11conf_name p11conf_cko_names[];
extern const struct p11conf_name p11conf_ckk_names[];
extern const struct p11conf_name p11conf_ckc_names[];

#endif
