/*
 * Private keys: PEM keys in every encoding GnuTLS reads (PKCS#1, SEC1 with
 * or without EC PARAMETERS, PKCS#8, encrypted PKCS#8, the older
 * Proc-Type encryption, Ed25519, Ed448), and PKCS#12 files. The password
 * comes from the environment variable named by password_env; it is never
 * copied and never appears in a message.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

static const char *const key_labels[] = {"*PRIVATE KEY", NULL};

/* Returns $password_env, or NULL when no variable is configured or it is unset. */
static const char *
lookup_password(const char *password_env)
{
	return password_env != NULL ? getenv(password_env) : NULL;
}

static int
fail_password_missing(const struct bundle_file *f, const char *password_env, const char *what,
    struct ivi_bundle_error *err)
{
	if (password_env == NULL)
		return bundle_fail(err, IVI_E_PASSWORD_MISSING, f->path,
		    "%s is password-protected and [api.tls] password_env is not set", what);
	return bundle_fail(err, IVI_E_PASSWORD_MISSING, f->path,
	    "%s is password-protected and environment variable %s is not set", what,
	    password_env);
}

int
bundle_import_key(const struct bundle_file *f, const char *password_env,
    gnutls_x509_privkey_t *out, struct ivi_bundle_error *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t datum;
	const char *password = NULL;
	bool encrypted;
	int r, ret;

	r = bundle_check_pem(f, key_labels, 0, err);
	if (r < 0)
		return r;

	/*
	 * GnuTLS returns the same GNUTLS_E_DECRYPTION_FAILED for "no password"
	 * and "wrong password", so the armour decides which one it is.
	 */
	encrypted = bundle_pem_key_encrypted(f);
	if (encrypted) {
		password = lookup_password(password_env);
		if (password == NULL)
			return fail_password_missing(f, password_env, "private key", err);
	}

	ret = gnutls_x509_privkey_init(&key);
	if (ret < 0)
		return bundle_fail(err, IVI_E_NOMEM, f->path, "cannot allocate a private key");
	datum.data = f->data;
	datum.size = (unsigned)f->len;
	ret = gnutls_x509_privkey_import2(key, &datum, GNUTLS_X509_FMT_PEM, password, 0);
	if (ret == GNUTLS_E_DECRYPTION_FAILED && encrypted) {
		r = bundle_fail(err, IVI_E_WRONG_PASSWORD, f->path,
		    "cannot decrypt the private key with the password from %s: wrong password?",
		    password_env);
		goto out;
	}
	if (ret < 0) {
		r = bundle_fail(err, IVI_E_PARSE, f->path, "cannot parse the private key (%s)",
		    gnutls_strerror(ret));
		goto out;
	}
	*out = key;
	key = NULL;
out:
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return r;
}

void
bundle_free_crts(gnutls_x509_crt_t *crts, unsigned n)
{
	if (crts == NULL)
		return;
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
}

/* True when an encrypted bag of p12 uses RC2-40 (reads only the headers). */
static bool
uses_rc2_40(gnutls_pkcs12_t p12)
{
	bool weak = false;

	for (int i = 0; !weak; i++) {
		gnutls_pkcs12_bag_t bag;
		unsigned schema = 0, cipher = 0;

		if (gnutls_pkcs12_bag_init(&bag) < 0)
			break;
		if (gnutls_pkcs12_get_bag(p12, i, bag) < 0) {
			gnutls_pkcs12_bag_deinit(bag);
			break;
		}
		if (gnutls_pkcs12_bag_get_type(bag, 0) == GNUTLS_BAG_ENCRYPTED &&
		    gnutls_pkcs12_bag_enc_info(bag, &schema, &cipher, NULL, NULL, NULL, NULL) >= 0 &&
		    schema == GNUTLS_PKCS_PKCS12_RC2_40)
			weak = true;
		gnutls_pkcs12_bag_deinit(bag);
	}
	return weak;
}

/*
 * Finds the password that verifies the MAC. Without a configured password
 * both the NULL and the empty password are tried, because PKCS#12
 * distinguishes them (certtool --null-password, openssl -passout pass:). Sets
 * *which to the one that worked (NULL, "" or the configured one).
 */
static int
verify_mac(gnutls_pkcs12_t p12, const struct bundle_file *f, const char *password_env,
    const char **which, struct ivi_bundle_error *err)
{
	const char *configured = lookup_password(password_env);
	const char *candidates[2];
	int n = 0, ret = GNUTLS_E_MAC_VERIFY_FAILED;

	if (configured != NULL) {
		candidates[n++] = configured;
		if (configured[0] == '\0')
			candidates[n++] = NULL;
	} else {
		candidates[n++] = NULL;
		candidates[n++] = "";
	}
	for (int i = 0; i < n; i++) {
		ret = gnutls_pkcs12_verify_mac(p12, candidates[i]);
		if (ret >= 0) {
			*which = candidates[i];
			return 0;
		}
	}
	if (ret != GNUTLS_E_MAC_VERIFY_FAILED)
		return bundle_fail(err, IVI_E_PARSE, f->path,
		    "cannot verify the PKCS#12 MAC (%s)", gnutls_strerror(ret));
	if (configured == NULL)
		return fail_password_missing(f, password_env, "PKCS#12 file", err);
	return bundle_fail(err, IVI_E_WRONG_PASSWORD, f->path,
	    "PKCS#12 MAC verification failed: wrong password? (password from %s)",
	    password_env);
}

/* Appends b (n_b certificates) to a; both arrays are gnutls_malloc'd. */
static int
join_crts(gnutls_x509_crt_t **a, unsigned *n_a, gnutls_x509_crt_t *b, unsigned n_b)
{
	gnutls_x509_crt_t *joined;

	if (n_b == 0)
		return 0;
	joined = gnutls_realloc(*a, (*n_a + n_b) * sizeof(*joined));
	if (joined == NULL)
		return IVI_E_NOMEM;
	memcpy(joined + *n_a, b, n_b * sizeof(*joined));
	*a = joined;
	*n_a += n_b;
	return 0;
}

int
bundle_import_pkcs12(const struct bundle_file *f, const char *password_env,
    gnutls_x509_privkey_t *key, gnutls_x509_crt_t **certs, unsigned *n_certs, bool *weak_cipher,
    struct ivi_bundle_error *err)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crt_t *chain = NULL, *extra = NULL;
	unsigned n_chain = 0, n_extra = 0;
	const char *password = NULL;
	gnutls_datum_t datum;
	int r = 0, ret;

	if (f->len == 0)
		return bundle_fail(err, IVI_E_FILE_EMPTY, f->path, "PKCS#12 file is empty");
	if (gnutls_pkcs12_init(&p12) < 0)
		return bundle_fail(err, IVI_E_NOMEM, f->path, "cannot allocate a PKCS#12 structure");
	datum.data = f->data;
	datum.size = (unsigned)f->len;
	ret = gnutls_pkcs12_import(p12, &datum,
	    bundle_is_der(f) ? GNUTLS_X509_FMT_DER : GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0) {
		r = bundle_fail(err, IVI_E_PARSE, f->path,
		    "not a PKCS#12 file (%s); a PEM certificate needs key_path as well",
		    gnutls_strerror(ret));
		goto out;
	}
	r = verify_mac(p12, f, password_env, &password, err);
	if (r < 0)
		goto out;
	*weak_cipher = uses_rc2_40(p12);

	/*
	 * GnuTLS 3.7.9 verifies the MAC of a certtool --null-password file with
	 * the NULL password but decrypts its bags only with "", so an empty
	 * password is tried as "" first and as NULL second.
	 */
	if (password == NULL || password[0] == '\0')
		password = "";
	ret = gnutls_pkcs12_simple_parse(p12, password, &k, &chain, &n_chain, &extra, &n_extra,
	    NULL, GNUTLS_PKCS12_SP_INCLUDE_SELF_SIGNED);
	if (ret == GNUTLS_E_DECRYPTION_FAILED && password[0] == '\0')
		ret = gnutls_pkcs12_simple_parse(p12, NULL, &k, &chain, &n_chain, &extra, &n_extra,
		    NULL, GNUTLS_PKCS12_SP_INCLUDE_SELF_SIGNED);
	if (ret == GNUTLS_E_DECRYPTION_FAILED) {
		r = bundle_fail(err, IVI_E_WRONG_PASSWORD, f->path,
		    "cannot decrypt the PKCS#12 contents: wrong password?");
		goto out;
	}
	if (ret < 0 || k == NULL) {
		r = bundle_fail(err, IVI_E_PARSE, f->path,
		    "cannot read the key and certificates of the PKCS#12 file (%s)",
		    ret < 0 ? gnutls_strerror(ret) : "no private key");
		goto out;
	}
	if (join_crts(&chain, &n_chain, extra, n_extra) < 0) {
		r = bundle_fail(err, IVI_E_NOMEM, f->path, "out of memory");
		goto out;
	}
	gnutls_free(extra);
	extra = NULL;
	n_extra = 0;
	*key = k;
	*certs = chain;
	*n_certs = n_chain;
	k = NULL;
	chain = NULL;
	n_chain = 0;
out:
	if (k != NULL)
		gnutls_x509_privkey_deinit(k);
	bundle_free_crts(chain, n_chain);
	bundle_free_crts(extra, n_extra);
	gnutls_pkcs12_deinit(p12);
	return r;
}
