/*
 * LS11CLOUD - certificates, PKCS#10 requests and PKCS#12 containers (core/x509.h).
 *
 * Parsing is OpenSSL's; everything that needs an algorithm runs in our private library context
 * or through our own reference on the gost ENGINE.  OpenSSL's own PKCS#12 helpers fetch the
 * MAC digest and the PBES2 cipher from the process's default context, which knows no GOST
 * algorithm in a program that did not configure the engine globally, and gostprov 3.0.1's
 * ciphers cannot read the GOST 28147-89 AlgorithmIdentifier parameters; so the MAC check and
 * the PBES2 decryption are put together here from public pieces: the PFX MAC (RFC 7292 with the
 * TC26 rule for GOST digests, R 50.1.112-2016: PBKDF2 of 96 bytes, the last 32 are the key)
 * and PBES2 (PBKDF2 + the engine's cipher with its ASN.1 parameters).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "x509.h"

/* PBKDF2 iterations accepted from a file (OpenSSL writes 2048; CryptoPro up to 2000). */
#define MAX_ITER 1000000L
/* Depth of nested SafeContents bags. */
#define MAX_DEPTH 3

static const uint8_t sigalg_256[] = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x85, 0x03,
                                     0x07, 0x01, 0x01, 0x03, 0x02, 0x05, 0x00};
static const uint8_t sigalg_512[] = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x85, 0x03,
                                     0x07, 0x01, 0x01, 0x03, 0x03, 0x05, 0x00};

static uint8_t *
dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

/* ------------------------------------------------------------------------------------------- */
/* Certificates */

void
ls_x509_cert_clear(ls_x509_cert *cert)
{
	if (cert == NULL)
		return;
	free(cert->der);
	free(cert->subject);
	free(cert->issuer);
	free(cert->serial);
	memset(cert, 0, sizeof(*cert));
}

/* i2d of @obj into a fresh malloc'd buffer. */
#define I2D_DUP(fn, obj, dst, dst_len)                                                             \
	do {                                                                                       \
		unsigned char *tmp_ = NULL;                                                        \
		int n_ = fn(obj, &tmp_);                                                           \
		if (n_ <= 0) {                                                                     \
			r = ls_crypto_fail(#fn);                                                   \
			goto out;                                                                  \
		}                                                                                  \
		*(dst) = dup_bytes(tmp_, (size_t)n_);                                              \
		OPENSSL_free(tmp_);                                                                \
		if (*(dst) == NULL) {                                                              \
			r = LS_ERR_NOMEM;                                                          \
			goto out;                                                                  \
		}                                                                                  \
		*(dst_len) = (size_t)n_;                                                           \
	} while (0)

static int
cert_from_x509(X509 *x, ls_x509_cert *c)
{
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	ls_gost_key *key = NULL;
	int r = LS_OK;

	memset(c, 0, sizeof(*c));
	I2D_DUP(i2d_X509, x, &c->der, &c->der_len);
	I2D_DUP(i2d_X509_NAME, X509_get_subject_name(x), &c->subject, &c->subject_len);
	I2D_DUP(i2d_X509_NAME, X509_get_issuer_name(x), &c->issuer, &c->issuer_len);
	I2D_DUP(i2d_ASN1_INTEGER, X509_get0_serialNumber(x), &c->serial, &c->serial_len);
	I2D_DUP(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(x), &spki, &spki_len);
	if (ls_gost_key_from_spki(spki, spki_len, &key) == LS_OK) {
		c->gost = true;
		c->curve = ls_gost_key_curve(key);
		c->pub_len = 2 * ls_curve_size(c->curve);
		r = ls_gost_key_public(key, c->pub, c->pub_len);
	}
out:
	ls_gost_key_free(key);
	free(spki);
	if (r != LS_OK)
		ls_x509_cert_clear(c);
	return r;
}

static bool
is_pem(const uint8_t *data, size_t len)
{
	static const char mark[] = "-----BEGIN ";
	size_t i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return len - i >= sizeof(mark) - 1 && memcmp(data + i, mark, sizeof(mark) - 1) == 0;
}

/* The first PEM block named @want (a malloc'd DER in *@der), LS_ERR_MALFORMED if none. */
static int
pem_block(const uint8_t *data, size_t len, const char *want, uint8_t **der, size_t *der_len)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int r = LS_ERR_MALFORMED;

	if (bio == NULL)
		return LS_ERR_NOMEM;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *body = NULL;
		long n = 0;

		ERR_set_mark();
		if (!PEM_read_bio(bio, &name, &header, &body, &n)) {
			ERR_pop_to_mark();
			break;
		}
		ERR_pop_to_mark();
		if (strcmp(name, want) == 0 && n > 0) {
			*der = dup_bytes(body, (size_t)n);
			*der_len = (size_t)n;
			r = *der != NULL ? LS_OK : LS_ERR_NOMEM;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(body);
		if (r != LS_ERR_MALFORMED)
			break;
	}
	BIO_free(bio);
	return r;
}

static int
cert_from_der(const uint8_t *der, size_t len, ls_x509_cert *out)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	ERR_set_mark();
	x = d2i_X509(NULL, &p, (long)len);
	ERR_pop_to_mark();
	if (x == NULL)
		return LS_ERR_MALFORMED;
	if (p != der + len)
		r = LS_ERR_TRAILING_DATA;
	else
		r = cert_from_x509(x, out);
	X509_free(x);
	return r;
}

int
ls_x509_cert_parse(const uint8_t *data, size_t len, ls_x509_cert *out)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	int r;

	ls_return_val_if_fail(data != NULL && out != NULL, LS_ERR_INVALID_ARG);
	memset(out, 0, sizeof(*out));
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (len == 0)
		return LS_ERR_TRUNCATED;
	if (len > LS_X509_MAX_INPUT)
		return LS_ERR_TOO_LARGE;
	if (!is_pem(data, len))
		return cert_from_der(data, len, out);
	if ((r = pem_block(data, len, "CERTIFICATE", &der, &der_len)) != LS_OK)
		return r;
	r = cert_from_der(der, der_len, out);
	free(der);
	return r;
}

/* ------------------------------------------------------------------------------------------- */
/* PKCS#10 */

/* Splits @subject into @name: "/A=v/B=w" or "A=v,B=w" (also "A=v, B=w"); '\' escapes. */
static int
subject_parse(const char *subject, X509_NAME *name)
{
	size_t n = strlen(subject);
	char *buf;
	const char *s = subject;
	char sep = ',';
	int r = LS_OK, count = 0;

	if (n == 0 || n > 4096)
		return LS_ERR_INVALID_ARG;
	if (*s == '/') {
		sep = '/';
		s++;
	}
	if ((buf = malloc(n + 1)) == NULL)
		return LS_ERR_NOMEM;
	while (*s != '\0') {
		char *key = buf, *val = NULL;
		size_t k = 0;

		while (*s == ' ' && sep == ',')
			s++;
		for (; *s != '\0' && *s != sep; s++) {
			if (*s == '\\' && s[1] != '\0') {
				buf[k++] = *++s;
				continue;
			}
			if (*s == '=' && val == NULL) {
				buf[k++] = '\0';
				val = buf + k;
				continue;
			}
			buf[k++] = *s;
		}
		buf[k] = '\0';
		if (*s == sep)
			s++;
		if (val == NULL || *key == '\0' || *val == '\0') {
			r = LS_ERR_INVALID_ARG;
			break;
		}
		ERR_set_mark();
		if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8,
		                                (const unsigned char *)val, -1, -1, 0)) {
			ERR_pop_to_mark();
			ls_warning("subject: unknown attribute or bad value \"%s\"", key);
			r = LS_ERR_INVALID_ARG;
			break;
		}
		ERR_pop_to_mark();
		count++;
	}
	free(buf);
	if (r == LS_OK && count == 0)
		r = LS_ERR_INVALID_ARG;
	return r;
}

int
ls_csr_tbs(ls_curve curve, const uint8_t *pub, size_t pub_len, const char *subject, uint8_t **tbs,
           size_t *tbs_len)
{
	ls_gost_key *key = NULL;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	const unsigned char *p;
	EVP_PKEY *pkey = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	int n, r;

	ls_return_val_if_fail(pub != NULL && subject != NULL && tbs != NULL && tbs_len != NULL,
	                      LS_ERR_INVALID_ARG);
	if ((r = ls_gost_key_from_public(curve, pub, pub_len, &key)) != LS_OK)
		return r;
	if ((r = ls_gost_key_to_spki(key, &spki, &spki_len)) != LS_OK)
		goto out;
	p = spki;
	pkey = d2i_PUBKEY_ex(NULL, &p, (long)spki_len, ls_crypto_libctx(), NULL);
	if (pkey == NULL) {
		r = ls_crypto_fail("d2i_PUBKEY_ex");
		goto out;
	}
	req = X509_REQ_new_ex(ls_crypto_libctx(), NULL);
	name = X509_NAME_new();
	if (req == NULL || name == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if ((r = subject_parse(subject, name)) != LS_OK)
		goto out;
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, pkey)) {
		r = ls_crypto_fail("X509_REQ_set_*");
		goto out;
	}
	n = i2d_re_X509_REQ_tbs(req, &der);
	if (n <= 0) {
		r = ls_crypto_fail("i2d_re_X509_REQ_tbs");
		goto out;
	}
	if ((*tbs = dup_bytes(der, (size_t)n)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	*tbs_len = (size_t)n;
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(pkey);
	free(spki);
	ls_gost_key_free(key);
	return r;
}

/* Writes a DER length at @p (NULL: only counts); returns its size. */
static size_t
der_len(uint8_t *p, size_t len)
{
	size_t n = 0, i;

	if (len < 0x80) {
		if (p != NULL)
			p[0] = (uint8_t)len;
		return 1;
	}
	for (i = len; i > 0; i >>= 8)
		n++;
	if (p != NULL) {
		p[0] = (uint8_t)(0x80 | n);
		for (i = 0; i < n; i++)
			p[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	}
	return 1 + n;
}

int
ls_csr_assemble(ls_curve curve, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                size_t sig_len, bool pem, uint8_t **out, size_t *out_len)
{
	size_t cs = ls_curve_size(curve);
	const uint8_t *alg = cs == 64 ? sigalg_512 : sigalg_256;
	size_t alg_len = cs == 64 ? sizeof(sigalg_512) : sizeof(sigalg_256);
	size_t bits_len, body, total, o = 0;
	uint8_t *der;
	const unsigned char *p;
	X509_REQ *req;
	BIO *bio = NULL;
	BUF_MEM *mem;
	int r = LS_OK;

	ls_return_val_if_fail(tbs != NULL && sig != NULL && out != NULL && out_len != NULL,
	                      LS_ERR_INVALID_ARG);
	if (cs == 0)
		return LS_ERR_INVALID_ARG;
	if (sig_len != 2 * cs)
		return LS_ERR_BAD_LENGTH;
	if (tbs_len == 0 || tbs_len > LS_X509_MAX_INPUT)
		return LS_ERR_BAD_LENGTH;
	bits_len = 1 + sig_len;
	body = tbs_len + alg_len + 1 + der_len(NULL, bits_len) + bits_len;
	total = 1 + der_len(NULL, body) + body;
	if ((der = malloc(total)) == NULL)
		return LS_ERR_NOMEM;
	der[o++] = 0x30;
	o += der_len(der + o, body);
	memcpy(der + o, tbs, tbs_len);
	o += tbs_len;
	memcpy(der + o, alg, alg_len);
	o += alg_len;
	der[o++] = 0x03;
	o += der_len(der + o, bits_len);
	der[o++] = 0x00;
	memcpy(der + o, sig, sig_len);

	/* Check what we made is a request, and re-encode it as PEM when asked. */
	p = der;
	ERR_set_mark();
	req = d2i_X509_REQ(NULL, &p, (long)total);
	ERR_pop_to_mark();
	if (req == NULL || p != der + total) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if (!pem) {
		*out = der;
		*out_len = total;
		der = NULL;
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509_REQ(bio, req)) {
		r = ls_crypto_fail("PEM_write_bio_X509_REQ");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((*out = dup_bytes(mem->data, mem->length)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	*out_len = mem->length;
out:
	BIO_free(bio);
	X509_REQ_free(req);
	free(der);
	return r;
}

/* ------------------------------------------------------------------------------------------- */
/* PKCS#12 */

struct p12_parse {
	ls_p12 *res;
	const char *pass;
	size_t pass_len;
};

void
ls_p12_free(ls_p12 *p12)
{
	size_t i;

	if (p12 == NULL)
		return;
	for (i = 0; i < p12->n_keys; i++) {
		ls_wipe(p12->keys[i].priv, sizeof(p12->keys[i].priv));
		free(p12->keys[i].friendly_name);
		free(p12->keys[i].local_key_id);
	}
	for (i = 0; i < p12->n_certs; i++) {
		ls_x509_cert_clear(&p12->certs[i].cert);
		free(p12->certs[i].friendly_name);
		free(p12->certs[i].local_key_id);
	}
	free(p12->keys);
	free(p12->certs);
	free(p12);
}

static bool
is_gost_md(int nid)
{
	return nid == NID_id_GostR3411_2012_256 || nid == NID_id_GostR3411_2012_512 ||
	       nid == NID_id_GostR3411_94;
}

static int
pbkdf2(const char *pass, size_t pass_len, const unsigned char *salt, size_t salt_len, uint64_t iter,
       const char *md, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(ls_crypto_libctx(), "PBKDF2", NULL);
	EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6];
	int pkcs5 = 1; /* the PKCS#5 rules, not SP 800-132's minimum salt and iteration count */
	int r = LS_OK;

	if (kctx == NULL) {
		EVP_KDF_free(kdf);
		return ls_crypto_fail("EVP_KDF_fetch(PBKDF2)");
	}
	params[0] =
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, pass_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter);
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[4] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
	params[5] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) <= 0)
		r = ls_crypto_fail("EVP_KDF_derive(PBKDF2)");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

/* The authSafe ContentInfo's data of the PFX at @der (walked with the DER reader). */
static PKCS7 *
pfx_authsafe(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	long l;
	int tag, cls, ret;

	ret = ASN1_get_object(&p, &l, &tag, &cls, (long)len);
	if ((ret & 0x80) || tag != V_ASN1_SEQUENCE || !(ret & V_ASN1_CONSTRUCTED))
		return NULL;
	ret = ASN1_get_object(&p, &l, &tag, &cls, (long)(len - (size_t)(p - der)));
	if ((ret & 0x80) || tag != V_ASN1_INTEGER || (ret & 1))
		return NULL;
	p += l;
	return d2i_PKCS7(NULL, &p, (long)(len - (size_t)(p - der)));
}

static int
p12_mac_verify(PKCS12 *p12, const uint8_t *der, size_t der_len, const struct p12_parse *ps)
{
	const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
	const X509_ALGOR *macalg = NULL;
	const ASN1_INTEGER *iter_i = NULL;
	const ASN1_OBJECT *oid = NULL;
	PKCS7 *as = NULL;
	EVP_MD *md = NULL;
	uint8_t key[96], out[EVP_MAX_MD_SIZE];
	size_t key_len, out_len = 0;
	long iter = 1;
	int md_nid, md_size, r;

	PKCS12_get0_mac(&mac, &macalg, &salt, &iter_i, p12);
	if (mac == NULL || macalg == NULL || salt == NULL)
		return LS_ERR_MALFORMED;
	if (iter_i != NULL)
		iter = ASN1_INTEGER_get(iter_i);
	if (iter < 1 || iter > MAX_ITER)
		return LS_ERR_UNSUPPORTED;
	X509_ALGOR_get0(&oid, NULL, NULL, macalg);
	md_nid = OBJ_obj2nid(oid);
	ERR_set_mark();
	md = md_nid != NID_undef ? EVP_MD_fetch(ls_crypto_libctx(), OBJ_nid2sn(md_nid), NULL)
	                         : NULL;
	ERR_pop_to_mark();
	if (md == NULL)
		return LS_ERR_UNSUPPORTED;
	md_size = EVP_MD_get_size(md);
	if ((as = pfx_authsafe(der, der_len)) == NULL || OBJ_obj2nid(as->type) != NID_pkcs7_data ||
	    as->d.data == NULL) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if (is_gost_md(md_nid)) {
		r = pbkdf2(ps->pass, ps->pass_len, salt->data, (size_t)salt->length, (uint64_t)iter,
		           OBJ_nid2sn(md_nid), key, sizeof(key));
		if (r != LS_OK)
			goto out;
		memmove(key, key + 64, 32);
		key_len = 32;
	} else {
		if (md_size <= 0 || (size_t)md_size > sizeof(key) ||
		    !PKCS12_key_gen_utf8_ex(ps->pass, (int)ps->pass_len, salt->data, salt->length,
		                            PKCS12_MAC_ID, (int)iter, md_size, key, md,
		                            ls_crypto_libctx(), NULL)) {
			r = ls_crypto_fail("PKCS12_key_gen_utf8_ex");
			goto out;
		}
		key_len = (size_t)md_size;
	}
	if (!EVP_Q_mac(ls_crypto_libctx(), "HMAC", NULL, EVP_MD_get0_name(md), NULL, key, key_len,
	               as->d.data->data, (size_t)as->d.data->length, out, sizeof(out), &out_len)) {
		r = ls_crypto_fail("HMAC (PKCS#12 MAC)");
		goto out;
	}
	if ((size_t)mac->length != out_len || CRYPTO_memcmp(mac->data, out, out_len) != 0)
		r = LS_ERR_AUTH_FAILED;
	else
		r = LS_OK;
out:
	ls_wipe(key, sizeof(key));
	ls_wipe(out, sizeof(out));
	PKCS7_free(as);
	EVP_MD_free(md);
	return r;
}

/*
 * PBES2 with a cipher of the gost ENGINE (GOST 28147-89, Kuznyechik/Magma CTR-ACPKM): PBKDF2
 * in our context, then the engine's cipher, which reads its own AlgorithmIdentifier
 * parameters (IV and S-box).  LS_ERR_NOT_FOUND when @alg is not such a scheme.
 */
static int
pbes2_engine(const X509_ALGOR *alg, const ASN1_OCTET_STRING *ct, const struct p12_parse *ps,
             uint8_t **out, size_t *out_len)
{
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	const EVP_CIPHER *c;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t key[64];
	uint8_t *buf = NULL;
	int key_len, n1 = 0, n2 = 0, prf_nid = NID_hmacWithSHA1, md_nid = NID_undef, cnid, r;
	long iter;

	if (OBJ_obj2nid(alg->algorithm) != NID_pbes2)
		return LS_ERR_NOT_FOUND;
	if (alg->parameter == NULL)
		return LS_ERR_MALFORMED;
	pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
	if (pbe2 == NULL)
		return LS_ERR_MALFORMED;
	cnid = OBJ_obj2nid(pbe2->encryption->algorithm);
	if (cnid == NID_kuznyechik_ctr_acpkm_omac || cnid == NID_magma_ctr_acpkm_omac) {
		/*
		 * The MAC'd CTR-ACPKM schemes need the OMAC tag handling gost-engine 3.0.1 lacks
		 * (it cannot read back the files it writes with them): say so rather than "wrong
		 * password".
		 */
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	ERR_set_mark();
	c = ENGINE_get_cipher(ls_crypto_engine(), cnid);
	ERR_pop_to_mark();
	if (c == NULL) {
		r = LS_ERR_NOT_FOUND;
		goto out;
	}
	/* The engine's ciphers read their parameters without a NULL check. */
	if (pbe2->encryption->parameter == NULL ||
	    pbe2->encryption->parameter->type != V_ASN1_SEQUENCE) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if (OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2 ||
	    (kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
	                                     pbe2->keyfunc->parameter)) == NULL ||
	    kdf->salt == NULL || kdf->salt->type != V_ASN1_OCTET_STRING) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	iter = ASN1_INTEGER_get(kdf->iter);
	key_len = EVP_CIPHER_get_key_length(c);
	if (iter < 1 || iter > MAX_ITER || key_len <= 0 || (size_t)key_len > sizeof(key) ||
	    (kdf->keylength != NULL && ASN1_INTEGER_get(kdf->keylength) != key_len)) {
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	if (kdf->prf != NULL)
		prf_nid = OBJ_obj2nid(kdf->prf->algorithm);
	if (!EVP_PBE_find(EVP_PBE_TYPE_PRF, prf_nid, NULL, &md_nid, NULL)) {
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	r = pbkdf2(ps->pass, ps->pass_len, kdf->salt->value.octet_string->data,
	           (size_t)kdf->salt->value.octet_string->length, (uint64_t)iter,
	           OBJ_nid2sn(md_nid), key, (size_t)key_len);
	if (r != LS_OK)
		goto out;
	if (ct->length <= 0 || (size_t)ct->length > LS_X509_MAX_INPUT) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if ((buf = malloc((size_t)ct->length + EVP_MAX_BLOCK_LENGTH)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!EVP_CipherInit_ex(ctx, c, ls_crypto_engine(), NULL, NULL, 0) ||
	    EVP_CIPHER_asn1_to_param(ctx, pbe2->encryption->parameter) <= 0 ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, 0)) {
		r = ls_crypto_fail("PBES2 cipher set-up");
		goto out;
	}
	if (!EVP_CipherUpdate(ctx, buf, &n1, ct->data, ct->length) ||
	    !EVP_CipherFinal_ex(ctx, buf + n1, &n2)) {
		ERR_clear_error();
		r = LS_ERR_AUTH_FAILED;
		goto out;
	}
	*out = buf;
	*out_len = (size_t)(n1 + n2);
	buf = NULL;
	r = LS_OK;
out:
	if (buf != NULL)
		ls_free_secret(buf, (size_t)ct->length + EVP_MAX_BLOCK_LENGTH);
	ls_wipe(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pbe2);
	return r;
}

/* Decrypts PKCS#12/PBES2 content: *@out is malloc'd, wipe it (ls_free_secret). */
static int
p12_decrypt(const X509_ALGOR *alg, const ASN1_OCTET_STRING *ct, const struct p12_parse *ps,
            uint8_t **out, size_t *out_len)
{
	unsigned char *plain = NULL;
	int n = 0;
	int r = pbes2_engine(alg, ct, ps, out, out_len);

	if (r != LS_ERR_NOT_FOUND)
		return r;
	ERR_set_mark();
	if (PKCS12_pbe_crypt_ex(alg, ps->pass, (int)ps->pass_len, ct->data, ct->length, &plain, &n,
	                        0, ls_crypto_libctx(), NULL) == NULL ||
	    n < 0) {
		unsigned long e = ERR_peek_last_error();

		ERR_pop_to_mark();
		/* A bad final block is the usual sign of a wrong password. */
		return ERR_GET_REASON(e) == EVP_R_BAD_DECRYPT ? LS_ERR_AUTH_FAILED
		                                              : LS_ERR_UNSUPPORTED;
	}
	ERR_pop_to_mark();
	*out = dup_bytes(plain, (size_t)n);
	OPENSSL_clear_free(plain, (size_t)n);
	if (*out == NULL)
		return LS_ERR_NOMEM;
	*out_len = (size_t)n;
	return LS_OK;
}

static int
bag_attrs(const PKCS12_SAFEBAG *bag, char **friendly, uint8_t **id, size_t *id_len)
{
	const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
	char *f = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);

	if (f != NULL) {
		*friendly = strdup(f);
		OPENSSL_free(f);
		if (*friendly == NULL)
			return LS_ERR_NOMEM;
	}
	if (t != NULL && t->type == V_ASN1_OCTET_STRING && t->value.octet_string->length > 0 &&
	    t->value.octet_string->length <= 256) {
		*id_len = (size_t)t->value.octet_string->length;
		if ((*id = dup_bytes(t->value.octet_string->data, *id_len)) == NULL)
			return LS_ERR_NOMEM;
	}
	return LS_OK;
}

static int
add_key(struct p12_parse *ps, const PKCS12_SAFEBAG *bag, const uint8_t *p8, size_t p8_len)
{
	ls_p12 *res = ps->res;
	ls_gost_key *key = NULL;
	ls_p12_key *k, *grown;
	int r;

	if (res->n_keys >= LS_P12_MAX_ITEMS)
		return LS_ERR_TOO_LARGE;
	r = ls_gost_key_from_pkcs8(p8, p8_len, &key);
	if (r == LS_ERR_MALFORMED) {
		/* It decrypted into a PrivateKeyInfo that is not a GOST key, or into noise. */
		const unsigned char *p = p8;
		PKCS8_PRIV_KEY_INFO *inf;

		ERR_set_mark();
		inf = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)p8_len);
		ERR_pop_to_mark();
		r = inf != NULL ? LS_ERR_UNSUPPORTED : LS_ERR_AUTH_FAILED;
		PKCS8_PRIV_KEY_INFO_free(inf);
	}
	if (r != LS_OK)
		return r;
	grown = realloc(res->keys, (res->n_keys + 1) * sizeof(*grown));
	if (grown == NULL) {
		ls_gost_key_free(key);
		return LS_ERR_NOMEM;
	}
	res->keys = grown;
	k = &res->keys[res->n_keys++];
	memset(k, 0, sizeof(*k));
	k->curve = ls_gost_key_curve(key);
	k->priv_len = ls_curve_size(k->curve);
	k->pub_len = 2 * k->priv_len;
	r = ls_gost_key_private(key, k->priv, k->priv_len);
	if (r == LS_OK)
		r = ls_gost_key_public(key, k->pub, k->pub_len);
	ls_gost_key_free(key);
	if (r == LS_OK)
		r = bag_attrs(bag, &k->friendly_name, &k->local_key_id, &k->local_key_id_len);
	return r;
}

static int
add_cert(struct p12_parse *ps, const PKCS12_SAFEBAG *bag)
{
	ls_p12 *res = ps->res;
	ls_p12_cert *c, *grown;
	X509 *x;
	int r;

	if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
		return LS_OK; /* SDSI certificates: nothing a token stores */
	if (res->n_certs >= LS_P12_MAX_ITEMS)
		return LS_ERR_TOO_LARGE;
	ERR_set_mark();
	x = PKCS12_SAFEBAG_get1_cert(bag);
	ERR_pop_to_mark();
	if (x == NULL)
		return LS_ERR_MALFORMED;
	grown = realloc(res->certs, (res->n_certs + 1) * sizeof(*grown));
	if (grown == NULL) {
		X509_free(x);
		return LS_ERR_NOMEM;
	}
	res->certs = grown;
	c = &res->certs[res->n_certs];
	memset(c, 0, sizeof(*c));
	r = cert_from_x509(x, &c->cert);
	X509_free(x);
	if (r != LS_OK)
		return r;
	res->n_certs++;
	return bag_attrs(bag, &c->friendly_name, &c->local_key_id, &c->local_key_id_len);
}

static int bags_walk(struct p12_parse *ps, const STACK_OF(PKCS12_SAFEBAG) * bags, int depth);

static int
bag_one(struct p12_parse *ps, const PKCS12_SAFEBAG *bag, int depth)
{
	const PKCS8_PRIV_KEY_INFO *inf;
	const X509_SIG *sig;
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *ct = NULL;
	unsigned char *der = NULL;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int n, r;

	switch (PKCS12_SAFEBAG_get_nid(bag)) {
	case NID_keyBag:
		if ((inf = PKCS12_SAFEBAG_get0_p8inf(bag)) == NULL)
			return LS_ERR_MALFORMED;
		if ((n = i2d_PKCS8_PRIV_KEY_INFO(inf, &der)) <= 0)
			return ls_crypto_fail("i2d_PKCS8_PRIV_KEY_INFO");
		r = add_key(ps, bag, der, (size_t)n);
		OPENSSL_clear_free(der, (size_t)n);
		return r;
	case NID_pkcs8ShroudedKeyBag:
		if ((sig = PKCS12_SAFEBAG_get0_pkcs8(bag)) == NULL)
			return LS_ERR_MALFORMED;
		X509_SIG_get0(sig, &alg, &ct);
		if ((r = p12_decrypt(alg, ct, ps, &plain, &plain_len)) != LS_OK)
			return r;
		r = add_key(ps, bag, plain, plain_len);
		ls_free_secret(plain, plain_len);
		return r;
	case NID_certBag: return add_cert(ps, bag);
	case NID_safeContentsBag: return bags_walk(ps, PKCS12_SAFEBAG_get0_safes(bag), depth + 1);
	default: return LS_OK; /* CRL and secret bags: nothing to import */
	}
}

static int
bags_walk(struct p12_parse *ps, const STACK_OF(PKCS12_SAFEBAG) * bags, int depth)
{
	int i, r;

	if (depth > MAX_DEPTH)
		return LS_ERR_TOO_LARGE;
	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		if ((r = bag_one(ps, sk_PKCS12_SAFEBAG_value(bags, i), depth)) != LS_OK)
			return r;
	}
	return LS_OK;
}

static int
safe_one(struct p12_parse *ps, PKCS7 *p7)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	const unsigned char *p;
	int r;

	switch (OBJ_obj2nid(p7->type)) {
	case NID_pkcs7_data:
		ERR_set_mark();
		bags = PKCS12_unpack_p7data(p7);
		ERR_pop_to_mark();
		if (bags == NULL)
			return LS_ERR_MALFORMED;
		break;
	case NID_pkcs7_encrypted:
		if (p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL ||
		    p7->d.encrypted->enc_data->enc_data == NULL)
			return LS_ERR_MALFORMED;
		r = p12_decrypt(p7->d.encrypted->enc_data->algorithm,
		                p7->d.encrypted->enc_data->enc_data, ps, &plain, &plain_len);
		if (r != LS_OK)
			return r;
		p = plain;
		ERR_set_mark();
		bags = (STACK_OF(PKCS12_SAFEBAG) *)ASN1_item_d2i(NULL, &p, (long)plain_len,
		                                                 ASN1_ITEM_rptr(PKCS12_SAFEBAGS));
		ERR_pop_to_mark();
		ls_free_secret(plain, plain_len);
		if (bags == NULL)
			return LS_ERR_AUTH_FAILED; /* decrypted into noise: the password */
		break;
	default: return LS_ERR_UNSUPPORTED; /* public-key privacy mode (enveloped data) */
	}
	r = bags_walk(ps, bags, 0);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return r;
}

int
ls_p12_parse(const uint8_t *data, size_t len, const char *password, ls_p12 **out)
{
	struct p12_parse ps;
	const unsigned char *p = data;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12 = NULL;
	int i, r;

	ls_return_val_if_fail(data != NULL && password != NULL && out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (len == 0)
		return LS_ERR_TRUNCATED;
	if (len > LS_X509_MAX_INPUT)
		return LS_ERR_TOO_LARGE;
	memset(&ps, 0, sizeof(ps));
	ps.pass = password;
	ps.pass_len = strlen(password);
	if ((ps.res = calloc(1, sizeof(*ps.res))) == NULL)
		return LS_ERR_NOMEM;
	ERR_set_mark();
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	ERR_pop_to_mark();
	if (p12 == NULL) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if (p != data + len) {
		r = LS_ERR_TRAILING_DATA;
		goto out;
	}
	if (PKCS12_mac_present(p12) && (r = p12_mac_verify(p12, data, len, &ps)) != LS_OK)
		goto out;
	ERR_set_mark();
	safes = PKCS12_unpack_authsafes(p12);
	ERR_pop_to_mark();
	if (safes == NULL) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	r = LS_OK;
	for (i = 0; r == LS_OK && i < sk_PKCS7_num(safes); i++)
		r = safe_one(&ps, sk_PKCS7_value(safes, i));
	if (r == LS_OK) {
		*out = ps.res;
		ps.res = NULL;
	}
out:
	ERR_clear_error();
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	ls_p12_free(ps.res);
	return r;
}
