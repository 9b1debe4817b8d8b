/* Serial, dates and public-key ids of the PEM files on disk, for log lines. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "certinfo.h"

static void
hex_encode(const unsigned char *bin, size_t len, char *out, size_t outlen)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < len && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, outlen - 2 * i, "%02x", bin[i]);
}

static void
read_cert(const char *path, struct cw_certinfo *out)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t *list = NULL;
	unsigned int n = 0, i;
	unsigned char buf[128];
	size_t len;

	if (gnutls_load_file(path, &data) < 0)
		return;
	if (gnutls_x509_crt_list_import2(&list, &n, &data, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0)
		goto out;

	len = sizeof(buf);
	if (gnutls_x509_crt_get_serial(list[0], buf, &len) < 0)
		goto out;
	hex_encode(buf, len, out->serial, sizeof(out->serial));
	out->not_before = gnutls_x509_crt_get_activation_time(list[0]);
	out->not_after = gnutls_x509_crt_get_expiration_time(list[0]);
	len = sizeof(buf);
	if (gnutls_x509_crt_get_key_id(list[0], GNUTLS_KEYID_USE_SHA256, buf, &len) < 0)
		goto out;
	hex_encode(buf, len, out->cert_key_id, sizeof(out->cert_key_id));
	out->have_cert = true;
out:
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	gnutls_free(data.data);
}

static void
read_key(const char *path, struct cw_certinfo *out)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	unsigned char buf[128];
	size_t len = sizeof(buf);

	if (gnutls_load_file(path, &data) < 0)
		return;
	if (gnutls_privkey_init(&key) < 0 || gnutls_pubkey_init(&pub) < 0)
		goto out;
	/* GNUTLS_PKCS_PLAIN: never ask for a password; an encrypted key stays unset. */
	if (gnutls_privkey_import_x509_raw(key, &data, GNUTLS_X509_FMT_PEM, NULL,
	    GNUTLS_PKCS_PLAIN) < 0)
		goto out;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0)
		goto out;
	if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, buf, &len) < 0)
		goto out;
	hex_encode(buf, len, out->key_id, sizeof(out->key_id));
	out->have_key = true;
out:
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	if (data.data != NULL)
		gnutls_memset(data.data, 0, data.size);
	gnutls_free(data.data);
}

void
cw_certinfo_read(const char *cert_path, const char *key_path, struct cw_certinfo *out)
{
	memset(out, 0, sizeof(*out));
	if (cert_path != NULL)
		read_cert(cert_path, out);
	if (key_path != NULL)
		read_key(key_path, out);
}
