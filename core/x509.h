/*
 * LS11CLOUD - X.509 certificates, PKCS#10 requests and PKCS#12 containers for GOST keys.
 *
 * An OpenSSL-free view of the three file formats a token's owner handles (core/crypto-x509.c
 * does the work with OpenSSL 3 + gost-engine, in the private library context of crypto.h):
 *
 *  - a certificate (DER or PEM) is taken apart into what a PKCS#11 CKO_CERTIFICATE holds
 *    (subject, issuer, serial number, value) and its GOST public key as PKCS#11 has it;
 *  - a PKCS#10 request is built in two steps around a signer that is not here (a token):
 *    ls_csr_tbs() gives the DER CertificationRequestInfo to sign, ls_csr_assemble() wraps the
 *    signature into the request;
 *  - a PKCS#12 container is opened with its password (MAC and PBES2 with GOST or standard
 *    algorithms) into its private keys, their public keys and its certificates.
 *
 * Conventions of crypto.h: LS_OK or a negative LS_ERR_*; public keys are LE(x) || LE(y),
 * private scalars little-endian, signatures s || r as a token returns them for
 * CKM_GOSTR3410_WITH_GOSTR3411_12_256/512 (the X.509 BIT STRING carries exactly these bytes).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_X509_H
#define LS11_CORE_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/* The largest certificate, request or PKCS#12 file accepted (bytes). */
#define LS_X509_MAX_INPUT (1u << 20)
/* The most keys or certificates one PKCS#12 may hold. */
#define LS_P12_MAX_ITEMS 32

typedef struct {
	uint8_t *der; /* the whole certificate, DER */
	size_t der_len;
	uint8_t *subject; /* DER Name */
	size_t subject_len;
	uint8_t *issuer; /* DER Name */
	size_t issuer_len;
	uint8_t *serial; /* DER INTEGER (what CKA_SERIAL_NUMBER holds) */
	size_t serial_len;
	bool gost;        /* the subject public key is a GOST R 34.10-2012 key */
	ls_curve curve;   /* when gost */
	uint8_t pub[128]; /* when gost: LE(x) || LE(y) */
	size_t pub_len;
} ls_x509_cert;

/*
 * Parses one certificate, DER or PEM ("-----BEGIN CERTIFICATE-----").  LS_ERR_MALFORMED for
 * anything else, LS_ERR_TRAILING_DATA for bytes after a DER certificate, LS_ERR_TOO_LARGE above
 * LS_X509_MAX_INPUT.  A certificate for a key that is not GOST parses with gost = false.
 * Free with ls_x509_cert_clear().
 */
int ls_x509_cert_parse(const uint8_t *data, size_t len, ls_x509_cert *out);
void ls_x509_cert_clear(ls_x509_cert *cert);

/*
 * The DER CertificationRequestInfo (version 0, no attributes) for the public key @pub
 * (LE(x) || LE(y)) on @curve and @subject, written "/CN=Ivan/O=Org/C=RU" or
 * "CN=Ivan,O=Org,C=RU" (a backslash escapes the next character; values are UTF-8).
 * LS_ERR_INVALID_ARG for a subject with an unknown attribute name or an empty value.
 * *@tbs is malloc'd (free()).
 */
int ls_csr_tbs(ls_curve curve, const uint8_t *pub, size_t pub_len, const char *subject,
               uint8_t **tbs, size_t *tbs_len);

/*
 * The signed CertificationRequest: @tbs from ls_csr_tbs(), the signature algorithm
 * id-tc26-signwithdigest-gost3410-12-256 or -512 by the size of @curve, and @sig (s || r of
 * 2 * ls_curve_size() bytes).  PEM ("CERTIFICATE REQUEST") when @pem, DER otherwise.
 * *@out is malloc'd (free()).
 */
int ls_csr_assemble(ls_curve curve, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                    size_t sig_len, bool pem, uint8_t **out, size_t *out_len);

typedef struct {
	ls_curve curve;
	uint8_t priv[64]; /* little-endian scalar, ls_curve_size() bytes: secret */
	size_t priv_len;
	uint8_t pub[128]; /* LE(x) || LE(y) */
	size_t pub_len;
	char *friendly_name;   /* UTF-8 or NULL */
	uint8_t *local_key_id; /* or NULL */
	size_t local_key_id_len;
} ls_p12_key;

typedef struct {
	ls_x509_cert cert;
	char *friendly_name;
	uint8_t *local_key_id;
	size_t local_key_id_len;
} ls_p12_cert;

typedef struct {
	ls_p12_key *keys;
	size_t n_keys;
	ls_p12_cert *certs;
	size_t n_certs;
} ls_p12;

/*
 * Opens a DER PKCS#12 (PFX) with @password (UTF-8, may be empty).  The MAC, when present, is
 * checked first.  Errors: LS_ERR_AUTH_FAILED for a wrong password (MAC mismatch, or content
 * that does not decrypt), LS_ERR_MALFORMED for a file that is not a PKCS#12,
 * LS_ERR_UNSUPPORTED for a private key that is not GOST R 34.10-2012 or an algorithm the
 * backend lacks, LS_ERR_TOO_LARGE beyond LS_X509_MAX_INPUT or LS_P12_MAX_ITEMS.  Free with
 * ls_p12_free(), which wipes the private scalars.
 */
int ls_p12_parse(const uint8_t *data, size_t len, const char *password, ls_p12 **out);
void ls_p12_free(ls_p12 *p12);

#endif /* LS11_CORE_X509_H */
