/*
 * Certificate bundle: loads and validates the server's TLS identity (chain,
 * key, client CA bundle, CRL) and builds GnuTLS credentials from it. Linked
 * by both the server and the watcher so that they agree on what a good
 * certificate is. This module never logs: it returns a code and a message.
 */
#ifndef IVI_BUNDLE_H
#define IVI_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <gnutls/gnutls.h>

/* Largest certificate, key, CA or CRL file the loader reads. */
#define IVI_BUNDLE_MAX_FILE (1024 * 1024)
#define IVI_BUNDLE_MAX_WARNINGS 8

/* Length of an RFC 3339 UTC time "2026-12-04T20:20:00Z" with its NUL. */
#define IVI_BUNDLE_TIME_LEN 21

struct ivi_bundle;
struct ivi_config;

/* Files and policy for one load. Strings are borrowed for the duration of the call. */
struct ivi_bundle_opts {
	const char *cert_path;      /* PEM chain, or PKCS#12 when key_path is NULL */
	const char *key_path;       /* PEM private key; NULL for PKCS#12 */
	const char *password_env;   /* env var holding the key or PKCS#12 password */
	const char *client_ca_path; /* optional */
	const char *crl_path;       /* optional */
	const char *trust_ca_path;  /* optional: chain must verify to it */
	const char *priority;       /* optional: checked against the key type */
	int clock_skew;             /* seconds of notBefore tolerance */
	int expiry_warn_days;       /* warning threshold */
	time_t now;                 /* 0 = time(NULL); tests set it */
};

/* Reason for a failed load. file is the path at fault ("" when none). */
struct ivi_bundle_error {
	int code;                   /* negative enum ivi_err value */
	char file[512];
	char message[512];          /* one line; never file contents or passwords */
};

/* Description of a loaded bundle. Times are UTC seconds since the epoch. */
struct ivi_bundle_desc {
	char subject[512];
	char issuer[512];
	char serial[130];           /* lowercase hex, no separators */
	char sans[1024];            /* "DNS:a, IP:127.0.0.1" */
	time_t not_before;
	time_t not_after;
	char key_type[32];          /* "ECDSA P-256", "RSA", "Ed25519" */
	unsigned key_bits;
	char fingerprint[65];       /* SHA-256 of the leaf DER, lowercase hex */
	char content_hash[65];      /* SHA-256 over the files, as ivi_bundle_hash_files */
	unsigned chain_len;         /* certificates sent, leaf included */
	unsigned client_ca_count;
	time_t crl_next_update;     /* 0 when no CRL */
	bool expiring_soon;
	const char *warnings[IVI_BUNDLE_MAX_WARNINGS]; /* static strings */
	size_t n_warnings;
};

/*
 * Reads every configured file, parses, sorts the chain leaf first and
 * validates (key matches leaf, validity window with skew, trust when
 * trust_ca_path is set, server-auth key usage, priority usable with the
 * key type). Returns 0 and a new bundle in *out, or a negative ivi_err
 * with err filled; *out is untouched on error. IVI_E_BUSY means the files
 * kept changing while they were opened (a rotation in progress): retry.
 */
int ivi_bundle_load(const struct ivi_bundle_opts *opts, struct ivi_bundle **out,
    struct ivi_bundle_error *err);

/*
 * Hashes the bytes of the configured files (following symlinks) without
 * parsing them, for cheap change detection. Writes lowercase hex into hash.
 * Returns 0 or the error for the first file that cannot be read.
 *
 * The hash is SHA-256 over cert, key, client CA and CRL, in that order:
 * for each, one byte 0 when it is not configured, else one byte 1, the
 * file length as 8 bytes big-endian and the bytes. trust_ca_path is not
 * part of it. ivi_bundle_load stores the same value in content_hash.
 */
int ivi_bundle_hash_files(const struct ivi_bundle_opts *opts, char hash[65],
    struct ivi_bundle_error *err);

/* Returns the description of a loaded bundle; owned by the bundle. */
const struct ivi_bundle_desc *ivi_bundle_describe(const struct ivi_bundle *b);

/*
 * Applies the replacement policy of a candidate against what is served:
 * IVI_E_CHAIN_SHRANK when the chain got shorter, IVI_E_ROLLBACK when
 * not_after moved back. Returns 0 when the candidate may replace served.
 */
int ivi_bundle_check_replacement(const struct ivi_bundle_desc *candidate,
    const struct ivi_bundle_desc *served, bool allow_chain_shrink,
    bool allow_rollback, struct ivi_bundle_error *err);

/*
 * Builds new GnuTLS credentials (chain, key, client CAs as trust list, CRL)
 * from a loaded bundle. The caller owns *out. Returns 0 or a negative
 * ivi_err with err filled.
 */
int ivi_bundle_credentials(const struct ivi_bundle *b,
    gnutls_certificate_credentials_t *out, struct ivi_bundle_error *err);

/*
 * Makes an ephemeral self-signed ECDSA P-256 bundle valid for 24 hours with
 * SANs localhost, 127.0.0.1 and ::1. Returns 0 or a negative ivi_err. With
 * no files behind it, its content_hash is the leaf's fingerprint.
 */
int ivi_bundle_self_signed(struct ivi_bundle **out, struct ivi_bundle_error *err);

/* Returns the description as a new JSON object (caller frees), or NULL. */
cJSON *ivi_bundle_desc_to_json(const struct ivi_bundle_desc *d);

/* Frees b, wiping key material; NULL is allowed. */
void ivi_bundle_free(struct ivi_bundle *b);

/*
 * Fills out from [api.tls] of cfg so that the server and the watcher load
 * the same files the same way (cert_path, key_path, password_env,
 * client_ca_path, crl_path, trust_ca_path, priority, clock_skew,
 * expiry_warn_days; now = 0). The strings stay owned by cfg. Returns 0,
 * or IVI_E_RELOAD_DISABLED when TLS is disabled, self-signed, or has no
 * cert_path.
 */
int ivi_bundle_opts_from_config(const struct ivi_config *cfg, struct ivi_bundle_opts *out);

/*
 * Writes warning number i of d as one line, with the details the static
 * string leaves out (the missing issuer's name, the expiry time). This is
 * the text ivi_bundle_desc_to_json puts in "warnings".
 */
void ivi_bundle_desc_warning(const struct ivi_bundle_desc *d, size_t i, char *out, size_t outlen);

/* Writes t as RFC 3339 UTC ("2026-12-04T20:20:00Z"). */
void ivi_bundle_format_time(time_t t, char out[IVI_BUNDLE_TIME_LEN]);

#endif /* IVI_BUNDLE_H */
