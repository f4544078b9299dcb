/*
 * LS11CLOUD - what the crypto-*.c backend files share among themselves.  Private: nothing outside
 * core/crypto-*.c includes this header, and it is the only place OpenSSL types meet ours.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_CRYPTO_PRIVATE_H
#define LS11_CORE_CRYPTO_PRIVATE_H

#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "log.h"

/* The private library context (gostprov + default); valid after a successful ls_crypto_init(). */
OSSL_LIB_CTX *ls_crypto_libctx(void);
/* The initialised "gost" ENGINE (asymmetric operations); never set as a default. */
ENGINE *ls_crypto_engine(void);
/* Fetched algorithm objects, cached at init. NULL if the algorithm is unknown. */
const EVP_MD *ls_crypto_md(ls_md_alg alg);
/* A cached cipher by gost name ("kuznyechik-ecb", ...), fetched from our context at init. */
const EVP_CIPHER *ls_crypto_cipher(const char *name);

/*
 * Drains OpenSSL's error queue of this thread into the log under @op and returns LS_ERR_CRYPTO,
 * so failure paths read `return ls_crypto_fail("EVP_DigestInit_ex");`.
 */
int ls_crypto_fail(const char *op);

/* Called by ls_crypto_init() once the context exists: warms each curve (crypto-gost3410.c). */
int ls_crypto_warm_curves(void);

#endif /* LS11_CORE_CRYPTO_PRIVATE_H */
