/*
 * Certificate bundle: the load sequence (read, parse, order, describe,
 * validate), the replacement policy, the JSON description and the
 * mapping from config.toml. See ivi_bundle.h for the contracts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle_internal.h"
#include "ivi_config.h"
#include "ivi_err.h"

const char bundle_warn_expiring[] = "certificate expires within expiry_warn_days";
const char bundle_warn_leaf_only[] =
    "chain holds only the leaf certificate; its issuer is missing, so clients that do not "
    "have it cached fail to verify";
const char bundle_warn_eddsa[] =
    "EdDSA certificate: mainstream browsers cannot negotiate Ed25519 or Ed448 certificates";
const char bundle_warn_rc2[] =
    "PKCS#12 file uses the broken RC2-40 cipher; export it again with AES-256";
const char bundle_warn_dropped[] =
    "certificates that are not part of the leaf's chain (unrelated or duplicate) were left out";
const char bundle_warn_within_skew[] =
    "certificate is not valid yet but starts within clock_skew; clients with exact clocks "
    "reject it until then";
const char bundle_warn_self_signed[] =
    "self-signed certificate generated at start; clients cannot verify it";
const char bundle_warn_crl_stale[] = "CRL is past its next update time";
const char bundle_warn_crl_unrelated[] =
    "CRL was not issued by any CA of the client CA bundle, so it revokes nothing";
const char bundle_warn_no_digital_signature[] =
    "certificate's key usage lacks digitalSignature, so only TLS 1.2 RSA key exchange can "
    "use it";

static const char *const cert_labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};

void
bundle_warn(struct ivi_bundle_desc *desc, const char *warning)
{
	for (size_t i = 0; i < desc->n_warnings; i++) {
		if (desc->warnings[i] == warning)
			return;
	}
	if (desc->n_warnings < IVI_BUNDLE_MAX_WARNINGS)
		desc->warnings[desc->n_warnings++] = warning;
}

void
ivi_bundle_format_time(time_t t, char out[IVI_BUNDLE_TIME_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, IVI_BUNDLE_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, IVI_BUNDLE_TIME_LEN, "1970-01-01T00:00:00Z");
}

void
ivi_bundle_desc_warning(const struct ivi_bundle_desc *d, size_t i, char *out, size_t outlen)
{
	char when[IVI_BUNDLE_TIME_LEN];

	if (i >= d->n_warnings) {
		out[0] = '\0';
		return;
	}
	if (d->warnings[i] == bundle_warn_leaf_only) {
		snprintf(out, outlen,
		    "chain holds only the leaf certificate; its issuer (%s) is missing, so "
		    "clients that do not have it cached fail to verify",
		    d->issuer);
	} else if (d->warnings[i] == bundle_warn_expiring) {
		ivi_bundle_format_time(d->not_after, when);
		snprintf(out, outlen, "certificate expires soon, at %s", when);
	} else {
		snprintf(out, outlen, "%s", d->warnings[i]);
	}
}

void
ivi_bundle_free(struct ivi_bundle *b)
{
	if (b == NULL)
		return;
	bundle_free_crts(b->chain, b->chain_len);
	bundle_free_crts(b->client_cas, b->n_client_cas);
	for (unsigned i = 0; i < b->n_crls; i++)
		gnutls_x509_crl_deinit(b->crls[i]);
	gnutls_free(b->crls);
	/*
	 * The file bytes were wiped when the bundle was loaded. NOTE: the key's
	 * numbers live inside GnuTLS, so wiping them is up to
	 * gnutls_x509_privkey_deinit; this code cannot check that it does.
	 */
	if (b->key != NULL)
		gnutls_x509_privkey_deinit(b->key);
	gnutls_memset(b, 0, sizeof(*b));
	free(b);
}

const struct ivi_bundle_desc *
ivi_bundle_describe(const struct ivi_bundle *b)
{
	return &b->desc;
}

/* Parses the PEM chain of the certificate file. */
static int
import_pem_chain(const struct bundle_file *f, gnutls_x509_crt_t **certs, unsigned *n,
    struct ivi_bundle_error *err)
{
	gnutls_datum_t datum;
	int r, ret;

	r = bundle_check_pem(f, cert_labels, 0, err);
	if (r < 0)
		return r;
	datum.data = f->data;
	datum.size = (unsigned)f->len;
	ret = gnutls_x509_crt_list_import2(certs, n, &datum, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0)
		return bundle_fail(err, IVI_E_PARSE, f->path, "cannot parse the certificates (%s)",
		    gnutls_strerror(ret));
	return 0;
}

/* Imports the certificates and the key, and orders the chain into b. */
static int
load_identity(struct ivi_bundle *b, const struct ivi_bundle_opts *opts,
    const struct bundle_files *files, struct ivi_bundle_error *err)
{
	gnutls_x509_crt_t *certs = NULL;
	unsigned n = 0, dropped = 0;
	bool weak_cipher = false;
	int r;

	if (opts->key_path != NULL) {
		r = import_pem_chain(&files->slot[SLOT_CERT], &certs, &n, err);
		if (r < 0)
			return r;
		r = bundle_import_key(&files->slot[SLOT_KEY], opts->password_env, &b->key, err);
	} else {
		r = bundle_import_pkcs12(&files->slot[SLOT_CERT], opts->password_env, &b->key,
		    &certs, &n, &weak_cipher, err);
	}
	if (r < 0) {
		bundle_free_crts(certs, n);
		return r;
	}
	r = bundle_order_chain(certs, n, b->key, opts->cert_path,
	    opts->key_path != NULL ? opts->key_path : opts->cert_path, &b->chain, &b->chain_len,
	    &dropped, err);
	if (r < 0)
		return r;
	if (dropped > 0)
		bundle_warn(&b->desc, bundle_warn_dropped);
	if (weak_cipher)
		bundle_warn(&b->desc, bundle_warn_rc2);
	return 0;
}

int
ivi_bundle_load(const struct ivi_bundle_opts *opts, struct ivi_bundle **out,
    struct ivi_bundle_error *err)
{
	struct bundle_files files;
	struct ivi_bundle *b = NULL;
	time_t now;
	int r;

	if (opts == NULL || out == NULL || opts->cert_path == NULL)
		return bundle_fail(err, IVI_E_INVALID_ARG, "", "no certificate path configured");
	now = opts->now != 0 ? opts->now : time(NULL);

	r = bundle_read_files(opts, true, &files, err);
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		r = bundle_fail(err, IVI_E_NOMEM, "", "out of memory");
		goto out;
	}
	r = bundle_hash(&files, b->desc.content_hash, err);
	if (r == 0)
		r = load_identity(b, opts, &files, err);
	if (r == 0)
		r = bundle_describe_chain(b, err);
	if (r == 0)
		r = bundle_load_client_auth(b, &files, now, err);
	if (r == 0)
		r = bundle_validate(b, opts, &files, now, err);
	if (r == 0) {
		*out = b;
		b = NULL;
	}
out:
	ivi_bundle_free(b);
	bundle_files_clear(&files);
	return r;
}

int
ivi_bundle_check_replacement(const struct ivi_bundle_desc *candidate,
    const struct ivi_bundle_desc *served, bool allow_chain_shrink, bool allow_rollback,
    struct ivi_bundle_error *err)
{
	char new_s[IVI_BUNDLE_TIME_LEN], old_s[IVI_BUNDLE_TIME_LEN];

	if (!allow_chain_shrink && candidate->chain_len < served->chain_len)
		return bundle_fail(err, IVI_E_CHAIN_SHRANK, "",
		    "new chain has %u certificate%s, the served one %u: an issuer is missing "
		    "(set allow_chain_shrink = true to accept)",
		    candidate->chain_len, candidate->chain_len == 1 ? "" : "s", served->chain_len);
	if (!allow_rollback && candidate->not_after < served->not_after) {
		ivi_bundle_format_time(candidate->not_after, new_s);
		ivi_bundle_format_time(served->not_after, old_s);
		return bundle_fail(err, IVI_E_ROLLBACK, "",
		    "new certificate (serial %s) expires at %s, before the served one (serial "
		    "%s, %s): an older certificate? (set allow_rollback = true to accept)",
		    candidate->serial, new_s, served->serial, old_s);
	}
	return 0;
}

int
ivi_bundle_opts_from_config(const struct ivi_config *cfg, struct ivi_bundle_opts *out)
{
	const struct ivi_config_tls *t;

	if (cfg == NULL || out == NULL)
		return IVI_E_INVALID_ARG;
	t = &cfg->tls;
	if (!t->enabled || t->self_signed || t->cert_path == NULL)
		return IVI_E_RELOAD_DISABLED;
	memset(out, 0, sizeof(*out));
	out->cert_path = t->cert_path;
	out->key_path = t->key_path;
	out->password_env = t->password_env;
	out->client_ca_path = t->client_ca_path;
	out->crl_path = t->crl_path;
	out->trust_ca_path = t->trust_ca_path;
	out->priority = t->priority;
	out->clock_skew = t->clock_skew;
	out->expiry_warn_days = t->expiry_warn_days;
	out->now = 0;
	return 0;
}

/* ---- JSON -------------------------------------------------------------- */

static bool
add_time(cJSON *obj, const char *name, time_t t)
{
	char s[IVI_BUNDLE_TIME_LEN];

	ivi_bundle_format_time(t, s);
	return cJSON_AddStringToObject(obj, name, s) != NULL;
}

/* Splits "DNS:a, IP:b" into a JSON array of strings. */
static cJSON *
sans_array(const char *sans)
{
	cJSON *arr = cJSON_CreateArray();
	const char *p = sans;

	if (arr == NULL)
		return NULL;
	while (*p != '\0') {
		const char *sep = strstr(p, ", ");
		size_t len = sep != NULL ? (size_t)(sep - p) : strlen(p);
		char item[sizeof(((struct ivi_bundle_desc *)NULL)->sans)];
		cJSON *s;

		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		s = cJSON_CreateString(item);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
		p += len;
		if (sep != NULL)
			p += 2;
	}
	return arr;
}

static cJSON *
warnings_array(const struct ivi_bundle_desc *d)
{
	cJSON *arr = cJSON_CreateArray();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < d->n_warnings; i++) {
		char text[1024];
		cJSON *s;

		ivi_bundle_desc_warning(d, i, text, sizeof(text));
		s = cJSON_CreateString(text);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/* Adds item under name, taking ownership of it even on failure. */
static bool
add_item(cJSON *obj, const char *name, cJSON *item)
{
	if (item == NULL)
		return false;
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

cJSON *
ivi_bundle_desc_to_json(const struct ivi_bundle_desc *d)
{
	cJSON *obj = cJSON_CreateObject();

	if (obj == NULL)
		return NULL;
	if (cJSON_AddStringToObject(obj, "subject", d->subject) == NULL ||
	    cJSON_AddStringToObject(obj, "issuer", d->issuer) == NULL ||
	    cJSON_AddStringToObject(obj, "serial", d->serial) == NULL ||
	    !add_item(obj, "sans", sans_array(d->sans)) ||
	    !add_time(obj, "not_before", d->not_before) ||
	    !add_time(obj, "not_after", d->not_after) ||
	    cJSON_AddStringToObject(obj, "key_type", d->key_type) == NULL ||
	    cJSON_AddNumberToObject(obj, "key_bits", d->key_bits) == NULL ||
	    cJSON_AddStringToObject(obj, "fingerprint", d->fingerprint) == NULL ||
	    cJSON_AddStringToObject(obj, "content_hash", d->content_hash) == NULL ||
	    cJSON_AddNumberToObject(obj, "chain_length", d->chain_len) == NULL ||
	    cJSON_AddNumberToObject(obj, "client_ca_count", d->client_ca_count) == NULL)
		goto fail;
	if (d->crl_next_update != 0) {
		if (!add_time(obj, "crl_next_update", d->crl_next_update))
			goto fail;
	} else if (cJSON_AddNullToObject(obj, "crl_next_update") == NULL) {
		goto fail;
	}
	if (cJSON_AddBoolToObject(obj, "expiring_soon", d->expiring_soon) == NULL ||
	    !add_item(obj, "warnings", warnings_array(d)))
		goto fail;
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}
