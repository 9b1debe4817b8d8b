/*
 * Identifiers of the certificate and key files on disk, read on their own
 * so that the watcher can name both public keys of a mismatched pair and
 * the dates and serial of a rejected certificate even when the bundle
 * loader refused the set.
 */
#ifndef CW_CERTINFO_H
#define CW_CERTINFO_H

#include <stdbool.h>
#include <time.h>

struct cw_certinfo {
	bool have_cert;            /* first PEM certificate of cert_path parsed */
	char serial[130];          /* lowercase hex */
	time_t not_before;
	time_t not_after;
	char cert_key_id[65];      /* SHA-256 of its SubjectPublicKeyInfo, lowercase hex */
	bool have_key;             /* key_path parsed (unencrypted PEM only) */
	char key_id[65];           /* SHA-256 of the key's SubjectPublicKeyInfo */
};

/*
 * Reads what it can from cert_path (first certificate of a PEM file) and
 * key_path (NULL allowed). Never fails: what cannot be read stays unset.
 * Key bytes are wiped before they are freed.
 */
void cw_certinfo_read(const char *cert_path, const char *key_path, struct cw_certinfo *out);

#endif /* CW_CERTINFO_H */
