/*
 * GnuTLS credentials from a loaded bundle, and the ephemeral self-signed
 * bundle. Building credentials never reads a file again: the server swaps
 * in exactly what was validated.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

#define SELF_SIGNED_LIFETIME (24 * 60 * 60)
#define SELF_SIGNED_BACKDATE 60 /* seconds, for peers whose clock is a little behind */

int
ivi_bundle_credentials(const struct ivi_bundle *b, gnutls_certificate_credentials_t *out,
    struct ivi_bundle_error *err)
{
	gnutls_certificate_credentials_t cred = NULL;
	int ret, r = 0;

	if (b == NULL || out == NULL)
		return bundle_fail(err, IVI_E_INVALID_ARG, "", "no bundle");
	ret = gnutls_certificate_allocate_credentials(&cred);
	if (ret < 0)
		return bundle_fail(err, IVI_E_NOMEM, "", "cannot allocate credentials (%s)",
		    gnutls_strerror(ret));

	/* GnuTLS copies the certificates, the key, the CAs and the CRLs. */
	ret = gnutls_certificate_set_x509_key(cred, b->chain, b->chain_len, b->key);
	if (ret < 0) {
		r = bundle_fail(err, ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? IVI_E_KEY_MISMATCH :
		    IVI_E_INTERNAL, "", "cannot set the certificate and key (%s)",
		    gnutls_strerror(ret));
		goto out;
	}
	if (b->n_client_cas > 0) {
		ret = gnutls_certificate_set_x509_trust(cred, b->client_cas, (int)b->n_client_cas);
		if (ret < 0) {
			r = bundle_fail(err, IVI_E_CLIENT_CA, "", "cannot set the client CAs (%s)",
			    gnutls_strerror(ret));
			goto out;
		}
	}
	if (b->n_crls > 0) {
		ret = gnutls_certificate_set_x509_crl(cred, b->crls, (int)b->n_crls);
		if (ret < 0) {
			r = bundle_fail(err, IVI_E_CRL, "", "cannot set the CRL (%s)",
			    gnutls_strerror(ret));
			goto out;
		}
	}
	*out = cred;
	cred = NULL;
out:
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	return r;
}

/* Sets the fields of the self-signed certificate crt for key and signs it. */
static int
build_self_signed(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, time_t now)
{
	static const unsigned char loopback4[4] = {127, 0, 0, 1};
	unsigned char loopback6[16] = {0};
	unsigned char serial[16], key_id[64];
	size_t key_id_len = sizeof(key_id);
	int ret;

	loopback6[15] = 1;
	ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	if (ret < 0)
		return ret;
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01; /* and no leading zero byte */
	ret = gnutls_x509_crt_set_version(crt, 3);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_dn(crt, "CN=localhost", NULL);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_activation_time(crt, now - SELF_SIGNED_BACKDATE);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_expiration_time(crt, now + SELF_SIGNED_LIFETIME);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_key(crt, key);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
	    GNUTLS_FSAN_APPEND);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, loopback4, 4,
	    GNUTLS_FSAN_APPEND);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, loopback6, 16,
	    GNUTLS_FSAN_APPEND);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_get_key_id(crt, 0, key_id, &key_id_len);
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_len);
	if (ret < 0)
		return ret;
	return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

/*
 * Replaces a certificate built in memory by one parsed from its DER. GnuTLS
 * 3.7.9 reads the subject alternative names of a certificate only from
 * parsed input, so the description would otherwise list none.
 */
static int
reimport(gnutls_x509_crt_t *crt)
{
	gnutls_x509_crt_t parsed = NULL;
	gnutls_datum_t der = {NULL, 0};
	int ret;

	ret = gnutls_x509_crt_export2(*crt, GNUTLS_X509_FMT_DER, &der);
	if (ret >= 0)
		ret = gnutls_x509_crt_init(&parsed);
	if (ret >= 0)
		ret = gnutls_x509_crt_import(parsed, &der, GNUTLS_X509_FMT_DER);
	gnutls_free(der.data);
	if (ret < 0) {
		if (parsed != NULL)
			gnutls_x509_crt_deinit(parsed);
		return ret;
	}
	gnutls_x509_crt_deinit(*crt);
	*crt = parsed;
	return 0;
}

int
ivi_bundle_self_signed(struct ivi_bundle **out, struct ivi_bundle_error *err)
{
	struct ivi_bundle *b;
	gnutls_x509_crt_t crt = NULL;
	int ret, r = 0;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return bundle_fail(err, IVI_E_NOMEM, "", "out of memory");
	b->chain = gnutls_malloc(sizeof(*b->chain));
	if (b->chain == NULL || gnutls_x509_privkey_init(&b->key) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0) {
		r = bundle_fail(err, IVI_E_NOMEM, "", "out of memory");
		goto out;
	}
	ret = gnutls_x509_privkey_generate(b->key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (ret >= 0)
		ret = build_self_signed(crt, b->key, time(NULL));
	if (ret >= 0)
		ret = reimport(&crt);
	if (ret < 0) {
		r = bundle_fail(err, IVI_E_INTERNAL, "", "cannot make a self-signed certificate (%s)",
		    gnutls_strerror(ret));
		goto out;
	}
	b->chain[0] = crt;
	b->chain_len = 1;
	crt = NULL;
	r = bundle_describe_chain(b, err);
	if (r < 0)
		goto out;
	memcpy(b->desc.content_hash, b->desc.fingerprint, sizeof(b->desc.content_hash));
	bundle_warn(&b->desc, bundle_warn_self_signed);
	*out = b;
	b = NULL;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	ivi_bundle_free(b);
	return r;
}
