/*
 * Strict reader for the subset of TOML that config.toml uses.
 *
 * Debian packages no C TOML parser, so this one is hand-written and kept
 * small: tables with dotted names ([api.tls]), bare keys, basic strings
 * with escapes, literal strings, decimal integers with optional sign and
 * underscores, booleans, and arrays of strings or integers that may span
 * lines. Everything else TOML allows (inline tables, floats, dates and
 * times, multi-line strings, arrays of tables, dotted or quoted keys) is
 * rejected as "unsupported TOML". The reader is fuzzed by
 * tests/fuzz/fuzz_config.c.
 *
 * The reader passes every table header and key to a handler, which checks
 * them against ivicli's keys. Duplicate keys and duplicate tables are
 * rejected by the reader itself.
 */
#ifndef IVI_TOML_H
#define IVI_TOML_H

#include <stdbool.h>
#include <stddef.h>

/* Largest table name, key and string value the reader accepts, in bytes. */
#define IVI_TOML_MAX_NAME 64
#define IVI_TOML_MAX_STRING 4096
#define IVI_TOML_MAX_ARRAY 256

enum ivi_toml_type {
	IVI_TOML_STRING = 1,
	IVI_TOML_INTEGER = 2,
	IVI_TOML_BOOLEAN = 3,
	IVI_TOML_ARRAY = 4,
};

/* One value. Arrays hold strings and integers only, never arrays. */
struct ivi_toml_value {
	enum ivi_toml_type type;
	char *string;                 /* STRING: UTF-8 without NUL bytes */
	long long integer;            /* INTEGER */
	bool boolean;                 /* BOOLEAN */
	struct ivi_toml_value *items; /* ARRAY: n_items elements */
	size_t n_items;
};

/*
 * Callbacks of ivi_toml_parse. Each returns 0 to go on, or a negative
 * ivi_err value after writing one message line into msg (msglen bytes).
 * The reader prefixes that line with "NAME:LINE: ". All pointers are valid
 * only during the call.
 */
struct ivi_toml_handler {
	/* A [table] header; table is the dotted name without brackets. */
	int (*table)(void *ctx, const char *table, unsigned line, char *msg, size_t msglen);
	/* A key = value line; table is "" before the first header. */
	int (*key)(void *ctx, const char *table, const char *key,
	    const struct ivi_toml_value *value, unsigned line, char *msg, size_t msglen);
};

/*
 * Parses len bytes of buf (need not be NUL-terminated) and calls handler
 * for every table header and key, in file order. name is used in
 * messages only. Returns 0, IVI_E_CONFIG with "NAME:LINE: reason" in
 * errbuf, IVI_E_NOMEM, or the first error a callback returned.
 */
int ivi_toml_parse(const char *name, const char *buf, size_t len,
    const struct ivi_toml_handler *handler, void *ctx, char *errbuf, size_t errlen);

#endif /* IVI_TOML_H */
