/*
 * Validation of a parsed bundle before anything is served: validity window
 * with clock-skew tolerance, expiry warning, key usage, verification to
 * trust_ca_path, and whether the TLS priority string can use the key.
 * GnuTLS's credential loader checks none of these.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

#define SECONDS_PER_DAY 86400

static void
format_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

/*
 * Checks every certificate of the chain against now and returns
 * IVI_E_CERT_EXPIRED, IVI_E_CERT_NOT_YET_VALID or 0; report_validity
 * words the message. The leaf also gets the warnings.
 */
static int
check_validity(struct ivi_bundle *b, time_t now, int clock_skew, int warn_days)
{
	for (unsigned i = 0; i < b->chain_len; i++) {
		time_t nb = gnutls_x509_crt_get_activation_time(b->chain[i]);
		time_t na = gnutls_x509_crt_get_expiration_time(b->chain[i]);

		if (na == (time_t)-1 || now > na)
			return IVI_E_CERT_EXPIRED;
		if (nb == (time_t)-1 || nb > now + clock_skew)
			return IVI_E_CERT_NOT_YET_VALID;
		if (i == 0 && nb > now)
			bundle_warn(&b->desc, bundle_warn_within_skew);
	}
	if (b->desc.not_after - now < (time_t)warn_days * SECONDS_PER_DAY) {
		b->desc.expiring_soon = true;
		bundle_warn(&b->desc, bundle_warn_expiring);
	}
	return 0;
}

/* Turns a check_validity code into a message naming the certificate and the dates. */
static int
report_validity(const struct ivi_bundle *b, int code, const char *file, time_t now,
    int clock_skew, struct ivi_bundle_error *err)
{
	for (unsigned i = 0; i < b->chain_len; i++) {
		time_t nb = gnutls_x509_crt_get_activation_time(b->chain[i]);
		time_t na = gnutls_x509_crt_get_expiration_time(b->chain[i]);
		char from[32], until[32], now_s[32], which[300], dn[256];

		format_time(nb, from, sizeof(from));
		format_time(na, until, sizeof(until));
		format_time(now, now_s, sizeof(now_s));
		bundle_crt_dn(b->chain[i], false, dn, sizeof(dn));
		if (i == 0)
			snprintf(which, sizeof(which), "certificate (%s)", dn);
		else
			snprintf(which, sizeof(which), "issuing certificate %u (%s)", i + 1, dn);
		if (code == IVI_E_CERT_EXPIRED && (na == (time_t)-1 || now > na))
			return bundle_fail(err, code, file, "%s expired at %s (now %s)", which,
			    until, now_s);
		if (code == IVI_E_CERT_NOT_YET_VALID && (nb == (time_t)-1 || nb > now + clock_skew))
			return bundle_fail(err, code, file,
			    "%s is not valid before %s (now %s, clock_skew tolerance %d s)", which,
			    from, now_s, clock_skew);
	}
	return bundle_fail(err, code, file, "certificate is outside its validity period");
}

/*
 * A leaf with an extended key usage must allow TLS server authentication.
 * A key usage extension without digitalSignature cannot sign handshakes:
 * fatal except for RSA, which can still decrypt in TLS 1.2 RSA key exchange.
 */
static int
check_key_usage(struct ivi_bundle *b, const char *file, struct ivi_bundle_error *err)
{
	gnutls_x509_crt_t leaf = b->chain[0];
	unsigned usage = 0, critical = 0;
	bool has_eku = false, server_auth = false;
	int ret;

	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t len = sizeof(oid);

		ret = gnutls_x509_crt_get_key_purpose_oid(leaf, i, oid, &len, &critical);
		if (ret < 0)
			break;
		has_eku = true;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0 || strcmp(oid, GNUTLS_KP_ANY) == 0)
			server_auth = true;
	}
	if (has_eku && !server_auth)
		return bundle_fail(err, IVI_E_WRONG_KEY_USAGE, file,
		    "certificate's extended key usage does not include TLS server "
		    "authentication (1.3.6.1.5.5.7.3.1); it was issued for another purpose, "
		    "such as client authentication");

	ret = gnutls_x509_crt_get_key_usage(leaf, &usage, &critical);
	if (ret >= 0 && (usage & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0) {
		gnutls_pk_algorithm_t pk = gnutls_x509_crt_get_pk_algorithm(leaf, NULL);

		if (pk != GNUTLS_PK_RSA || (usage & GNUTLS_KEY_KEY_ENCIPHERMENT) == 0)
			return bundle_fail(err, IVI_E_WRONG_KEY_USAGE, file,
			    "certificate's key usage lacks digitalSignature, so it cannot sign "
			    "TLS handshakes");
		bundle_warn(&b->desc, bundle_warn_no_digital_signature);
	}
	return 0;
}

/* Names the first problem in a verification status, most telling first. */
static const char *
verify_problem(unsigned status)
{
	static const struct {
		unsigned bit;
		const char *text;
	} problems[] = {
		{GNUTLS_CERT_SIGNER_NOT_FOUND, "no issuer in trust_ca_path (intermediate missing "
		    "from the chain, or another CA)"},
		{GNUTLS_CERT_SIGNATURE_FAILURE, "a signature does not verify"},
		{GNUTLS_CERT_SIGNER_NOT_CA, "an issuer is not a CA"},
		{GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "an issuer's constraints are violated"},
		{GNUTLS_CERT_INSECURE_ALGORITHM, "a signature uses an insecure algorithm"},
		{GNUTLS_CERT_PURPOSE_MISMATCH, "the chain does not allow TLS server authentication"},
		{GNUTLS_CERT_REVOKED, "a certificate is revoked"},
		{GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "a certificate has an unknown critical "
		    "extension"},
	};

	for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); i++) {
		if (status & problems[i].bit)
			return problems[i].text;
	}
	return "verification failed";
}

/* Verifies the chain to the CAs of trust_ca_path (dates are checked separately). */
static int
check_trust(struct ivi_bundle *b, const struct bundle_file *trust, const char *file,
    struct ivi_bundle_error *err)
{
	static const char *const cert_labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};
	gnutls_x509_trust_list_t list = NULL;
	gnutls_x509_crt_t *cas = NULL;
	unsigned n_cas = 0, status = 0;
	gnutls_typed_vdata_st purpose;
	gnutls_datum_t datum;
	bool der = bundle_is_der(trust);
	int r = 0, ret;

	if (!der) {
		r = bundle_check_pem(trust, cert_labels, 0, err);
		if (r < 0)
			return r;
	}
	datum.data = trust->data;
	datum.size = (unsigned)trust->len;
	ret = gnutls_x509_crt_list_import2(&cas, &n_cas, &datum,
	    der ? GNUTLS_X509_FMT_DER : GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n_cas == 0)
		return bundle_fail(err, IVI_E_PARSE, trust->path,
		    "cannot parse the trust CA file (%s)",
		    ret < 0 ? gnutls_strerror(ret) : "no certificate");
	if (gnutls_x509_trust_list_init(&list, 0) < 0) {
		bundle_free_crts(cas, n_cas);
		return bundle_fail(err, IVI_E_NOMEM, trust->path, "out of memory");
	}
	/* The list owns the certificates it accepts; the array itself stays ours. */
	ret = gnutls_x509_trust_list_add_cas(list, cas, n_cas, 0);
	gnutls_free(cas);
	if (ret < 0) {
		r = bundle_fail(err, IVI_E_PARSE, trust->path, "cannot use the trust CA file (%s)",
		    gnutls_strerror(ret));
		goto out;
	}

	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER;
	purpose.size = 0;
	ret = gnutls_x509_trust_list_verify_crt2(list, b->chain, b->chain_len, &purpose, 1,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
	    &status, NULL);
	if (ret < 0)
		r = bundle_fail(err, IVI_E_CHAIN_UNTRUSTED, file,
		    "cannot verify the chain to %s (%s)", trust->path, gnutls_strerror(ret));
	else if (status != 0)
		r = bundle_fail(err, IVI_E_CHAIN_UNTRUSTED, file,
		    "chain does not verify to %s: %s", trust->path, verify_problem(status));
out:
	gnutls_x509_trust_list_deinit(list, 1);
	return r;
}

int
bundle_validate(struct ivi_bundle *b, const struct ivi_bundle_opts *opts,
    const struct bundle_files *files, time_t now, struct ivi_bundle_error *err)
{
	const char *file = opts->cert_path;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_pk_algorithm_t pk;
	int r;

	r = check_validity(b, now, opts->clock_skew, opts->expiry_warn_days);
	if (r < 0)
		return report_validity(b, r, file, now, opts->clock_skew, err);
	r = check_key_usage(b, file, err);
	if (r < 0)
		return r;
	if (files->slot[SLOT_TRUST].path != NULL) {
		r = check_trust(b, &files->slot[SLOT_TRUST], file, err);
		if (r < 0)
			return r;
	}
	if (opts->priority != NULL) {
		pk = bundle_crt_key_type(b->chain[0], &curve, NULL);
		r = bundle_check_priority(opts->priority, pk, curve, b->desc.key_type, file, err);
		if (r < 0)
			return r;
	}
	return 0;
}
