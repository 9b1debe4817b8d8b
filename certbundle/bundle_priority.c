/*
 * Whether a GnuTLS priority string can serve a certificate of a given key
 * type. A renewal that switches RSA to ECDSA (or to EdDSA) under a priority
 * string written for RSA makes every handshake of some protocol version
 * fail, so this check rejects such a bundle before it is served.
 *
 * The rule, per protocol family the string enables:
 * - TLS 1.3 needs a signature algorithm for the key: RSA-PSS-RSAE for an
 *   RSA key (PKCS#1 v1.5 is not allowed in TLS 1.3 handshakes), RSA-PSS for
 *   an RSA-PSS key, ECDSA with the curve's own hash, or the EdDSA scheme.
 * - TLS 1.2 and older need a key exchange that uses the key (RSA, DHE-RSA,
 *   ECDHE-RSA for RSA; ECDHE-ECDSA for ECDSA and EdDSA) and, for the
 *   ephemeral ones, a signature algorithm for the key.
 * Every enabled family must be usable, as a client that speaks only that
 * family would otherwise fail.
 */
#include "config.h"

#include <stdio.h>

#include <gnutls/gnutls.h>

#include "bundle_internal.h"
#include "ivi_err.h"

/* The hash TLS 1.3 pairs with an ECDSA curve. */
static gnutls_digest_algorithm_t
curve_hash(gnutls_ecc_curve_t curve)
{
	switch (curve) {
	case GNUTLS_ECC_CURVE_SECP256R1:
		return GNUTLS_DIG_SHA256;
	case GNUTLS_ECC_CURVE_SECP384R1:
		return GNUTLS_DIG_SHA384;
	case GNUTLS_ECC_CURVE_SECP521R1:
		return GNUTLS_DIG_SHA512;
	default:
		return GNUTLS_DIG_UNKNOWN;
	}
}

static bool
sign_usable_tls13(gnutls_sign_algorithm_t s, gnutls_pk_algorithm_t pk, gnutls_ecc_curve_t curve)
{
	switch (pk) {
	case GNUTLS_PK_RSA:
		return s == GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 || s == GNUTLS_SIGN_RSA_PSS_RSAE_SHA384 ||
		    s == GNUTLS_SIGN_RSA_PSS_RSAE_SHA512;
	case GNUTLS_PK_RSA_PSS:
		return s == GNUTLS_SIGN_RSA_PSS_SHA256 || s == GNUTLS_SIGN_RSA_PSS_SHA384 ||
		    s == GNUTLS_SIGN_RSA_PSS_SHA512;
	case GNUTLS_PK_ECDSA:
		return gnutls_sign_get_pk_algorithm(s) == GNUTLS_PK_ECDSA &&
		    gnutls_sign_get_hash_algorithm(s) == curve_hash(curve);
	default:
		return gnutls_sign_supports_pk_algorithm(s, pk) != 0;
	}
}

static bool
kx_usable(gnutls_kx_algorithm_t kx, gnutls_pk_algorithm_t pk, bool *needs_sign)
{
	*needs_sign = true;
	switch (pk) {
	case GNUTLS_PK_RSA:
		if (kx == GNUTLS_KX_RSA) {
			*needs_sign = false;
			return true;
		}
		return kx == GNUTLS_KX_DHE_RSA || kx == GNUTLS_KX_ECDHE_RSA;
	case GNUTLS_PK_RSA_PSS:
		return kx == GNUTLS_KX_DHE_RSA || kx == GNUTLS_KX_ECDHE_RSA;
	case GNUTLS_PK_ECDSA:
	case GNUTLS_PK_EDDSA_ED25519:
	case GNUTLS_PK_EDDSA_ED448:
		return kx == GNUTLS_KX_ECDHE_ECDSA;
	default:
		return false;
	}
}

struct prio_lists {
	const unsigned *protocols, *signs, *kxs;
	int n_protocols, n_signs, n_kxs;
};

static bool
usable_tls13(const struct prio_lists *l, gnutls_pk_algorithm_t pk, gnutls_ecc_curve_t curve)
{
	for (int i = 0; i < l->n_signs; i++) {
		if (sign_usable_tls13((gnutls_sign_algorithm_t)l->signs[i], pk, curve))
			return true;
	}
	return false;
}

static bool
usable_tls12(const struct prio_lists *l, gnutls_pk_algorithm_t pk)
{
	bool have_sign = false;

	for (int i = 0; i < l->n_signs; i++) {
		if (gnutls_sign_supports_pk_algorithm((gnutls_sign_algorithm_t)l->signs[i], pk))
			have_sign = true;
	}
	for (int i = 0; i < l->n_kxs; i++) {
		bool needs_sign;

		if (kx_usable((gnutls_kx_algorithm_t)l->kxs[i], pk, &needs_sign) &&
		    (!needs_sign || have_sign))
			return true;
	}
	return false;
}

int
bundle_check_priority(const char *priority, gnutls_pk_algorithm_t pk,
    gnutls_ecc_curve_t curve, const char *key_type, const char *file,
    struct ivi_bundle_error *err)
{
	gnutls_priority_t prio = NULL;
	struct prio_lists l = {NULL, NULL, NULL, 0, 0, 0};
	const char *where = NULL;
	bool has13 = false, has12 = false;
	int r = 0;

	if (gnutls_priority_init(&prio, priority, &where) < 0)
		return bundle_fail(err, IVI_E_PRIORITY_UNUSABLE, file,
		    "priority string is invalid at \"%.40s\"", where != NULL ? where : priority);
	l.n_protocols = gnutls_priority_protocol_list(prio, &l.protocols);
	l.n_signs = gnutls_priority_sign_list(prio, &l.signs);
	l.n_kxs = gnutls_priority_kx_list(prio, &l.kxs);
	for (int i = 0; i < l.n_protocols; i++) {
		if (l.protocols[i] == GNUTLS_TLS1_3)
			has13 = true;
		else if (l.protocols[i] == GNUTLS_TLS1_2 || l.protocols[i] == GNUTLS_TLS1_1 ||
		    l.protocols[i] == GNUTLS_TLS1_0)
			has12 = true;
	}

	if (!has13 && !has12)
		r = bundle_fail(err, IVI_E_PRIORITY_UNUSABLE, file,
		    "priority string enables no TLS version");
	else if (has13 && !usable_tls13(&l, pk, curve))
		r = bundle_fail(err, IVI_E_PRIORITY_UNUSABLE, file,
		    "priority string enables TLS 1.3 but no TLS 1.3 signature algorithm for "
		    "the %s key%s; every TLS 1.3 handshake would fail",
		    key_type, pk == GNUTLS_PK_RSA ? " (RSA needs RSA-PSS-RSAE)" : "");
	else if (has12 && !usable_tls12(&l, pk))
		r = bundle_fail(err, IVI_E_PRIORITY_UNUSABLE, file,
		    "priority string enables TLS 1.2 but no key exchange and signature "
		    "algorithm for the %s key%s; every TLS 1.2 handshake would fail",
		    key_type,
		    pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_RSA_PSS ? "" :
		    " (it needs ECDHE-ECDSA)");
	gnutls_priority_deinit(prio);
	return r;
}
