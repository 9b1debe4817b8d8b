/*
 * Chain ordering. The leaf is the certificate whose public key matches the
 * private key, whatever its place in the file. Its issuers follow, each
 * found by name and checked by signature, and certificates outside that
 * path are dropped. GnuTLS's own loader takes the first certificate as
 * the leaf and reports a shuffled chain as a key mismatch, which misleads.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

#define KEY_ID_MAX 64

void
bundle_crt_dn(gnutls_x509_crt_t crt, bool issuer, char *out, size_t outlen)
{
	gnutls_datum_t dn = {NULL, 0};
	int ret;

	out[0] = '\0';
	ret = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) :
	    gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (ret < 0)
		return;
	/* NOTE: a DN longer than outlen is cut, possibly inside a UTF-8 sequence. */
	snprintf(out, outlen, "%.*s", (int)dn.size, (const char *)dn.data);
	gnutls_free(dn.data);
}

bool
bundle_crt_self_issued(gnutls_x509_crt_t crt)
{
	return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

/* True when issuer's key made crt's signature (names and key IDs aside). */
static bool
signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	unsigned status = 0;
	unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
	    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS | GNUTLS_VERIFY_ALLOW_X509_V1_CA_CRT |
	    GNUTLS_VERIFY_DISABLE_CA_SIGN | GNUTLS_VERIFY_ALLOW_BROKEN;

	if (gnutls_x509_crt_verify(crt, &issuer, 1, flags, &status) < 0)
		return false;
	return status == 0;
}

/* True when the issuer name of crt is the subject name of issuer, byte for byte. */
static bool
names_issuer(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	gnutls_datum_t want = {NULL, 0}, have = {NULL, 0};
	bool same;

	if (gnutls_x509_crt_get_raw_issuer_dn(crt, &want) < 0)
		return false;
	if (gnutls_x509_crt_get_raw_dn(issuer, &have) < 0) {
		gnutls_free(want.data);
		return false;
	}
	same = want.size == have.size && memcmp(want.data, have.data, want.size) == 0;
	gnutls_free(want.data);
	gnutls_free(have.data);
	return same;
}

/* True when crt names issuer as its issuer and issuer's key signed it. */
static bool
issued_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	return names_issuer(crt, issuer) && signed_by(crt, issuer);
}

/* Writes the SHA-256 key ID of crt, or of key when crt is NULL, as hex. */
static int
key_id_hex(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, unsigned char *id, size_t *id_len,
    char *hex)
{
	size_t len = KEY_ID_MAX;
	int ret;

	if (crt != NULL)
		ret = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &len);
	else
		ret = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id, &len);
	if (ret < 0)
		return ret;
	*id_len = len;
	if (hex != NULL)
		bundle_hex(id, len, hex);
	return 0;
}

/* Returns the index of the first certificate whose key is key, or -1. */
static int
find_leaf(gnutls_x509_crt_t *certs, unsigned n, gnutls_x509_privkey_t key, char *key_hex)
{
	unsigned char key_id[KEY_ID_MAX], crt_id[KEY_ID_MAX];
	size_t key_len, crt_len;

	if (key_id_hex(NULL, key, key_id, &key_len, key_hex) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (key_id_hex(certs[i], NULL, crt_id, &crt_len, NULL) == 0 &&
		    crt_len == key_len && memcmp(crt_id, key_id, key_len) == 0)
			return (int)i;
	}
	return -1;
}

static int
fail_mismatch(gnutls_x509_crt_t *certs, unsigned n, const char *key_hex, const char *cert_file,
    const char *key_file, struct ivi_bundle_error *err)
{
	unsigned char id[KEY_ID_MAX];
	char crt_hex[2 * KEY_ID_MAX + 1] = "";
	size_t len;

	key_id_hex(certs[0], NULL, id, &len, crt_hex);
	if (n == 1)
		return bundle_fail(err, IVI_E_KEY_MISMATCH, key_file,
		    "private key does not match the certificate in %s (public key SHA-256: "
		    "certificate %s, private key %s)",
		    cert_file, crt_hex, key_hex);
	return bundle_fail(err, IVI_E_KEY_MISMATCH, key_file,
	    "private key matches none of the %u certificates in %s (public key SHA-256: "
	    "first certificate %s, private key %s)",
	    n, cert_file, crt_hex, key_hex);
}

/*
 * The certificate that matches the key must be a leaf. When it signed
 * another certificate of the file, the key is an issuing CA's key and no
 * certificate in the file can be the leaf.
 */
static int
check_leaf_is_leaf(gnutls_x509_crt_t *certs, unsigned n, unsigned leaf, const char *cert_file,
    struct ivi_bundle_error *err)
{
	for (unsigned i = 0; i < n; i++) {
		char leaf_dn[256], child_dn[256];

		if (i == leaf || gnutls_x509_crt_equals(certs[i], certs[leaf]) ||
		    !issued_by(certs[i], certs[leaf]))
			continue;
		bundle_crt_dn(certs[leaf], false, leaf_dn, sizeof(leaf_dn));
		bundle_crt_dn(certs[i], false, child_dn, sizeof(child_dn));
		return bundle_fail(err, IVI_E_CHAIN_ORDER, cert_file,
		    "chain order is wrong: the certificate that matches the private key (%s) "
		    "issued certificate %u (%s), so it cannot be the leaf; put the leaf's key "
		    "in key_path and the leaf first",
		    leaf_dn, i + 1, child_dn);
	}
	return 0;
}

/*
 * Appends the issuers of chain[0] to chain, in order, from certs. A
 * certificate that carries the issuer's name but did not sign the one
 * below makes the chain unorderable.
 */
static int
follow_issuers(gnutls_x509_crt_t *certs, unsigned n, bool *used, unsigned *order,
    unsigned *len, const char *cert_file, struct ivi_bundle_error *err)
{
	while (*len < n) {
		gnutls_x509_crt_t cur = certs[order[*len - 1]];
		int impostor = -1, found = -1;

		if (bundle_crt_self_issued(cur))
			break;
		for (unsigned i = 0; i < n && found < 0; i++) {
			if (used[i] || !names_issuer(cur, certs[i]))
				continue;
			if (signed_by(cur, certs[i]))
				found = (int)i;
			else if (impostor < 0)
				impostor = (int)i;
		}
		if (found < 0 && impostor >= 0) {
			char cur_dn[256], imp_dn[256];

			bundle_crt_dn(cur, false, cur_dn, sizeof(cur_dn));
			bundle_crt_dn(certs[impostor], false, imp_dn, sizeof(imp_dn));
			return bundle_fail(err, IVI_E_CHAIN_ORDER, cert_file,
			    "chain order is wrong: certificate %d (%s) carries the name of the issuer of %s "
			    "but did not sign it (an older or a different issuing CA?)",
			    impostor + 1, imp_dn, cur_dn);
		}
		if (found < 0)
			break;
		used[found] = true;
		order[(*len)++] = (unsigned)found;
		/* Later copies of the same issuer are duplicates, not extra links. */
		for (unsigned i = 0; i < n; i++) {
			if (!used[i] && gnutls_x509_crt_equals(certs[i], certs[found]))
				used[i] = true;
		}
	}
	return 0;
}

int
bundle_order_chain(gnutls_x509_crt_t *certs, unsigned n, gnutls_x509_privkey_t key,
    const char *cert_file, const char *key_file, gnutls_x509_crt_t **chain, unsigned *chain_len,
    unsigned *dropped, struct ivi_bundle_error *err)
{
	char key_hex[2 * KEY_ID_MAX + 1] = "";
	gnutls_x509_crt_t *out = NULL;
	unsigned *order = NULL;
	bool *used = NULL;
	unsigned len = 0;
	int leaf, r = 0;

	if (n == 0) {
		r = bundle_fail(err, IVI_E_PARSE, cert_file, "no certificate found");
		goto out;
	}
	leaf = find_leaf(certs, n, key, key_hex);
	if (leaf < 0) {
		r = fail_mismatch(certs, n, key_hex, cert_file, key_file, err);
		goto out;
	}
	r = check_leaf_is_leaf(certs, n, (unsigned)leaf, cert_file, err);
	if (r < 0)
		goto out;

	used = calloc(n, sizeof(*used));
	order = calloc(n, sizeof(*order));
	out = gnutls_malloc(n * sizeof(*out));
	if (used == NULL || order == NULL || out == NULL) {
		r = bundle_fail(err, IVI_E_NOMEM, cert_file, "out of memory");
		goto out;
	}
	used[leaf] = true;
	order[len++] = (unsigned)leaf;
	for (unsigned i = 0; i < n; i++) {
		if (!used[i] && gnutls_x509_crt_equals(certs[i], certs[leaf]))
			used[i] = true;
	}
	r = follow_issuers(certs, n, used, order, &len, cert_file, err);
	if (r < 0)
		goto out;

	/* Move the chain out; what is left in certs is freed below. */
	for (unsigned i = 0; i < len; i++) {
		out[i] = certs[order[i]];
		certs[order[i]] = NULL;
	}
	*chain = out;
	*chain_len = len;
	*dropped = n - len;
	out = NULL;
out:
	for (unsigned i = 0; i < n; i++) {
		if (certs[i] != NULL)
			gnutls_x509_crt_deinit(certs[i]);
	}
	gnutls_free(certs);
	gnutls_free(out);
	free(order);
	free(used);
	return r;
}
