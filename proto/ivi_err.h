/*
 * Error codes shared by every ivicli library: the control protocol, the
 * config parser and the certificate bundle loader.
 *
 * Functions return 0 on success or a negative value from enum ivi_err.
 * Each value keeps its number forever: append new codes, retire old ones,
 * never renumber or reuse. The short code string (ivi_err_code) is what
 * travels on the wire and in audit lines, so it is stable too.
 */
#ifndef IVI_ERR_H
#define IVI_ERR_H

enum ivi_err {
	IVI_OK = 0,

	/* Generic. */
	IVI_E_NOMEM = -1,               /* "no_memory" */
	IVI_E_IO = -2,                  /* "io_error" */
	IVI_E_INTERNAL = -3,            /* "internal" */
	IVI_E_INVALID_ARG = -4,         /* "invalid_argument" */
	IVI_E_TIMEOUT = -5,             /* "timeout" */
	IVI_E_UNAVAILABLE = -6,         /* "unavailable": peer not listening */
	IVI_E_BUSY = -7,                /* "busy": limit reached, try later */

	/* Control protocol. */
	IVI_E_BAD_FRAME = -10,          /* "bad_frame" */
	IVI_E_TOO_LARGE = -11,          /* "too_large" */
	IVI_E_BAD_VERSION = -12,        /* "bad_version" */
	IVI_E_BAD_JSON = -13,           /* "bad_json" */
	IVI_E_BAD_SIGNATURE = -14,      /* "bad_signature" */
	IVI_E_STALE_TIMESTAMP = -15,    /* "stale_timestamp" */
	IVI_E_REPLAYED_NONCE = -16,     /* "replayed_nonce" */
	IVI_E_UNKNOWN_TYPE = -17,       /* "unknown_type" */
	IVI_E_UNKNOWN_TARGET = -18,     /* "unknown_target" */
	IVI_E_STALE_FINGERPRINT = -19,  /* "stale_fingerprint" */
	IVI_E_PEER_NOT_ALLOWED = -20,   /* "peer_not_allowed" */
	IVI_E_BAD_MESSAGE = -21,        /* "bad_message": field missing or mistyped */
	IVI_E_KEY_PERMISSIONS = -22,    /* "key_permissions": control key mode/owner */
	IVI_E_KEY_FORMAT = -23,         /* "key_format": control key file invalid */
	IVI_E_KEY_EXISTS = -24,         /* "key_exists": keygen without --force */
	IVI_E_SOCKET_IN_USE = -25,      /* "socket_in_use": a live server listens */
	IVI_E_RELOAD_DISABLED = -26,    /* "reload_disabled": TLS off or self-signed */

	/* Certificate bundle: files. */
	IVI_E_FILE_MISSING = -40,       /* "file_missing" */
	IVI_E_FILE_PERMISSION = -41,    /* "permission_denied" */
	IVI_E_FILE_EMPTY = -42,         /* "file_empty" */
	IVI_E_NO_PEM = -43,             /* "no_pem_block" */
	IVI_E_TRUNCATED = -44,          /* "truncated" */
	IVI_E_PARSE = -45,              /* "parse_error" */
	IVI_E_UTF16 = -46,              /* "utf16_encoded" */
	IVI_E_FILE_TOO_BIG = -47,       /* "file_too_big" */
	IVI_E_NOT_REGULAR = -48,        /* "not_a_regular_file" */

	/* Certificate bundle: keys and passwords. */
	IVI_E_PASSWORD_MISSING = -50,   /* "password_missing" */
	IVI_E_WRONG_PASSWORD = -51,     /* "wrong_password" */
	IVI_E_KEY_MISMATCH = -52,       /* "key_mismatch" */

	/* Certificate bundle: validation. */
	IVI_E_CERT_EXPIRED = -60,       /* "cert_expired" */
	IVI_E_CERT_NOT_YET_VALID = -61, /* "cert_not_yet_valid" */
	IVI_E_CHAIN_UNTRUSTED = -62,    /* "chain_untrusted" */
	IVI_E_CHAIN_ORDER = -63,        /* "chain_order" */
	IVI_E_WRONG_KEY_USAGE = -64,    /* "wrong_key_usage" */
	IVI_E_CHAIN_SHRANK = -65,       /* "chain_shrank" */
	IVI_E_ROLLBACK = -66,           /* "rollback" */
	IVI_E_PRIORITY_UNUSABLE = -67,  /* "priority_unusable" */
	IVI_E_CLIENT_CA = -68,          /* "client_ca_invalid" */
	IVI_E_CRL = -69,                /* "crl_invalid" */

	/* Configuration. */
	IVI_E_CONFIG = -80,             /* "config_error" */
};

/* Returns the stable short code for err ("bad_frame"), or "unknown". */
const char *ivi_err_code(int err);

/* Returns a one-line English description of err; never NULL. */
const char *ivi_strerror(int err);

/*
 * Parses a short code back into its value. Returns the negative value, or
 * IVI_E_INTERNAL when code is unknown.
 */
int ivi_err_from_code(const char *code);

/*
 * Maps err to a sysexits(3) exit status: 65 bad data, 66 no input,
 * 69 unavailable, 75 temporary failure, 77 permission, 78 config, 70
 * internal. Returns 0 for IVI_OK.
 */
int ivi_err_exit_status(int err);

#endif /* IVI_ERR_H */
