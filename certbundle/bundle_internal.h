/*
 * Internals of the certificate bundle loader, shared by the files of
 * certbundle/ only.
 */
#ifndef IVI_BUNDLE_INTERNAL_H
#define IVI_BUNDLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ivi_bundle.h"

/* The files of a bundle, in the order content_hash covers them. */
enum bundle_slot {
	SLOT_CERT = 0,      /* PEM chain, or the PKCS#12 file */
	SLOT_KEY = 1,       /* PEM private key; unset with PKCS#12 */
	SLOT_CLIENT_CA = 2, /* client CA bundle */
	SLOT_CRL = 3,       /* CRL */
	SLOT_TRUST = 4,     /* trust anchors for the chain; not part of content_hash */
	SLOT_COUNT = 5,
};

/* Slots SLOT_CERT up to this one (excluded) make up content_hash. */
#define SLOT_HASHED SLOT_TRUST

struct bundle_file {
	const char *path;    /* borrowed from the options; NULL when not configured */
	const char *role;    /* "certificate", "private key", ... for messages */
	unsigned char *data; /* whole file, followed by a NUL byte */
	size_t len;
};

struct bundle_files {
	struct bundle_file slot[SLOT_COUNT];
};

struct ivi_bundle {
	gnutls_x509_crt_t *chain;      /* leaf first */
	unsigned chain_len;
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t *client_cas;
	unsigned n_client_cas;
	gnutls_x509_crl_t *crls;
	unsigned n_crls;
	struct ivi_bundle_desc desc;
};

/* Warnings (static strings, compared by address in ivi_bundle_desc_to_json). */
extern const char bundle_warn_expiring[];
extern const char bundle_warn_leaf_only[];
extern const char bundle_warn_eddsa[];
extern const char bundle_warn_rc2[];
extern const char bundle_warn_dropped[];
extern const char bundle_warn_within_skew[];
extern const char bundle_warn_self_signed[];
extern const char bundle_warn_crl_stale[];
extern const char bundle_warn_crl_unrelated[];
extern const char bundle_warn_no_digital_signature[];

/* Fills err (NULL allowed) and returns code. */
int bundle_fail(struct ivi_bundle_error *err, int code, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds a warning once; extra warnings past the maximum are dropped. */
void bundle_warn(struct ivi_bundle_desc *desc, const char *warning);

/* ---- bundle_read.c ----------------------------------------------------- */

/*
 * Reads every configured file of opts (the trust CA file only when
 * with_trust) into files. Returns 0 or the first file error.
 */
int bundle_read_files(const struct ivi_bundle_opts *opts, bool with_trust,
    struct bundle_files *files, struct ivi_bundle_error *err);

/* Wipes and frees the file contents. */
void bundle_files_clear(struct bundle_files *files);

/* Writes the SHA-256 content hash of the hashed slots as lowercase hex. */
int bundle_hash(const struct bundle_files *files, char hash[65], struct ivi_bundle_error *err);

/* Writes len bytes as lowercase hex into out (2 * len + 1 bytes). */
void bundle_hex(const unsigned char *bytes, size_t len, char *out);

/* ---- bundle_pem.c ------------------------------------------------------ */

/* True when the file is binary DER (starts with a SEQUENCE, has no PEM armour). */
bool bundle_is_der(const struct bundle_file *f);

/*
 * Checks that f is PEM text: not empty, not UTF-16, not DER, every block
 * with its END line, and at least one block labelled with one of labels.
 * labels is NULL-terminated, and an entry starting with '*' matches any
 * label ending with the rest. code_override, when non-zero, replaces the
 * specific code (used for the client CA bundle and the CRL).
 */
int bundle_check_pem(const struct bundle_file *f, const char *const *labels, int code_override,
    struct ivi_bundle_error *err);

/* True when the first private key block of f is encrypted. */
bool bundle_pem_key_encrypted(const struct bundle_file *f);

/* ---- bundle_key.c ------------------------------------------------------ */

/* Imports the PEM private key of f, decrypting it with $password_env. */
int bundle_import_key(const struct bundle_file *f, const char *password_env,
    gnutls_x509_privkey_t *out, struct ivi_bundle_error *err);

/*
 * Imports a PKCS#12 file: its key and every certificate it contains, in no
 * particular order (the caller frees them with bundle_free_crts). Sets
 * *weak_cipher when a bag uses RC2-40.
 */
int bundle_import_pkcs12(const struct bundle_file *f, const char *password_env,
    gnutls_x509_privkey_t *key, gnutls_x509_crt_t **certs, unsigned *n_certs, bool *weak_cipher,
    struct ivi_bundle_error *err);

/* Deinits n certificates and frees the array (gnutls_free); NULL allowed. */
void bundle_free_crts(gnutls_x509_crt_t *crts, unsigned n);

/* ---- bundle_chain.c ---------------------------------------------------- */

/*
 * Finds the certificate that matches key and orders its issuers after it.
 * Takes ownership of certs (n of them) and returns the chain in *chain
 * (gnutls_malloc'd) and the number of certificates dropped as unrelated.
 */
int bundle_order_chain(gnutls_x509_crt_t *certs, unsigned n, gnutls_x509_privkey_t key,
    const char *cert_file, const char *key_file, gnutls_x509_crt_t **chain, unsigned *chain_len,
    unsigned *dropped, struct ivi_bundle_error *err);

/* Writes the subject (or issuer) DN of crt into out, "" on error. */
void bundle_crt_dn(gnutls_x509_crt_t crt, bool issuer, char *out, size_t outlen);

/* True when crt names itself as issuer. */
bool bundle_crt_self_issued(gnutls_x509_crt_t crt);

/* ---- bundle_validate.c ------------------------------------------------- */

/* Runs the validity window, expiry warning, key usage, trust and priority checks. */
int bundle_validate(struct ivi_bundle *b, const struct ivi_bundle_opts *opts,
    const struct bundle_files *files, time_t now, struct ivi_bundle_error *err);

/* ---- bundle_priority.c ------------------------------------------------- */

/* Checks that priority can be used with a key of algorithm pk (and ECDSA curve). */
int bundle_check_priority(const char *priority, gnutls_pk_algorithm_t pk,
    gnutls_ecc_curve_t curve, const char *key_type, const char *file,
    struct ivi_bundle_error *err);

/* ---- bundle_desc.c ----------------------------------------------------- */

/* Fills the description fields that come from the leaf and the chain. */
int bundle_describe_chain(struct ivi_bundle *b, struct ivi_bundle_error *err);

/* Returns the public key algorithm of crt and, for ECDSA, its curve. */
gnutls_pk_algorithm_t bundle_crt_key_type(gnutls_x509_crt_t crt, gnutls_ecc_curve_t *curve,
    unsigned *bits);

/* ---- bundle_extra.c ---------------------------------------------------- */

/* Loads the client CA bundle and the CRL, when configured, into b. */
int bundle_load_client_auth(struct ivi_bundle *b, const struct bundle_files *files, time_t now,
    struct ivi_bundle_error *err);

#endif /* IVI_BUNDLE_INTERNAL_H */
