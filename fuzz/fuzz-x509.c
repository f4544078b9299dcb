/*
 * Fuzz target: the certificate and PKCS#12 parsers of core/x509.h (p11conf reads these files
 * from users).
 *
 * Input: byte 0 picks the parser (even: ls_x509_cert_parse, odd: ls_p12_parse with the
 * password "fuzz", the one of the seed containers); the rest is the file.  Checked: a parsed
 * certificate's DER parses again into the same fields; a parsed PKCS#12 holds at most
 * LS_P12_MAX_ITEMS keys and certificates, each key with a scalar of its curve's size and a
 * public key twice that; failures leave nothing allocated (the leak checker of the sanitizer
 * build).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz-common.h"
#include "x509.h"

static bool
same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static void
check_cert(const ls_x509_cert *c)
{
	ls_x509_cert again;

	FUZZ_CHECK(c->der != NULL && c->subject != NULL && c->issuer != NULL && c->serial != NULL);
	FUZZ_CHECK(ls_x509_cert_parse(c->der, c->der_len, &again) == LS_OK);
	FUZZ_CHECK(same(again.der, again.der_len, c->der, c->der_len));
	FUZZ_CHECK(same(again.subject, again.subject_len, c->subject, c->subject_len));
	FUZZ_CHECK(same(again.issuer, again.issuer_len, c->issuer, c->issuer_len));
	FUZZ_CHECK(same(again.serial, again.serial_len, c->serial, c->serial_len));
	FUZZ_CHECK(again.gost == c->gost && same(again.pub, again.pub_len, c->pub, c->pub_len));
	if (c->gost)
		FUZZ_CHECK(c->pub_len == 2 * ls_curve_size(c->curve));
	ls_x509_cert_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_x509_cert c;
	ls_p12 *p = NULL;
	size_t i;

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		if (ls_x509_cert_parse(data + 1, size - 1, &c) == LS_OK) {
			check_cert(&c);
			ls_x509_cert_clear(&c);
		}
		return 0;
	}
	if (ls_p12_parse(data + 1, size - 1, "fuzz", &p) != LS_OK) {
		FUZZ_CHECK(p == NULL);
		return 0;
	}
	FUZZ_CHECK(p->n_keys <= LS_P12_MAX_ITEMS && p->n_certs <= LS_P12_MAX_ITEMS);
	for (i = 0; i < p->n_keys; i++) {
		FUZZ_CHECK(p->keys[i].priv_len == ls_curve_size(p->keys[i].curve));
		FUZZ_CHECK(p->keys[i].pub_len == 2 * p->keys[i].priv_len);
	}
	for (i = 0; i < p->n_certs; i++)
		check_cert(&p->certs[i].cert);
	ls_p12_free(p);
	return 0;
}
