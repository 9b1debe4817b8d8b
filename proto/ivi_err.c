/* Stable error codes, their wire names, descriptions and exit statuses. */
#include "config.h"

#include <string.h>
#include <sysexits.h>

#include "ivi_err.h"

struct err_entry {
	int err;
	const char *code;
	const char *text;
	int exit_status;
};

static const struct err_entry err_table[] = {
	{IVI_OK, "ok", "success", EX_OK},
	{IVI_E_NOMEM, "no_memory", "out of memory", EX_OSERR},
	{IVI_E_IO, "io_error", "input/output error", EX_IOERR},
	{IVI_E_INTERNAL, "internal", "internal error", EX_SOFTWARE},
	{IVI_E_INVALID_ARG, "invalid_argument", "invalid argument", EX_USAGE},
	{IVI_E_TIMEOUT, "timeout", "timed out", EX_TEMPFAIL},
	{IVI_E_UNAVAILABLE, "unavailable", "server not reachable", EX_UNAVAILABLE},
	{IVI_E_BUSY, "busy", "too many connections or a reload in progress", EX_TEMPFAIL},
	{IVI_E_BAD_FRAME, "bad_frame", "malformed frame", EX_PROTOCOL},
	{IVI_E_TOO_LARGE, "too_large", "frame larger than the maximum", EX_PROTOCOL},
	{IVI_E_BAD_VERSION, "bad_version", "unsupported protocol version", EX_PROTOCOL},
	{IVI_E_BAD_JSON, "bad_json", "payload is not a JSON object", EX_PROTOCOL},
	{IVI_E_BAD_SIGNATURE, "bad_signature", "HMAC signature does not verify", EX_NOPERM},
	{IVI_E_STALE_TIMESTAMP, "stale_timestamp", "timestamp outside the accepted window", EX_PROTOCOL},
	{IVI_E_REPLAYED_NONCE, "replayed_nonce", "nonce already seen", EX_PROTOCOL},
	{IVI_E_UNKNOWN_TYPE, "unknown_type", "unknown message type", EX_PROTOCOL},
	{IVI_E_UNKNOWN_TARGET, "unknown_target", "unknown reload target", EX_PROTOCOL},
	{IVI_E_STALE_FINGERPRINT, "stale_fingerprint", "files changed since they were validated", EX_TEMPFAIL},
	{IVI_E_PEER_NOT_ALLOWED, "peer_not_allowed", "peer user not in allowed_users", EX_NOPERM},
	{IVI_E_BAD_MESSAGE, "bad_message", "message field missing or of the wrong type", EX_PROTOCOL},
	{IVI_E_KEY_PERMISSIONS, "key_permissions", "control key file is accessible by other users", EX_NOPERM},
	{IVI_E_KEY_FORMAT, "key_format", "control key file is not in the expected format", EX_DATAERR},
	{IVI_E_KEY_EXISTS, "key_exists", "control key file already exists", EX_CANTCREAT},
	{IVI_E_SOCKET_IN_USE, "socket_in_use", "another server is listening on the control socket", EX_UNAVAILABLE},
	{IVI_E_RELOAD_DISABLED, "reload_disabled", "the server does not reload certificates (TLS disabled or self-signed)", EX_UNAVAILABLE},
	{IVI_E_FILE_MISSING, "file_missing", "file not found", EX_NOINPUT},
	{IVI_E_FILE_PERMISSION, "permission_denied", "permission denied", EX_NOPERM},
	{IVI_E_FILE_EMPTY, "file_empty", "file is empty", EX_DATAERR},
	{IVI_E_NO_PEM, "no_pem_block", "no PEM block found", EX_DATAERR},
	{IVI_E_TRUNCATED, "truncated", "last PEM block is incomplete (file truncated?)", EX_DATAERR},
	{IVI_E_PARSE, "parse_error", "cannot parse", EX_DATAERR},
	{IVI_E_UTF16, "utf16_encoded", "file is UTF-16 encoded; convert it to ASCII or UTF-8", EX_DATAERR},
	{IVI_E_FILE_TOO_BIG, "file_too_big", "file larger than the maximum", EX_DATAERR},
	{IVI_E_NOT_REGULAR, "not_a_regular_file", "not a regular file", EX_DATAERR},
	{IVI_E_PASSWORD_MISSING, "password_missing", "key is encrypted and no password is configured", EX_DATAERR},
	{IVI_E_WRONG_PASSWORD, "wrong_password", "decryption or MAC verification failed: wrong password?", EX_DATAERR},
	{IVI_E_KEY_MISMATCH, "key_mismatch", "private key does not match the certificate", EX_DATAERR},
	{IVI_E_CERT_EXPIRED, "cert_expired", "certificate has expired", EX_DATAERR},
	{IVI_E_CERT_NOT_YET_VALID, "cert_not_yet_valid", "certificate is not yet valid", EX_DATAERR},
	{IVI_E_CHAIN_UNTRUSTED, "chain_untrusted", "chain does not verify to the trusted CA", EX_DATAERR},
	{IVI_E_CHAIN_ORDER, "chain_order", "no certificate in the chain can be the leaf (wrong order?)", EX_DATAERR},
	{IVI_E_WRONG_KEY_USAGE, "wrong_key_usage", "extended key usage does not allow TLS server authentication", EX_DATAERR},
	{IVI_E_CHAIN_SHRANK, "chain_shrank", "new chain is shorter than the one served (issuer missing?)", EX_DATAERR},
	{IVI_E_ROLLBACK, "rollback", "new certificate expires before the one served (rollback?)", EX_DATAERR},
	{IVI_E_PRIORITY_UNUSABLE, "priority_unusable", "TLS priority string cannot use this key type", EX_DATAERR},
	{IVI_E_CLIENT_CA, "client_ca_invalid", "client CA bundle invalid", EX_DATAERR},
	{IVI_E_CRL, "crl_invalid", "CRL invalid", EX_DATAERR},
	{IVI_E_CONFIG, "config_error", "configuration error", EX_CONFIG},
};

static const struct err_entry *
err_lookup(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (err_table[i].err == err)
			return &err_table[i];
	}
	return NULL;
}

const char *
ivi_err_code(int err)
{
	const struct err_entry *e = err_lookup(err);

	return e != NULL ? e->code : "unknown";
}

const char *
ivi_strerror(int err)
{
	const struct err_entry *e = err_lookup(err);

	return e != NULL ? e->text : "unknown error";
}

int
ivi_err_from_code(const char *code)
{
	if (code == NULL)
		return IVI_E_INTERNAL;
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (strcmp(err_table[i].code, code) == 0)
			return err_table[i].err;
	}
	return IVI_E_INTERNAL;
}

int
ivi_err_exit_status(int err)
{
	const struct err_entry *e = err_lookup(err);

	return e != NULL ? e->exit_status : EX_SOFTWARE;
}
