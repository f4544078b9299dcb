/*
 * core/crypto-x509.c: certificates, PKCS#10 requests and PKCS#12 containers, each checked
 * against the `openssl` command with the gost engine ($LS11_TEST_DATA/gost-engine.cnf):
 *  - a request signed by core (Streebog of the CertificationRequestInfo, GOST R 34.10-2012
 *    signature s || r as a token returns it) is accepted by `openssl req -verify` for 256- and
 *    512-bit keys, and refused once a signature byte changes;
 *  - a certificate made by `openssl req -x509` parses (DER and PEM) into the subject, issuer
 *    and serial openssl prints and the public key of the signing key;
 *  - PKCS#12 files made by `openssl pkcs12 -export` with GOST 28147-89 PBES2 and Streebog MACs,
 *    with the AES/SHA-256 defaults and with 3DES/SHA-1 give back the very private scalar; a wrong
 *    password and damaged files give precise errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"
#include "x509.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ls11-x509-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(x509, .init = setup, .fini = teardown, .timeout = 120);

static const char *
path(const char *name)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* Runs a shell command line in dir with the engine configuration; its exit status. */
static int
sh(const char *fmt, ...)
{
	const char *data = getenv("LS11_TEST_DATA");
	char cmd[2048], full[2304];
	va_list ap;
	int st;

	cr_assert_not_null(data, "LS11_TEST_DATA is not set");
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full),
	         "cd '%s' && export OPENSSL_CONF='%s/gost-engine.cnf' && (%s) >>log 2>&1", dir,
	         data, cmd);
	st = system(full);
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static size_t
slurp(const char *name, uint8_t **out)
{
	FILE *f = fopen(path(name), "rb");
	uint8_t *buf = malloc(1 << 20);
	size_t n;

	cr_assert_not_null(f, "%s: %s", name, strerror(errno));
	n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	*out = buf;
	return n;
}

static void
spill(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path(name), "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void
csr_case(ls_curve curve)
{
	ls_gost_key *key;
	uint8_t pub[128], sig[128], digest[64], *tbs, *req, *der;
	size_t n = ls_curve_size(curve), tbs_len, req_len, der_len;

	cr_assert_eq(ls_gost_key_generate(curve, &key), LS_OK);
	cr_assert_eq(ls_gost_key_public(key, pub, 2 * n), LS_OK);
	cr_assert_eq(
	        ls_csr_tbs(curve, pub, 2 * n, "/CN=Ivan Petrov/O=Org \\/ Co/C=RU", &tbs, &tbs_len),
	        LS_OK);
	cr_assert_eq(ls_md(n == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512, tbs, tbs_len, digest,
	                   sizeof(digest)),
	             LS_OK);
	cr_assert_eq(ls_gost_sign_digest(key, digest, n, sig, 2 * n), LS_OK);
	cr_assert_eq(ls_csr_assemble(curve, tbs, tbs_len, sig, 2 * n, true, &req, &req_len), LS_OK);
	cr_assert(req_len > 30 && memcmp(req, "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0);
	spill("req.pem", req, req_len);
	cr_assert_eq(sh("openssl req -verify -noout -in req.pem 2>&1 | grep -q 'verify OK'"), 0,
	             "openssl req -verify accepts core's %s request", ls_curve_name(curve));
	cr_assert_eq(sh("openssl req -noout -subject -nameopt compat -in req.pem | "
	                "grep -qx 'subject=/CN=Ivan Petrov/O=Org \\\\/ Co/C=RU'"),
	             0, "subject as given");
	/* The request's key is ours: its DER SPKI parses back to the same point. */
	cr_assert_eq(sh("openssl req -pubkey -noout -in req.pem | openssl pkey -pubin -outform DER "
	                "-out spki.der"),
	             0);
	{
		uint8_t *spki, back[128];
		size_t spki_len = slurp("spki.der", &spki);
		ls_gost_key *k2;

		cr_assert_eq(ls_gost_key_from_spki(spki, spki_len, &k2), LS_OK);
		cr_assert_eq(ls_gost_key_public(k2, back, 2 * n), LS_OK);
		cr_assert_arr_eq(back, pub, 2 * n);
		ls_gost_key_free(k2);
		free(spki);
	}
	/* DER form, then one signature byte changed: refused. */
	cr_assert_eq(ls_csr_assemble(curve, tbs, tbs_len, sig, 2 * n, false, &der, &der_len),
	             LS_OK);
	spill("req.der", der, der_len);
	cr_assert_eq(
	        sh("openssl req -verify -noout -inform DER -in req.der 2>&1 | grep -q 'verify OK'"),
	        0);
	der[der_len - 5] ^= 0x01;
	spill("bad.der", der, der_len);
	/* (openssl 3.0's req -verify exits 0 either way: the message tells.) */
	cr_assert_eq(sh("openssl req -verify -noout -inform DER -in bad.der 2>&1 | "
	                "grep -q 'verify failure'"),
	             0, "a changed signature is refused");
	cr_assert_eq(ls_csr_assemble(curve, tbs, tbs_len, sig, 2 * n - 1, false, &der, &der_len),
	             LS_ERR_BAD_LENGTH);
	free(der);
	free(tbs);
	free(req);
	ls_gost_key_free(key);
}

Test(x509, csr_256_tc26_a)
{
	csr_case(LS_CURVE_TC26_256_A);
}
Test(x509, csr_256_cp_a)
{
	csr_case(LS_CURVE_CP_A);
}
Test(x509, csr_512_a)
{
	csr_case(LS_CURVE_TC26_512_A);
}
Test(x509, csr_512_c)
{
	csr_case(LS_CURVE_TC26_512_C);
}

Test(x509, csr_bad_subject)
{
	ls_gost_key *key;
	uint8_t pub[64], *tbs = NULL;
	size_t tbs_len;

	cr_assert_eq(ls_gost_key_generate(LS_CURVE_CP_A, &key), LS_OK);
	cr_assert_eq(ls_gost_key_public(key, pub, 64), LS_OK);
	cr_assert_eq(ls_csr_tbs(LS_CURVE_CP_A, pub, 64, "CN=a,XYZZY=b", &tbs, &tbs_len),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_csr_tbs(LS_CURVE_CP_A, pub, 64, "CN=", &tbs, &tbs_len), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_csr_tbs(LS_CURVE_CP_A, pub, 64, "", &tbs, &tbs_len), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_csr_tbs(LS_CURVE_CP_A, pub, 64, "CN=x,O=y", &tbs, &tbs_len), LS_OK);
	free(tbs);
	pub[5] ^= 1;
	cr_assert_eq(ls_csr_tbs(LS_CURVE_CP_A, pub, 64, "CN=x", &tbs, &tbs_len), LS_ERR_BAD_POINT);
	ls_gost_key_free(key);
}

/* openssl's key (k.pem) and its public point and private scalar as core reads them. */
static void
openssl_key(const char *alg, const char *paramset, uint8_t *pub, uint8_t *priv, size_t n)
{
	uint8_t *der;
	size_t len;
	ls_gost_key *k;

	cr_assert_eq(
	        sh("openssl genpkey -algorithm %s -pkeyopt paramset:%s -out k.pem", alg, paramset),
	        0);
	cr_assert_eq(sh("openssl pkey -in k.pem -outform DER -out k.der"), 0);
	len = slurp("k.der", &der);
	cr_assert_eq(ls_gost_key_from_pkcs8(der, len, &k), LS_OK);
	cr_assert_eq(ls_gost_key_public(k, pub, 2 * n), LS_OK);
	cr_assert_eq(ls_gost_key_private(k, priv, n), LS_OK);
	ls_gost_key_free(k);
	free(der);
}

Test(x509, certificate)
{
	uint8_t pub[64], priv[32], *der, *pem, *name;
	size_t der_len, pem_len, name_len;
	ls_x509_cert c, c2;

	openssl_key("gost2012_256", "TCB", pub, priv, 32);
	cr_assert_eq(sh("openssl req -new -x509 -key k.pem -md_gost12_256 -days 2 -set_serial "
	                "0x1234abcd -subj '/CN=Cert Owner/O=Org/C=RU' -out c.pem"),
	             0);
	cr_assert_eq(sh("openssl x509 -in c.pem -outform DER -out c.der"), 0);
	der_len = slurp("c.der", &der);
	pem_len = slurp("c.pem", &pem);
	cr_assert_eq(ls_x509_cert_parse(der, der_len, &c), LS_OK);
	cr_assert_eq(ls_x509_cert_parse(pem, pem_len, &c2), LS_OK);
	cr_assert(c.gost);
	cr_assert_eq(c.curve, LS_CURVE_CP_A, "tc26-256-B is the CryptoPro-A curve");
	cr_assert_eq(c.pub_len, 64);
	cr_assert_arr_eq(c.pub, pub, 64);
	cr_assert_eq(c.der_len, der_len);
	cr_assert_arr_eq(c.der, der, der_len);
	cr_assert_eq(c2.der_len, der_len);
	cr_assert_arr_eq(c2.der, der, der_len);
	cr_assert_eq(c.serial_len, 6);
	cr_assert_arr_eq(c.serial, "\x02\x04\x12\x34\xab\xcd", 6);
	cr_assert_eq(c.subject_len, c.issuer_len, "self-signed");
	cr_assert_arr_eq(c.subject, c.issuer, c.subject_len);
	/* The subject DER is what openssl writes for the same name. */
	cr_assert_eq(sh("openssl x509 -in c.pem -noout -subject -nameopt RFC2253 | "
	                "grep -qx 'subject=C=RU,O=Org,CN=Cert Owner'"),
	             0);
	spill("subj.der", c.subject, c.subject_len);
	cr_assert_eq(sh("openssl asn1parse -inform DER -in subj.der | grep -q 'Cert Owner'"), 0);
	name_len = c.subject_len;
	name = c.subject;
	cr_assert(name_len > 20 && name[0] == 0x30);
	ls_x509_cert_clear(&c);
	ls_x509_cert_clear(&c2);

	/* Damage: bytes after the DER, a cut certificate, a PEM of something else. */
	der = realloc(der, der_len + 1);
	der[der_len] = 0;
	cr_assert_eq(ls_x509_cert_parse(der, der_len + 1, &c), LS_ERR_TRAILING_DATA);
	cr_assert_eq(ls_x509_cert_parse(der, der_len / 2, &c), LS_ERR_MALFORMED);
	cr_assert_eq(ls_x509_cert_parse((const uint8_t *)"hello", 5, &c), LS_ERR_MALFORMED);
	free(pem);
	pem_len = slurp("k.pem", &pem);
	cr_assert_eq(ls_x509_cert_parse(pem, pem_len, &c), LS_ERR_MALFORMED);
	free(pem);
	free(der);
}

static void
p12_case(const char *alg, const char *paramset, size_t n, const char *opts)
{
	uint8_t pub[128], priv[64], *data;
	size_t len;
	ls_p12 *p;

	openssl_key(alg, paramset, pub, priv, n);
	cr_assert_eq(sh("openssl req -new -x509 -key k.pem -md_gost12_%zu -days 2 "
	                "-subj '/CN=P12 Owner' -out c.pem",
	                n * 8),
	             0);
	cr_assert_eq(sh("openssl pkcs12 -export -inkey k.pem -in c.pem -name 'my key' %s "
	                "-passout pass:Secret-1 -out p.p12",
	                opts),
	             0, "openssl pkcs12 %s", opts);
	len = slurp("p.p12", &data);
	cr_assert_eq(ls_p12_parse(data, len, "Secret-1", &p), LS_OK, "%s", opts);
	cr_assert_eq(p->n_keys, 1);
	cr_assert_eq(p->n_certs, 1);
	cr_assert_eq(p->keys[0].priv_len, n);
	cr_assert_arr_eq(p->keys[0].priv, priv, n, "the very private scalar (%s)", opts);
	cr_assert_eq(p->keys[0].pub_len, 2 * n);
	cr_assert_arr_eq(p->keys[0].pub, pub, 2 * n);
	cr_assert_str_eq(p->keys[0].friendly_name, "my key");
	cr_assert_not_null(p->keys[0].local_key_id);
	cr_assert_eq(p->certs[0].local_key_id_len, p->keys[0].local_key_id_len);
	cr_assert(p->certs[0].cert.gost);
	cr_assert_arr_eq(p->certs[0].cert.pub, pub, 2 * n);
	ls_p12_free(p);

	p = (ls_p12 *)1;
	cr_assert_eq(ls_p12_parse(data, len, "Secret-2", &p), LS_ERR_AUTH_FAILED, "%s", opts);
	cr_assert_null(p);
	cr_assert_eq(ls_p12_parse(data, len, "", &p), LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_p12_parse(data, len / 2, "Secret-1", &p), LS_ERR_MALFORMED);
	data[len / 2] ^= 0x40;
	cr_assert_neq(ls_p12_parse(data, len, "Secret-1", &p), LS_OK, "a changed byte");
	cr_assert_null(p);
	free(data);
}

Test(x509, p12_gost89_streebog256)
{
	p12_case("gost2012_256", "A", 32, "-keypbe gost89 -certpbe gost89 -macalg md_gost12_256");
}

Test(x509, p12_gost89_streebog512)
{
	p12_case("gost2012_512", "A", 64, "-keypbe gost89 -certpbe gost89 -macalg md_gost12_512");
}

Test(x509, p12_tc26_a_defaults)
{
	p12_case("gost2012_256", "TCA", 32, "");
}

Test(x509, p12_3des_sha1)
{
	p12_case("gost2012_512", "C", 64,
	         "-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1");
}

Test(x509, p12_not_p12)
{
	ls_p12 *p;

	cr_assert_eq(ls_p12_parse((const uint8_t *)"\x30\x03\x02\x01\x03", 5, "x", &p),
	             LS_ERR_MALFORMED);
	cr_assert_eq(ls_p12_parse((const uint8_t *)"junk", 4, "x", &p), LS_ERR_MALFORMED);
}

/* Unencrypted key and certificate bags, protected by the Streebog MAC only. */
Test(x509, p12_no_encryption)
{
	p12_case("gost2012_256", "B", 32, "-keypbe NONE -certpbe NONE -macalg md_gost12_256");
}

/* What the backend cannot open is called unsupported, not a wrong password. */
static void
p12_unsupported(const char *opts)
{
	uint8_t pub[64], priv[32], *data;
	size_t len;
	ls_p12 *p;

	openssl_key("gost2012_256", "A", pub, priv, 32);
	cr_assert_eq(sh("openssl req -new -x509 -key k.pem -md_gost12_256 -days 2 "
	                "-subj '/CN=x' -out c.pem"),
	             0);
	/* gost-engine 3.0.1 writes these (complaining) but cannot read them back itself. */
	sh("openssl pkcs12 -export -inkey k.pem -in c.pem %s -passout pass:Secret-1 -out u.p12",
	   opts);
	len = slurp("u.p12", &data);
	cr_assert_gt(len, 0);
	cr_assert_eq(ls_p12_parse(data, len, "Secret-1", &p), LS_ERR_UNSUPPORTED, "%s", opts);
	cr_assert_eq(ls_p12_parse(data, len, "Secret-2", &p), LS_ERR_AUTH_FAILED, "%s", opts);
	free(data);
}

Test(x509, p12_kuznyechik_acpkm_omac)
{
	p12_unsupported("-keypbe kuznyechik-ctr-acpkm-omac -certpbe kuznyechik-ctr-acpkm-omac "
	                "-macalg md_gost12_512");
}

Test(x509, p12_rc2_legacy)
{
	p12_unsupported("-legacy");
}
