/* The description of a loaded bundle: names, dates, key and fingerprints. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

gnutls_pk_algorithm_t
bundle_crt_key_type(gnutls_x509_crt_t crt, gnutls_ecc_curve_t *curve, unsigned *bits)
{
	unsigned nbits = 0;
	int pk = gnutls_x509_crt_get_pk_algorithm(crt, &nbits);

	if (curve != NULL) {
		*curve = GNUTLS_ECC_CURVE_INVALID;
		if (pk == GNUTLS_PK_ECDSA) {
			gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};

			if (gnutls_x509_crt_get_pk_ecc_raw(crt, curve, &x, &y) < 0)
				*curve = GNUTLS_ECC_CURVE_INVALID;
			gnutls_free(x.data);
			gnutls_free(y.data);
		}
	}
	if (bits != NULL)
		*bits = nbits;
	return pk < 0 ? GNUTLS_PK_UNKNOWN : (gnutls_pk_algorithm_t)pk;
}

/* Writes "ECDSA P-256", "RSA", "RSA-PSS", "Ed25519" or "Ed448" into out. */
static void
key_type_name(gnutls_pk_algorithm_t pk, gnutls_ecc_curve_t curve, char *out, size_t outlen)
{
	switch (pk) {
	case GNUTLS_PK_RSA:
		snprintf(out, outlen, "RSA");
		break;
	case GNUTLS_PK_RSA_PSS:
		snprintf(out, outlen, "RSA-PSS");
		break;
	case GNUTLS_PK_ECDSA:
		switch (curve) {
		case GNUTLS_ECC_CURVE_SECP256R1:
			snprintf(out, outlen, "ECDSA P-256");
			break;
		case GNUTLS_ECC_CURVE_SECP384R1:
			snprintf(out, outlen, "ECDSA P-384");
			break;
		case GNUTLS_ECC_CURVE_SECP521R1:
			snprintf(out, outlen, "ECDSA P-521");
			break;
		default:
			snprintf(out, outlen, "ECDSA %s", gnutls_ecc_curve_get_name(curve) != NULL ?
			    gnutls_ecc_curve_get_name(curve) : "unknown curve");
			break;
		}
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		snprintf(out, outlen, "Ed25519");
		break;
	case GNUTLS_PK_EDDSA_ED448:
		snprintf(out, outlen, "Ed448");
		break;
	default:
		snprintf(out, outlen, "%s", gnutls_pk_get_name(pk) != NULL ? gnutls_pk_get_name(pk) :
		    "unknown");
		break;
	}
}

/* Appends one SAN as "TYPE:value" to out, unless it would not fit whole. */
static void
append_san(char *out, size_t outlen, const char *type, const char *value)
{
	size_t used = strlen(out);
	int n;

	n = snprintf(out + used, outlen - used, "%s%s:%s", used > 0 ? ", " : "", type, value);
	if (n < 0 || (size_t)n >= outlen - used)
		out[used] = '\0';
}

/*
 * Lists DNS names, IP addresses, URIs and e-mail addresses as
 * "DNS:a, IP:127.0.0.1". NOTE: names that do not fit in desc.sans are left
 * out; other SAN types are never listed.
 */
static void
describe_sans(gnutls_x509_crt_t crt, char *out, size_t outlen)
{
	out[0] = '\0';
	for (unsigned i = 0;; i++) {
		char value[1024], text[INET6_ADDRSTRLEN];
		size_t len = sizeof(value) - 1;
		unsigned type = 0;
		int ret;

		ret = gnutls_x509_crt_get_subject_alt_name2(crt, i, value, &len, &type, NULL);
		if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* longer than 1 KiB: not listed */
		if (ret < 0)
			break; /* the end of the list, or a malformed extension */
		value[len] = '\0';
		if (type == GNUTLS_SAN_DNSNAME)
			append_san(out, outlen, "DNS", value);
		else if (type == GNUTLS_SAN_URI)
			append_san(out, outlen, "URI", value);
		else if (type == GNUTLS_SAN_RFC822NAME)
			append_san(out, outlen, "email", value);
		else if (type == GNUTLS_SAN_IPADDRESS && (len == 4 || len == 16) &&
		    inet_ntop(len == 4 ? AF_INET : AF_INET6, value, text, sizeof(text)) != NULL)
			append_san(out, outlen, "IP", text);
	}
}

int
bundle_describe_chain(struct ivi_bundle *b, struct ivi_bundle_error *err)
{
	struct ivi_bundle_desc *d = &b->desc;
	gnutls_x509_crt_t leaf = b->chain[0];
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	unsigned char buf[64];
	size_t len;
	gnutls_pk_algorithm_t pk;

	bundle_crt_dn(leaf, false, d->subject, sizeof(d->subject));
	bundle_crt_dn(leaf, true, d->issuer, sizeof(d->issuer));

	len = sizeof(buf);
	if (gnutls_x509_crt_get_serial(leaf, buf, &len) < 0)
		return bundle_fail(err, IVI_E_PARSE, "", "cannot read the certificate serial");
	bundle_hex(buf, len, d->serial);

	len = sizeof(buf);
	if (gnutls_x509_crt_get_fingerprint(leaf, GNUTLS_DIG_SHA256, buf, &len) < 0 || len != 32)
		return bundle_fail(err, IVI_E_INTERNAL, "", "cannot compute the fingerprint");
	bundle_hex(buf, len, d->fingerprint);

	describe_sans(leaf, d->sans, sizeof(d->sans));
	d->not_before = gnutls_x509_crt_get_activation_time(leaf);
	d->not_after = gnutls_x509_crt_get_expiration_time(leaf);
	pk = bundle_crt_key_type(leaf, &curve, &d->key_bits);
	key_type_name(pk, curve, d->key_type, sizeof(d->key_type));
	d->chain_len = b->chain_len;

	if (pk == GNUTLS_PK_EDDSA_ED25519 || pk == GNUTLS_PK_EDDSA_ED448)
		bundle_warn(d, bundle_warn_eddsa);
	if (b->chain_len == 1 && !bundle_crt_self_issued(leaf))
		bundle_warn(d, bundle_warn_leaf_only);
	return 0;
}
