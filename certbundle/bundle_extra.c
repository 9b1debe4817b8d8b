/*
 * The client authentication part of a bundle: the CA bundle that client
 * certificates are verified against, and the CRL. Both are PEM or DER. A
 * problem with the contents of these files is reported as
 * client_ca_invalid or crl_invalid, with the reason in the message. A
 * missing or unreadable file keeps its file code.
 */
#include "config.h"

#include <stdio.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_err.h"

static int
load_client_cas(struct ivi_bundle *b, const struct bundle_file *f,
    struct ivi_bundle_error *err)
{
	static const char *const labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};
	gnutls_x509_crt_t *cas = NULL;
	unsigned n = 0;
	gnutls_datum_t datum;
	bool der = bundle_is_der(f);
	int r, ret;

	if (!der) {
		r = bundle_check_pem(f, labels, IVI_E_CLIENT_CA, err);
		if (r < 0)
			return r;
	}
	datum.data = f->data;
	datum.size = (unsigned)f->len;
	ret = gnutls_x509_crt_list_import2(&cas, &n, &datum,
	    der ? GNUTLS_X509_FMT_DER : GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n == 0)
		return bundle_fail(err, IVI_E_CLIENT_CA, f->path,
		    "cannot parse the client CA bundle (%s)",
		    ret < 0 ? gnutls_strerror(ret) : "no certificate");
	for (unsigned i = 0; i < n; i++) {
		char dn[256];

		if (gnutls_x509_crt_get_ca_status(cas[i], NULL) > 0)
			continue;
		bundle_crt_dn(cas[i], false, dn, sizeof(dn));
		bundle_free_crts(cas, n);
		return bundle_fail(err, IVI_E_CLIENT_CA, f->path,
		    "certificate %u of the client CA bundle (%s) is not a CA certificate", i + 1,
		    dn);
	}
	b->client_cas = cas;
	b->n_client_cas = n;
	b->desc.client_ca_count = n;
	return 0;
}

/* True when a client CA signed crl. */
static bool
crl_issued_by_client_ca(const struct ivi_bundle *b, gnutls_x509_crl_t crl)
{
	unsigned status = 0;

	if (gnutls_x509_crl_verify(crl, b->client_cas, b->n_client_cas,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status) < 0)
		return false;
	return status == 0;
}

static int
load_crls(struct ivi_bundle *b, const struct bundle_file *f, time_t now,
    struct ivi_bundle_error *err)
{
	static const char *const labels[] = {"X509 CRL", NULL};
	gnutls_x509_crl_t *crls = NULL;
	unsigned n = 0;
	gnutls_datum_t datum;
	time_t next = 0;
	bool der = bundle_is_der(f);
	int r, ret;

	if (!der) {
		r = bundle_check_pem(f, labels, IVI_E_CRL, err);
		if (r < 0)
			return r;
	}
	datum.data = f->data;
	datum.size = (unsigned)f->len;
	ret = gnutls_x509_crl_list_import2(&crls, &n, &datum,
	    der ? GNUTLS_X509_FMT_DER : GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n == 0)
		return bundle_fail(err, IVI_E_CRL, f->path, "cannot parse the CRL (%s)",
		    ret < 0 ? gnutls_strerror(ret) : "no CRL");
	b->crls = crls;
	b->n_crls = n;
	for (unsigned i = 0; i < n; i++) {
		time_t t = gnutls_x509_crl_get_next_update(crls[i]);

		if (b->n_client_cas > 0 && !crl_issued_by_client_ca(b, crls[i]))
			bundle_warn(&b->desc, bundle_warn_crl_unrelated);
		if (t != (time_t)-1 && (next == 0 || t < next))
			next = t;
	}
	b->desc.crl_next_update = next;
	if (next != 0 && next < now)
		bundle_warn(&b->desc, bundle_warn_crl_stale);
	return 0;
}

int
bundle_load_client_auth(struct ivi_bundle *b, const struct bundle_files *files, time_t now,
    struct ivi_bundle_error *err)
{
	int r;

	if (files->slot[SLOT_CLIENT_CA].path != NULL) {
		r = load_client_cas(b, &files->slot[SLOT_CLIENT_CA], err);
		if (r < 0)
			return r;
	}
	if (files->slot[SLOT_CRL].path != NULL) {
		r = load_crls(b, &files->slot[SLOT_CRL], now, err);
		if (r < 0)
			return r;
	}
	return 0;
}
