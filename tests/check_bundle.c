/*
 * Unit tests of certbundle/: every accepted certificate and key form loads
 * and is described correctly, every failure gives its stable code, and the
 * credentials built from a bundle serve a real TLS handshake.
 *
 * The fixtures come from tests/mkcerts.sh, run once per test program in a
 * private temporary directory. The expected serials, fingerprints and
 * content hashes are computed there by certtool, openssl and sha256sum.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ivi_bundle.h"
#include "ivi_config.h"
#include "ivi_err.h"

#ifndef IVI_TOP_SRCDIR
#define IVI_TOP_SRCDIR "."
#endif

#define SERVER_NAME "api.example.test"
#define DAY 86400

static char fixtures[PATH_MAX];

/* Returns fixtures/name in one of a few rotating buffers. */
static const char *
fx(const char *name)
{
	static char paths[8][PATH_MAX + 64];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", fixtures, name);
	return p;
}

/* Reads the first line of fixtures/name (an expected value written by mkcerts.sh). */
static void
read_expected(const char *name, char *out, size_t outlen)
{
	FILE *f = fopen(fx(name), "r");

	ck_assert_msg(f != NULL, "cannot open %s", fx(name));
	ck_assert_ptr_nonnull(fgets(out, (int)outlen, f));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

static void
opts_for(struct ivi_bundle_opts *o, const char *cert, const char *key)
{
	memset(o, 0, sizeof(*o));
	o->cert_path = fx(cert);
	o->key_path = key != NULL ? fx(key) : NULL;
	o->clock_skew = IVI_DEFAULT_CLOCK_SKEW_SECONDS;
	o->expiry_warn_days = IVI_DEFAULT_EXPIRY_WARN_DAYS;
}

/* Loads and expects success; the caller frees the bundle. */
static struct ivi_bundle *
load_ok(const struct ivi_bundle_opts *o)
{
	struct ivi_bundle *b = NULL;
	struct ivi_bundle_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = ivi_bundle_load(o, &b, &err);
	ck_assert_msg(r == 0, "load of %s failed: %s (%s: %s)", o->cert_path, ivi_err_code(r),
	    err.file, err.message);
	ck_assert_ptr_nonnull(b);
	return b;
}

static bool
has_warning(const struct ivi_bundle_desc *d, const char *fragment)
{
	for (size_t i = 0; i < d->n_warnings; i++) {
		char text[1024];

		ivi_bundle_desc_warning(d, i, text, sizeof(text));
		if (strstr(text, fragment) != NULL)
			return true;
	}
	return false;
}

static void
assert_credentials_build(const struct ivi_bundle *b)
{
	gnutls_certificate_credentials_t cred = NULL;
	struct ivi_bundle_error err;
	int r;

	r = ivi_bundle_credentials(b, &cred, &err);
	ck_assert_msg(r == 0, "credentials: %s", err.message);
	ck_assert_ptr_nonnull(cred);
	gnutls_certificate_free_credentials(cred);
}

/* ---- Accepted forms ----------------------------------------------------- */

struct accepted {
	const char *cert;
	const char *key;          /* NULL: cert is PKCS#12 */
	const char *password_env; /* NULL: none configured */
	const char *leaf;         /* fixture prefix of the leaf: NAME.serial, NAME.fingerprint */
	const char *key_type;
	unsigned key_bits;
	unsigned chain_len;
	const char *warning;      /* fragment of an expected warning, or NULL for none */
};

static const struct accepted accepted_forms[] = {
	{"ec.fullchain.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"rsa.fullchain.pem", "rsa.key", NULL, "rsa", "RSA", 2048, 2, NULL},
	{"rsa.fullchain.pem", "rsa.p8.key", NULL, "rsa", "RSA", 2048, 2, NULL},
	{"ec.fullchain.pem", "ec.p8.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.fullchain.pem", "ec.withparams.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.fullchain.pem", "ec.p8enc.key", "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.fullchain.pem", "ec.legacyenc.key", "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"rsa.fullchain.pem", "rsa.p8enc.key", "SECRET", "rsa", "RSA", 2048, 2, NULL},
	{"ec.fullchain.pem", "ec.key", "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"ed25519.fullchain.pem", "ed25519.key", NULL, "ed25519", "Ed25519", 256, 2,
	    "mainstream browsers cannot"},
	{"ed448.fullchain.pem", "ed448.key", NULL, "ed448", "Ed448", 456, 2,
	    "mainstream browsers cannot"},
	{"ec.fullchain.pem", "ec.dump.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.combined.pem", "ec.combined.pem", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.shuffled.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.withroot.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 3, NULL},
	{"ec.extras.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, "were left out"},
	{"ec.crt", "ec.key", NULL, "ec", "ECDSA P-256", 256, 1,
	    "its issuer (CN=Example Test Issuing CA) is missing"},
	{"ec.bom.pem", "ec.bom.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.crlf.pem", "ec.crlf.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.bomcrlf.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.textbefore.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"ec.trailing.pem", "ec.key", NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-openssl-aes.p12", NULL, "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-openssl-legacy.p12", NULL, "SECRET", "ec", "ECDSA P-256", 256, 2, "RC2-40"},
	{"p-certtool-aes-256.p12", NULL, "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-certtool-3des-pkcs12.p12", NULL, "SECRET", "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-certtool-rc2-40.p12", NULL, "SECRET", "ec", "ECDSA P-256", 256, 2, "RC2-40"},
	{"p-ed25519.p12", NULL, "SECRET", "ed25519", "Ed25519", 256, 2, "mainstream browsers"},
	{"p-rsa.p12", NULL, "SECRET", "rsa", "RSA", 2048, 2, NULL},
	{"p-empty.p12", NULL, NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-empty.p12", NULL, "EMPTY", "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-nopass.p12", NULL, NULL, "ec", "ECDSA P-256", 256, 2, NULL},
	{"p-nopass.p12", NULL, "EMPTY", "ec", "ECDSA P-256", 256, 2, NULL},
};

START_TEST(test_accepted_form_loads)
{
	const struct accepted *a = &accepted_forms[_i];
	const struct ivi_bundle_desc *d;
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b;
	char want[256], name[64], hash[65];
	time_t now = time(NULL);

	opts_for(&o, a->cert, a->key);
	o.password_env = a->password_env;
	b = load_ok(&o);
	d = ivi_bundle_describe(b);

	ck_assert_str_eq(d->subject, "CN=" SERVER_NAME);
	ck_assert_str_eq(d->issuer, "CN=Example Test Issuing CA");
	snprintf(name, sizeof(name), "%s.serial", a->leaf);
	read_expected(name, want, sizeof(want));
	ck_assert_str_eq(d->serial, want);
	snprintf(name, sizeof(name), "%s.fingerprint", a->leaf);
	read_expected(name, want, sizeof(want));
	ck_assert_str_eq(d->fingerprint, want);
	ck_assert_str_eq(d->sans, "DNS:api.example.test, DNS:localhost, IP:127.0.0.1, IP:::1");
	ck_assert_str_eq(d->key_type, a->key_type);
	ck_assert_uint_eq(d->key_bits, a->key_bits);
	ck_assert_uint_eq(d->chain_len, a->chain_len);
	ck_assert_int_eq(d->not_after - d->not_before, 90 * DAY);
	ck_assert(d->not_before <= now && d->not_before > now - DAY);
	ck_assert(!d->expiring_soon);
	ck_assert_uint_eq(d->client_ca_count, 0);
	ck_assert_int_eq(d->crl_next_update, 0);
	if (a->warning != NULL)
		ck_assert_msg(has_warning(d, a->warning), "no warning with \"%s\"", a->warning);
	else
		ck_assert_msg(d->n_warnings == 0, "unexpected warning: %s", d->warnings[0]);

	/* The watcher's cheap hash and the loader's hash agree. */
	ck_assert_int_eq(ivi_bundle_hash_files(&o, hash, &err), 0);
	ck_assert_str_eq(hash, d->content_hash);
	assert_credentials_build(b);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_content_hash_matches_independent_sha256)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;
	char want[80];

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	b = load_ok(&o);
	read_expected("ec.pair.hash", want, sizeof(want));
	ck_assert_str_eq(ivi_bundle_describe(b)->content_hash, want);
	ivi_bundle_free(b);

	o.client_ca_path = fx("clientca.pem");
	o.crl_path = fx("crl.pem");
	b = load_ok(&o);
	read_expected("ec.all.hash", want, sizeof(want));
	ck_assert_str_eq(ivi_bundle_describe(b)->content_hash, want);
	ivi_bundle_free(b);

	opts_for(&o, "p-openssl-aes.p12", NULL);
	o.password_env = "SECRET";
	b = load_ok(&o);
	read_expected("p12.hash", want, sizeof(want));
	ck_assert_str_eq(ivi_bundle_describe(b)->content_hash, want);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_trust_file_not_in_content_hash)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;
	char want[80];

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	o.trust_ca_path = fx("ca.crt");
	b = load_ok(&o);
	read_expected("ec.pair.hash", want, sizeof(want));
	ck_assert_str_eq(ivi_bundle_describe(b)->content_hash, want);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_client_ca_and_crl_described)
{
	const struct ivi_bundle_desc *d;
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b;
	char hash[65];
	time_t now = time(NULL);

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	o.client_ca_path = fx("clientca.pem");
	o.crl_path = fx("crl.pem");
	b = load_ok(&o);
	d = ivi_bundle_describe(b);
	ck_assert_uint_eq(d->client_ca_count, 2);
	ck_assert(d->crl_next_update > now + 29 * DAY && d->crl_next_update <= now + 30 * DAY);
	ck_assert_uint_eq(d->n_warnings, 0);
	ck_assert_int_eq(ivi_bundle_hash_files(&o, hash, &err), 0);
	ck_assert_str_eq(hash, d->content_hash);
	assert_credentials_build(b);
	ivi_bundle_free(b);

	/* The same CRL in DER; a CRL from a CA outside the bundle only warns. */
	o.crl_path = fx("crl.der");
	o.client_ca_path = fx("ca2.crt");
	b = load_ok(&o);
	d = ivi_bundle_describe(b);
	ck_assert_uint_eq(d->client_ca_count, 1);
	ck_assert(d->crl_next_update != 0);
	ck_assert(has_warning(d, "revokes nothing"));
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_trust_ca_verifies_chain)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;

	opts_for(&o, "ec.shuffled.pem", "ec.key");
	o.trust_ca_path = fx("ca.crt");
	b = load_ok(&o);
	ivi_bundle_free(b);

	/* A lone leaf still verifies when the trust file contains its issuer. */
	opts_for(&o, "ec.crt", "ec.key");
	o.trust_ca_path = fx("int.crt");
	b = load_ok(&o);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_validity_window_and_skew)
{
	const struct ivi_bundle_desc *d;
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	time_t nb, na;

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	b = load_ok(&o);
	nb = ivi_bundle_describe(b)->not_before;
	na = ivi_bundle_describe(b)->not_after;
	ivi_bundle_free(b);

	/* notBefore 100 s ahead of the clock: inside the 300 s skew, with a warning. */
	o.now = nb - 100;
	b = load_ok(&o);
	d = ivi_bundle_describe(b);
	ck_assert(has_warning(d, "clock_skew"));
	ivi_bundle_free(b);

	/* 400 s ahead: rejected. */
	b = NULL;
	o.now = nb - 400;
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_CERT_NOT_YET_VALID);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(err.message, "clock_skew tolerance 300 s"));

	/* With no tolerance even 100 s is too early. */
	o.clock_skew = 0;
	o.now = nb - 100;
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_CERT_NOT_YET_VALID);

	/* One second after notAfter: expired; the last valid second is fine. */
	o.clock_skew = 300;
	o.now = na + 1;
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_CERT_EXPIRED);
	ck_assert_str_eq(err.file, fx("ec.fullchain.pem"));
	o.now = na;
	b = load_ok(&o);
	ck_assert(ivi_bundle_describe(b)->expiring_soon);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_expiring_soon_warns)
{
	const struct ivi_bundle_desc *d;
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;
	char when[IVI_BUNDLE_TIME_LEN], fragment[64];

	opts_for(&o, "soon.fullchain.pem", "soon.key");
	b = load_ok(&o);
	d = ivi_bundle_describe(b);
	ck_assert(d->expiring_soon);
	ivi_bundle_format_time(d->not_after, when);
	snprintf(fragment, sizeof(fragment), "expires soon, at %s", when);
	ck_assert(has_warning(d, fragment));
	ivi_bundle_free(b);

	o.expiry_warn_days = 0;
	b = load_ok(&o);
	ck_assert(!ivi_bundle_describe(b)->expiring_soon);
	ck_assert_uint_eq(ivi_bundle_describe(b)->n_warnings, 0);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_priority_usable_with_key)
{
	static const struct {
		const char *cert, *key, *priority;
	} usable[] = {
		{"ec.fullchain.pem", "ec.key", IVI_DEFAULT_PRIORITY},
		{"rsa.fullchain.pem", "rsa.key", IVI_DEFAULT_PRIORITY},
		{"ed25519.fullchain.pem", "ed25519.key", IVI_DEFAULT_PRIORITY},
		{"ed448.fullchain.pem", "ed448.key", "NORMAL"},
		{"rsa.fullchain.pem", "rsa.key", "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA"},
		{"rsa.fullchain.pem", "rsa.key",
		    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256"},
		{"ec.fullchain.pem", "ec.key", "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
	};

	for (size_t i = 0; i < sizeof(usable) / sizeof(usable[0]); i++) {
		struct ivi_bundle_opts o;
		struct ivi_bundle *b;

		opts_for(&o, usable[i].cert, usable[i].key);
		o.priority = usable[i].priority;
		b = load_ok(&o);
		ivi_bundle_free(b);
	}
}
END_TEST

/* ---- Failures ------------------------------------------------------------- */

struct failure {
	const char *cert;
	const char *key;
	const char *password_env;
	const char *client_ca;
	const char *crl;
	const char *trust;
	const char *priority;
	int code;
	const char *file;     /* fixture named in err.file */
	const char *fragment; /* part of err.message */
};

static const struct failure failures[] = {
	{"missing.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_FILE_MISSING, "missing.pem",
	    "certificate file not found"},
	{"ec.fullchain.pem", "missing.key", NULL, NULL, NULL, NULL, NULL, IVI_E_FILE_MISSING,
	    "missing.key", "private key file not found"},
	{"empty.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_FILE_EMPTY, "empty.pem",
	    "certificate file is empty"},
	{"ec.fullchain.pem", "empty.pem", NULL, NULL, NULL, NULL, NULL, IVI_E_FILE_EMPTY,
	    "empty.pem", "private key file is empty"},
	{"empty.pem", NULL, NULL, NULL, NULL, NULL, NULL, IVI_E_FILE_EMPTY, "empty.pem",
	    "PKCS#12 file is empty"},
	{"nopem.txt", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_NO_PEM, "nopem.txt",
	    "no PEM block"},
	{"ec.fullchain.pem", "nopem.txt", NULL, NULL, NULL, NULL, NULL, IVI_E_NO_PEM, "nopem.txt",
	    "no PEM block"},
	{"ec.key", "ec.fullchain.pem", NULL, NULL, NULL, NULL, NULL, IVI_E_NO_PEM, "ec.key",
	    "no CERTIFICATE block, only EC PRIVATE KEY (are cert_path and key_path swapped?)"},
	{"ec.cut-end.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_TRUNCATED,
	    "ec.cut-end.pem", "the last PEM block (CERTIFICATE) has no complete END line"},
	{"ec.cut-body.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_TRUNCATED,
	    "ec.cut-body.pem", "has no complete END line"},
	{"ec.fullchain.pem", "ec.cut.key", NULL, NULL, NULL, NULL, NULL, IVI_E_TRUNCATED,
	    "ec.cut.key", "(EC PRIVATE KEY) has no complete END line"},
	{"garbage.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_PARSE, "garbage.pem",
	    "cannot parse the certificates"},
	{"ec.der", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_PARSE, "ec.der",
	    "binary DER, not PEM text"},
	{"ec.fullchain.pem", NULL, NULL, NULL, NULL, NULL, NULL, IVI_E_PARSE, "ec.fullchain.pem",
	    "not a PKCS#12 file"},
	{"ec.utf16.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_UTF16, "ec.utf16.pem",
	    "UTF-16 encoded"},
	{"ec.utf16le.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_UTF16, "ec.utf16le.pem",
	    "UTF-16 encoded"},
	{"ec.fullchain.pem", "ec.p8enc.key", NULL, NULL, NULL, NULL, NULL, IVI_E_PASSWORD_MISSING,
	    "ec.p8enc.key", "password_env is not set"},
	{"ec.fullchain.pem", "ec.p8enc.key", "UNSET_VARIABLE", NULL, NULL, NULL, NULL,
	    IVI_E_PASSWORD_MISSING, "ec.p8enc.key", "environment variable UNSET_VARIABLE is not set"},
	{"ec.fullchain.pem", "ec.legacyenc.key", NULL, NULL, NULL, NULL, NULL,
	    IVI_E_PASSWORD_MISSING, "ec.legacyenc.key", "password-protected"},
	{"ec.fullchain.pem", "ec.p8enc.key", "WRONG", NULL, NULL, NULL, NULL, IVI_E_WRONG_PASSWORD,
	    "ec.p8enc.key", "wrong password?"},
	{"ec.fullchain.pem", "ec.legacyenc.key", "WRONG", NULL, NULL, NULL, NULL,
	    IVI_E_WRONG_PASSWORD, "ec.legacyenc.key", "wrong password?"},
	{"p-openssl-aes.p12", NULL, NULL, NULL, NULL, NULL, NULL, IVI_E_PASSWORD_MISSING,
	    "p-openssl-aes.p12", "PKCS#12 file is password-protected"},
	{"p-openssl-aes.p12", NULL, "WRONG", NULL, NULL, NULL, NULL, IVI_E_WRONG_PASSWORD,
	    "p-openssl-aes.p12", "MAC verification failed: wrong password?"},
	{"p-openssl-legacy.p12", NULL, "EMPTY", NULL, NULL, NULL, NULL, IVI_E_WRONG_PASSWORD,
	    "p-openssl-legacy.p12", "MAC verification failed: wrong password?"},
	{"ec.fullchain.pem", "stray.key", NULL, NULL, NULL, NULL, NULL, IVI_E_KEY_MISMATCH,
	    "stray.key", "matches none of the 2 certificates"},
	{"ec.crt", "stray.key", NULL, NULL, NULL, NULL, NULL, IVI_E_KEY_MISMATCH, "stray.key",
	    "does not match the certificate"},
	{"rsa.fullchain.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_KEY_MISMATCH, "ec.key",
	    "private key matches none"},
	{"ec.fullchain.pem", "int.key", NULL, NULL, NULL, NULL, NULL, IVI_E_CHAIN_ORDER,
	    "ec.fullchain.pem", "chain order is wrong"},
	{"ec.badissuer.pem", "ec.key", NULL, NULL, NULL, NULL, NULL, IVI_E_CHAIN_ORDER,
	    "ec.badissuer.pem", "chain order is wrong: certificate 2"},
	{"expired.fullchain.pem", "expired.key", NULL, NULL, NULL, NULL, NULL,
	    IVI_E_CERT_EXPIRED, "expired.fullchain.pem", "expired at"},
	{"future.fullchain.pem", "future.key", NULL, NULL, NULL, NULL, NULL,
	    IVI_E_CERT_NOT_YET_VALID, "future.fullchain.pem", "is not valid before"},
	{"clientonly.fullchain.pem", "clientonly.key", NULL, NULL, NULL, NULL, NULL,
	    IVI_E_WRONG_KEY_USAGE, "clientonly.fullchain.pem", "TLS server authentication"},
	{"ec.fullchain.pem", "ec.key", NULL, NULL, NULL, "ca2.crt", NULL, IVI_E_CHAIN_UNTRUSTED,
	    "ec.fullchain.pem", "does not verify to"},
	{"ec.crt", "ec.key", NULL, NULL, NULL, "ca.crt", NULL, IVI_E_CHAIN_UNTRUSTED, "ec.crt",
	    "no issuer in trust_ca_path"},
	{"ec.fullchain.pem", "ec.key", NULL, NULL, NULL, "empty.pem", NULL, IVI_E_FILE_EMPTY,
	    "empty.pem", "trust CA file is empty"},
	{"ec.fullchain.pem", "ec.key", NULL, NULL, NULL, NULL,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA", IVI_E_PRIORITY_UNUSABLE,
	    "ec.fullchain.pem", "TLS 1.2 but no key exchange and signature algorithm for the ECDSA "
	    "P-256 key"},
	{"rsa.fullchain.pem", "rsa.key", NULL, NULL, NULL, NULL,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-SHA256", IVI_E_PRIORITY_UNUSABLE,
	    "rsa.fullchain.pem", "TLS 1.3 but no TLS 1.3 signature algorithm for the RSA key"},
	{"ed25519.fullchain.pem", "ed25519.key", NULL, NULL, NULL, NULL,
	    "NORMAL:-SIGN-EDDSA-ED25519", IVI_E_PRIORITY_UNUSABLE, "ed25519.fullchain.pem",
	    "for the Ed25519 key"},
	{"ec.fullchain.pem", "ec.key", NULL, NULL, NULL, NULL, "NORMAL:+UNKNOWN-THING",
	    IVI_E_PRIORITY_UNUSABLE, "ec.fullchain.pem", "priority string is invalid"},
	{"ec.fullchain.pem", "ec.key", NULL, "clientca-leaf.pem", NULL, NULL, NULL,
	    IVI_E_CLIENT_CA, "clientca-leaf.pem", "certificate 2 of the client CA bundle "
	    "(CN=api.example.test) is not a CA certificate"},
	{"ec.fullchain.pem", "ec.key", NULL, "empty.pem", NULL, NULL, NULL, IVI_E_CLIENT_CA,
	    "empty.pem", "client CA file is empty"},
	{"ec.fullchain.pem", "ec.key", NULL, "garbage.pem", NULL, NULL, NULL, IVI_E_CLIENT_CA,
	    "garbage.pem", "cannot parse the client CA bundle"},
	{"ec.fullchain.pem", "ec.key", NULL, "nopem.txt", NULL, NULL, NULL, IVI_E_CLIENT_CA,
	    "nopem.txt", "no PEM block"},
	{"ec.fullchain.pem", "ec.key", NULL, "missing.pem", NULL, NULL, NULL, IVI_E_FILE_MISSING,
	    "missing.pem", "client CA file not found"},
	{"ec.fullchain.pem", "ec.key", NULL, "ca.crt", "crl-garbage.pem", NULL, NULL, IVI_E_CRL,
	    "crl-garbage.pem", "cannot parse the CRL"},
	{"ec.fullchain.pem", "ec.key", NULL, "ca.crt", "empty.pem", NULL, NULL, IVI_E_CRL,
	    "empty.pem", "CRL file is empty"},
	{"ec.fullchain.pem", "ec.key", NULL, "ca.crt", "ca.crt", NULL, NULL, IVI_E_CRL, "ca.crt",
	    "no X509 CRL block"},
};

START_TEST(test_failure_gives_code)
{
	const struct failure *f = &failures[_i];
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	char hash[65];
	int r;

	opts_for(&o, f->cert, f->key);
	o.password_env = f->password_env;
	o.client_ca_path = f->client_ca != NULL ? fx(f->client_ca) : NULL;
	o.crl_path = f->crl != NULL ? fx(f->crl) : NULL;
	o.trust_ca_path = f->trust != NULL ? fx(f->trust) : NULL;
	o.priority = f->priority;
	memset(&err, 0, sizeof(err));
	r = ivi_bundle_load(&o, &b, &err);
	ck_assert_msg(r == f->code, "case %d (%s): got %s (%s), expected %s", _i, f->cert,
	    ivi_err_code(r), err.message, ivi_err_code(f->code));
	ck_assert_ptr_null(b);
	ck_assert_int_eq(err.code, f->code);
	ck_assert_str_eq(err.file, fx(f->file));
	ck_assert_msg(strstr(err.message, f->fragment) != NULL, "message \"%s\" lacks \"%s\"",
	    err.message, f->fragment);

	/* hash_files fails only when a hashed file cannot be read. */
	r = ivi_bundle_hash_files(&o, hash, &err);
	if (f->code == IVI_E_FILE_MISSING)
		ck_assert_int_eq(r, IVI_E_FILE_MISSING);
	else
		ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(test_failure_messages_hide_secrets)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;

	/* A wrong password is named by its variable, never by its value. */
	opts_for(&o, "ec.fullchain.pem", "ec.p8enc.key");
	o.password_env = "WRONG";
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_WRONG_PASSWORD);
	ck_assert_ptr_null(strstr(err.message, getenv("WRONG")));
	ck_assert_ptr_nonnull(strstr(err.message, "WRONG"));

	/* A key file whose dump text lands in a certificate slot is not echoed. */
	opts_for(&o, "ec.dump.key", "ec.key");
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_NO_PEM);
	ck_assert_ptr_null(strstr(err.message, "Public Key"));
	ck_assert_ptr_null(strstr(err.message, "private key:"));
}
END_TEST

START_TEST(test_not_regular_files)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	char hash[65];

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	o.cert_path = fixtures;
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_NOT_REGULAR);
	ck_assert_ptr_nonnull(strstr(err.message, "a directory"));
	ck_assert_int_eq(ivi_bundle_hash_files(&o, hash, &err), IVI_E_NOT_REGULAR);

	/* Opening a FIFO must not wait for a writer. */
	opts_for(&o, "ec.fullchain.pem", "fifo");
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_NOT_REGULAR);
	ck_assert_ptr_nonnull(strstr(err.message, "a FIFO"));
	ck_assert_str_eq(err.file, fx("fifo"));
	ck_assert_ptr_null(b);
}
END_TEST

START_TEST(test_file_too_big)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	char hash[65];

	opts_for(&o, "big.pem", "ec.key");
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_FILE_TOO_BIG);
	ck_assert_str_eq(err.file, fx("big.pem"));
	ck_assert_int_eq(ivi_bundle_hash_files(&o, hash, &err), IVI_E_FILE_TOO_BIG);
}
END_TEST

/* Follows symlinks, as certbot's live/ directory and Kubernetes volumes need. */
START_TEST(test_symlinks_followed)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;
	char want[80];

	opts_for(&o, "link/tls.crt", "link/tls.key");
	b = load_ok(&o);
	read_expected("ec.pair.hash", want, sizeof(want));
	ck_assert_str_eq(ivi_bundle_describe(b)->content_hash, want);
	ivi_bundle_free(b);
}
END_TEST

/*
 * Swaps a Kubernetes-style secret volume in fixtures/k8s the way the
 * kubelet does, until killed: a new "..gen-N" directory with one of two
 * key pairs, a "..data" link renamed over the old one, then the old
 * directory deleted. Bursts of 32 swaps alternate with 5 ms of calm, so
 * that loads both race with swaps and find quiet moments.
 */
static void
run_kubelet_swapper(void)
{
	static const char *const pairs[2][2] = {
		{"ec.fullchain.pem", "ec.key"},
		{"rsa.fullchain.pem", "rsa.key"},
	};
	char dir[PATH_MAX + 64], prev[PATH_MAX + 64] = "", path[PATH_MAX + 96];
	char target[PATH_MAX];

	/* Check's SIGTERM handler would stop the whole process group, not just us. */
	signal(SIGTERM, SIG_DFL);
	for (unsigned n = 1; n < 1000000; n++) {
		snprintf(dir, sizeof(dir), "%s/..gen-%u", fx("k8s"), n);
		if (mkdir(dir, 0700) != 0)
			_exit(2);
		snprintf(path, sizeof(path), "%s/tls.crt", dir);
		if (link(fx(pairs[n % 2][0]), path) != 0)
			_exit(3);
		snprintf(path, sizeof(path), "%s/tls.key", dir);
		if (link(fx(pairs[n % 2][1]), path) != 0)
			_exit(4);
		snprintf(target, sizeof(target), "..gen-%u", n);
		unlink(fx("k8s/..data_tmp"));
		if (symlink(target, fx("k8s/..data_tmp")) != 0 ||
		    rename(fx("k8s/..data_tmp"), fx("k8s/..data")) != 0)
			_exit(5);
		if (prev[0] != '\0') {
			snprintf(path, sizeof(path), "%s/tls.crt", prev);
			unlink(path);
			snprintf(path, sizeof(path), "%s/tls.key", prev);
			unlink(path);
			rmdir(prev);
		}
		snprintf(prev, sizeof(prev), "%s", dir);
		if (n % 32 == 0)
			usleep(5 * 1000);
	}
	_exit(0);
}

/*
 * While the volume keeps swapping, every load sees one generation. It may
 * find a file missing or the files changing (busy), but never the
 * certificate of one generation with the key of the other.
 */
START_TEST(test_k8s_swap_never_mixes_pair)
{
	struct ivi_bundle_opts o;
	unsigned ok = 0, transient = 0;
	time_t end;
	int status;
	pid_t pid;

	ck_assert_int_eq(mkdir(fx("k8s"), 0700), 0);
	ck_assert_int_eq(symlink("..data/tls.crt", fx("k8s/tls.crt")), 0);
	ck_assert_int_eq(symlink("..data/tls.key", fx("k8s/tls.key")), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		run_kubelet_swapper();

	opts_for(&o, "k8s/tls.crt", "k8s/tls.key");
	end = time(NULL) + 2;
	for (int i = 0; i < 100000 && time(NULL) < end; i++) {
		struct ivi_bundle_error err;
		struct ivi_bundle *b = NULL;
		int r = ivi_bundle_load(&o, &b, &err);

		if (r == 0) {
			const char *type = ivi_bundle_describe(b)->key_type;

			ck_assert(strcmp(type, "ECDSA P-256") == 0 || strcmp(type, "RSA") == 0);
			ok++;
		} else if (r == IVI_E_FILE_MISSING || r == IVI_E_BUSY) {
			transient++;
		} else {
			ck_abort_msg("load %d during swaps: %s (%s)", i, ivi_err_code(r),
			    err.message);
		}
		ivi_bundle_free(b);
	}
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status), "swapper stopped early with status %d",
	    WEXITSTATUS(status));
	ck_assert_uint_gt(ok + transient, 0);

	/* Once the volume is quiet, the last generation loads. */
	ivi_bundle_free(load_ok(&o));
}
END_TEST

/*
 * Root reads a mode 0000 file anyway, so the load runs in a child that
 * first drops to uid and gid 65534 (nobody); a non-root caller lacks the
 * permission itself.
 */
START_TEST(test_permission_denied)
{
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ivi_bundle_opts o;
		struct ivi_bundle_error err;
		struct ivi_bundle *b = NULL;

		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(2);
		opts_for(&o, "ec.fullchain.pem", "unreadable.key");
		if (ivi_bundle_load(&o, &b, &err) != IVI_E_FILE_PERMISSION)
			_exit(3);
		if (strcmp(err.file, fx("unreadable.key")) != 0 ||
		    strstr(err.message, "permission denied") == NULL)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed with %d", WEXITSTATUS(status));
}
END_TEST

START_TEST(test_invalid_arguments)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	char hash[65];

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(ivi_bundle_load(&o, &b, &err), IVI_E_INVALID_ARG);
	ck_assert_int_eq(ivi_bundle_load(NULL, &b, &err), IVI_E_INVALID_ARG);
	ck_assert_int_eq(ivi_bundle_hash_files(&o, hash, &err), IVI_E_INVALID_ARG);
	ck_assert_int_eq(ivi_bundle_credentials(NULL, NULL, &err), IVI_E_INVALID_ARG);
	ivi_bundle_free(NULL);
}
END_TEST

/* ---- Replacement policy ------------------------------------------------------ */

START_TEST(test_replacement_policy)
{
	struct ivi_bundle_opts o;
	struct ivi_bundle_error err;
	struct ivi_bundle *full, *leaf, *older;
	const struct ivi_bundle_desc *dfull, *dleaf, *dolder;

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	full = load_ok(&o);
	opts_for(&o, "ec.crt", "ec.key");
	leaf = load_ok(&o);
	opts_for(&o, "older.fullchain.pem", "older.key");
	older = load_ok(&o);
	dfull = ivi_bundle_describe(full);
	dleaf = ivi_bundle_describe(leaf);
	dolder = ivi_bundle_describe(older);

	ck_assert_int_eq(ivi_bundle_check_replacement(dfull, dfull, false, false, &err), 0);
	ck_assert_int_eq(ivi_bundle_check_replacement(dfull, dleaf, false, false, &err), 0);
	ck_assert_int_eq(ivi_bundle_check_replacement(dleaf, dfull, false, false, &err),
	    IVI_E_CHAIN_SHRANK);
	ck_assert_int_eq(err.code, IVI_E_CHAIN_SHRANK);
	ck_assert_ptr_nonnull(strstr(err.message, "new chain has 1 certificate, the served one 2"));
	ck_assert_int_eq(ivi_bundle_check_replacement(dleaf, dfull, true, false, &err), 0);

	ck_assert_int_eq(ivi_bundle_check_replacement(dolder, dfull, false, false, &err),
	    IVI_E_ROLLBACK);
	ck_assert_ptr_nonnull(strstr(err.message, dolder->serial));
	ck_assert_ptr_nonnull(strstr(err.message, "allow_rollback"));
	ck_assert_int_eq(ivi_bundle_check_replacement(dolder, dfull, false, true, &err), 0);
	ck_assert_int_eq(ivi_bundle_check_replacement(dfull, dolder, false, false, &err), 0);
	ivi_bundle_free(full);
	ivi_bundle_free(leaf);
	ivi_bundle_free(older);
}
END_TEST

/* ---- Self-signed, options from config, JSON ----------------------------------- */

START_TEST(test_self_signed_bundle)
{
	const struct ivi_bundle_desc *d;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	time_t now = time(NULL);

	ck_assert_int_eq(ivi_bundle_self_signed(&b, &err), 0);
	d = ivi_bundle_describe(b);
	ck_assert_str_eq(d->subject, "CN=localhost");
	ck_assert_str_eq(d->issuer, "CN=localhost");
	ck_assert_str_eq(d->sans, "DNS:localhost, IP:127.0.0.1, IP:::1");
	ck_assert_str_eq(d->key_type, "ECDSA P-256");
	ck_assert_uint_eq(d->chain_len, 1);
	ck_assert_int_eq(d->not_after - d->not_before, DAY + 60);
	ck_assert(d->not_before <= now && d->not_after > now + DAY - 60);
	ck_assert_str_eq(d->content_hash, d->fingerprint);
	ck_assert(has_warning(d, "self-signed"));
	ck_assert(!has_warning(d, "issuer"));
	ck_assert_uint_eq(strlen(d->serial), 32);
	assert_credentials_build(b);
	ivi_bundle_free(b);
}
END_TEST

START_TEST(test_opts_from_config)
{
	struct ivi_config *cfg = NULL;
	struct ivi_bundle_opts o;
	char err[256];

	ck_assert_int_eq(ivi_config_load(NULL, &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(ivi_bundle_opts_from_config(cfg, &o), IVI_E_RELOAD_DISABLED);
	cfg->tls.enabled = true;
	cfg->tls.self_signed = true;
	ck_assert_int_eq(ivi_bundle_opts_from_config(cfg, &o), IVI_E_RELOAD_DISABLED);
	cfg->tls.self_signed = false;
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.cert_path, "/c.pem"), 0);
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.key_path, "/k.pem"), 0);
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.password_env, "PW"), 0);
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.client_ca_path, "/ca.pem"), 0);
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.crl_path, "/c.crl"), 0);
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.trust_ca_path, "/t.pem"), 0);
	cfg->tls.clock_skew = 7;
	cfg->tls.expiry_warn_days = 9;
	ck_assert_int_eq(ivi_bundle_opts_from_config(cfg, &o), 0);
	ck_assert_str_eq(o.cert_path, "/c.pem");
	ck_assert_str_eq(o.key_path, "/k.pem");
	ck_assert_str_eq(o.password_env, "PW");
	ck_assert_str_eq(o.client_ca_path, "/ca.pem");
	ck_assert_str_eq(o.crl_path, "/c.crl");
	ck_assert_str_eq(o.trust_ca_path, "/t.pem");
	ck_assert_str_eq(o.priority, IVI_DEFAULT_PRIORITY);
	ck_assert_int_eq(o.clock_skew, 7);
	ck_assert_int_eq(o.expiry_warn_days, 9);
	ck_assert_int_eq(o.now, 0);
	ck_assert_int_eq(ivi_bundle_opts_from_config(NULL, &o), IVI_E_INVALID_ARG);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_desc_json_fields)
{
	static const char *const fields[] = {"subject", "issuer", "serial", "sans", "not_before",
	    "not_after", "key_type", "key_bits", "fingerprint", "content_hash", "chain_length",
	    "client_ca_count", "crl_next_update", "expiring_soon", "warnings"};
	struct ivi_bundle_opts o;
	struct ivi_bundle *b;
	cJSON *j, *item;
	char when[IVI_BUNDLE_TIME_LEN];
	int n = 0;

	opts_for(&o, "ec.crt", "ec.key");
	o.client_ca_path = fx("ca.crt");
	o.crl_path = fx("crl.pem");
	b = load_ok(&o);
	j = ivi_bundle_desc_to_json(ivi_bundle_describe(b));
	ck_assert_ptr_nonnull(j);
	cJSON_ArrayForEach(item, j)
		n++;
	ck_assert_int_eq(n, (int)(sizeof(fields) / sizeof(fields[0])));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(cJSON_GetObjectItemCaseSensitive(j, fields[i]) != NULL, "no %s",
		    fields[i]);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "subject")->valuestring,
	    "CN=" SERVER_NAME);
	item = cJSON_GetObjectItemCaseSensitive(j, "sans");
	ck_assert(cJSON_IsArray(item));
	ck_assert_int_eq(cJSON_GetArraySize(item), 4);
	ck_assert_str_eq(cJSON_GetArrayItem(item, 0)->valuestring, "DNS:api.example.test");
	ck_assert_str_eq(cJSON_GetArrayItem(item, 3)->valuestring, "IP:::1");
	ivi_bundle_format_time(ivi_bundle_describe(b)->not_after, when);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "not_after")->valuestring, when);
	ck_assert_uint_eq(strlen(when), 20);
	ck_assert_int_eq(when[19], 'Z');
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "key_bits")->valueint, 256);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "chain_length")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "client_ca_count")->valueint, 1);
	ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "crl_next_update")));
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "expiring_soon")));
	item = cJSON_GetObjectItemCaseSensitive(j, "warnings");
	ck_assert_int_eq(cJSON_GetArraySize(item), 1);
	ck_assert_ptr_nonnull(strstr(cJSON_GetArrayItem(item, 0)->valuestring,
	    "its issuer (CN=Example Test Issuing CA) is missing"));
	cJSON_Delete(j);
	ivi_bundle_free(b);

	/* Without a CRL the field is null. */
	opts_for(&o, "ec.fullchain.pem", "ec.key");
	b = load_ok(&o);
	j = ivi_bundle_desc_to_json(ivi_bundle_describe(b));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "crl_next_update")));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "warnings")), 0);
	cJSON_Delete(j);
	ivi_bundle_free(b);
}
END_TEST

/* ---- Credentials in a real handshake ---------------------------------------- */

/*
 * Runs a TLS client in a child process on fd: verifies the server against
 * ca.crt for SERVER_NAME, presents client_cert (fixture prefix) when not
 * NULL, and exits 0 when the handshake succeeded.
 */
static void
run_client(int fd, const char *client_cert)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t session;
	int ret;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, fx("ca.crt"), GNUTLS_X509_FMT_PEM) < 1)
		_exit(10);
	if (client_cert != NULL) {
		char crt[64], key[64];

		snprintf(crt, sizeof(crt), "%s.crt", client_cert);
		snprintf(key, sizeof(key), "%s.key", client_cert);
		if (gnutls_certificate_set_x509_key_file(cred, fx(crt), fx(key),
		    GNUTLS_X509_FMT_PEM) < 0)
			_exit(11);
	}
	if (gnutls_init(&session, GNUTLS_CLIENT) < 0 ||
	    gnutls_set_default_priority(session) < 0 ||
	    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred) < 0 ||
	    gnutls_server_name_set(session, GNUTLS_NAME_DNS, SERVER_NAME, strlen(SERVER_NAME)) < 0)
		_exit(12);
	gnutls_session_set_verify_cert(session, SERVER_NAME, 0);
	gnutls_transport_set_int(session, fd);
	do {
		ret = gnutls_handshake(session);
	} while (ret < 0 && gnutls_error_is_fatal(ret) == 0);
	if (ret < 0)
		_exit(20);
	/* A TLS 1.3 server checks the client certificate after its Finished. */
	do {
		ret = gnutls_record_send(session, "ping", 4);
	} while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	_exit(ret == 4 ? 0 : 21);
}

/*
 * Builds credentials from the bundle, then frees the bundle, so that a
 * handshake with them proves GnuTLS kept copies of everything.
 */
static gnutls_certificate_credentials_t
credentials_then_free(struct ivi_bundle *b)
{
	gnutls_certificate_credentials_t cred = NULL;
	struct ivi_bundle_error err;

	ck_assert_int_eq(ivi_bundle_credentials(b, &cred, &err), 0);
	ivi_bundle_free(b);
	return cred;
}

/* Serves one handshake with cred; returns the server's result. */
static int
serve_one(gnutls_certificate_credentials_t cred, const char *client_cert, int *client_status)
{
	gnutls_session_t session;
	char buf[8];
	int sv[2], ret, status;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		run_client(sv[1], client_cert);
	}
	close(sv[1]);
	ck_assert_int_eq(gnutls_init(&session, GNUTLS_SERVER), 0);
	ck_assert_int_eq(gnutls_set_default_priority(session), 0);
	ck_assert_int_eq(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred), 0);
	if (client_cert != NULL) {
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert(session, NULL, 0);
	}
	gnutls_transport_set_int(session, sv[0]);
	do {
		ret = gnutls_handshake(session);
	} while (ret < 0 && gnutls_error_is_fatal(ret) == 0);
	if (ret == 0) {
		do {
			ret = gnutls_record_recv(session, buf, sizeof(buf));
		} while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
		ret = ret == 4 ? 0 : (ret < 0 ? ret : -1);
	}
	gnutls_deinit(session);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	*client_status = WEXITSTATUS(status);
	return ret;
}

START_TEST(test_credentials_serve_sorted_chain)
{
	static const char *const forms[][2] = {
		{"ec.shuffled.pem", "ec.key"},
		{"rsa.fullchain.pem", "rsa.p8enc.key"},
		{"p-openssl-legacy.p12", NULL},
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		gnutls_certificate_credentials_t cred;
		struct ivi_bundle_opts o;
		int client_status;

		opts_for(&o, forms[i][0], forms[i][1]);
		o.password_env = "SECRET";
		cred = credentials_then_free(load_ok(&o));
		ck_assert_int_eq(serve_one(cred, NULL, &client_status), 0);
		ck_assert_msg(client_status == 0, "%s: client failed with %d", forms[i][0],
		    client_status);
		gnutls_certificate_free_credentials(cred);
	}
}
END_TEST

START_TEST(test_credentials_apply_client_ca_and_crl)
{
	gnutls_certificate_credentials_t cred;
	struct ivi_bundle_opts o;
	int client_status;

	opts_for(&o, "ec.fullchain.pem", "ec.key");
	o.client_ca_path = fx("clientca.pem");
	o.crl_path = fx("crl.pem");
	cred = credentials_then_free(load_ok(&o));
	ck_assert_int_eq(serve_one(cred, "client-good", &client_status), 0);
	ck_assert_int_eq(client_status, 0);
	ck_assert_int_eq(serve_one(cred, "client-revoked", &client_status),
	    GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR);
	gnutls_certificate_free_credentials(cred);

	/* Without the CRL the same client gets in, so the CRL made the difference. */
	o.crl_path = NULL;
	cred = credentials_then_free(load_ok(&o));
	ck_assert_int_eq(serve_one(cred, "client-revoked", &client_status), 0);
	ck_assert_int_eq(client_status, 0);
	gnutls_certificate_free_credentials(cred);
}
END_TEST

/* ---- Fixtures ----------------------------------------------------------------- */

static void
make_fixtures(void)
{
	char cmd[4 * PATH_MAX], path[PATH_MAX + 64];
	const char *srcdir = getenv("top_srcdir");
	FILE *f;

	snprintf(fixtures, sizeof(fixtures), "%s/ivicli-check-bundle.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fixtures) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/mkcerts.sh' '%s' >'%s/mkcerts.log' 2>&1",
	    srcdir != NULL ? srcdir : IVI_TOP_SRCDIR, fixtures, fixtures);
	if (system(cmd) != 0) {
		fprintf(stderr, "tests/mkcerts.sh failed; see %s/mkcerts.log\n", fixtures);
		exit(99);
	}

	/* Files that only make sense here: a FIFO, an oversized file, symlinks, mode 0000. */
	if (mkfifo(fx("fifo"), 0600) != 0 || mkdir(fx("link"), 0700) != 0 ||
	    symlink("../ec.fullchain.pem", fx("link/tls.crt")) != 0 ||
	    symlink("../ec.key", fx("link/tls.key")) != 0) {
		perror("fixtures");
		exit(99);
	}
	f = fopen(fx("big.pem"), "w");
	if (f == NULL || fseek(f, IVI_BUNDLE_MAX_FILE, SEEK_SET) != 0 || fputc('\n', f) == EOF ||
	    fclose(f) != 0) {
		perror("big.pem");
		exit(99);
	}
	snprintf(path, sizeof(path), "%s", fx("unreadable.key"));
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fx("ec.key"), path);
	if (system(cmd) != 0 || chmod(path, 0) != 0 || chmod(fixtures, 0711) != 0) {
		perror("unreadable.key");
		exit(99);
	}
	setenv("SECRET", "s3cret", 1);
	setenv("WRONG", "not-the-password", 1);
	setenv("EMPTY", "", 1);
	unsetenv("UNSET_VARIABLE");
}

static void
remove_fixtures(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixtures);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fixtures);
}

static Suite *
bundle_suite(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc;

	tc = tcase_create("accepted");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_accepted_form_loads, 0,
	    (int)(sizeof(accepted_forms) / sizeof(accepted_forms[0])));
	tcase_add_test(tc, test_content_hash_matches_independent_sha256);
	tcase_add_test(tc, test_trust_file_not_in_content_hash);
	tcase_add_test(tc, test_client_ca_and_crl_described);
	tcase_add_test(tc, test_trust_ca_verifies_chain);
	tcase_add_test(tc, test_validity_window_and_skew);
	tcase_add_test(tc, test_expiring_soon_warns);
	tcase_add_test(tc, test_priority_usable_with_key);
	tcase_add_test(tc, test_symlinks_followed);
	tcase_add_test(tc, test_k8s_swap_never_mixes_pair);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_failure_gives_code, 0,
	    (int)(sizeof(failures) / sizeof(failures[0])));
	tcase_add_test(tc, test_failure_messages_hide_secrets);
	tcase_add_test(tc, test_not_regular_files);
	tcase_add_test(tc, test_file_too_big);
	tcase_add_test(tc, test_permission_denied);
	tcase_add_test(tc, test_invalid_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, test_replacement_policy);
	tcase_add_test(tc, test_self_signed_bundle);
	tcase_add_test(tc, test_opts_from_config);
	tcase_add_test(tc, test_desc_json_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_credentials_serve_sorted_chain);
	tcase_add_test(tc, test_credentials_apply_client_ca_and_crl);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* A peer that closes in the middle of a handshake must fail the test, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	make_fixtures();
	sr = srunner_create(bundle_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_fixtures();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
