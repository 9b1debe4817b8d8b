/*
 * Strict reader for the TOML subset of config.toml (see ivi_toml.h).
 *
 * Debian packages no C TOML parser, so this one is ours. It reads the whole
 * buffer in one pass, tracking the line number for messages, and is fuzzed
 * by tests/fuzz/fuzz_config.c. Its input is untrusted in that a typo must
 * give a clear message, never a crash or a silently ignored line.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivi_err.h"
#include "ivi_toml.h"

/* Caps that keep a hostile file from costing quadratic time. */
#define TOML_MAX_TABLES 64
#define TOML_MAX_KEYS 256

struct seen_name {
	char name[IVI_TOML_MAX_NAME + 1];
	unsigned line;
};

struct parser {
	const char *name;
	const char *p;
	const char *end;
	unsigned line;
	unsigned err_line;
	char table[IVI_TOML_MAX_NAME + 1];
	struct seen_name tables[TOML_MAX_TABLES];
	size_t n_tables;
	struct seen_name keys[TOML_MAX_KEYS];
	size_t n_keys;
	const struct ivi_toml_handler *handler;
	void *ctx;
	char msg[384];
};

/* A growable byte buffer for string values. */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
};

static int parse_value(struct parser *ps, struct ivi_toml_value *v, bool in_array);

static int __attribute__((format(printf, 2, 3)))
fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
	va_end(ap);
	ps->err_line = ps->line;
	return IVI_E_CONFIG;
}

static int
unsupported(struct parser *ps, const char *what)
{
	return fail(ps, "unsupported TOML: %s", what);
}

static bool
at_end(const struct parser *ps)
{
	return ps->p >= ps->end;
}

/* Returns the next byte, or -1 at the end of the buffer. */
static int
peek(const struct parser *ps)
{
	return at_end(ps) ? -1 : (unsigned char)*ps->p;
}

/* Returns the byte at offset from the current position, or -1 past the end. */
static int
peek_at(const struct parser *ps, size_t offset)
{
	return (size_t)(ps->end - ps->p) > offset ? (unsigned char)ps->p[offset] : -1;
}

static bool
is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-';
}

static bool
is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Writes a printable rendering of byte c for a message. */
static const char *
show_char(int c, char *buf, size_t len)
{
	if (c < 0)
		snprintf(buf, len, "end of file");
	else if (c == '\n' || c == '\r')
		snprintf(buf, len, "end of line");
	else if (c > 0x20 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned)c);
	return buf;
}

static void
skip_blanks(struct parser *ps)
{
	while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* Consumes a newline ("\n" or "\r\n") when one is next. Returns 1, 0 or an error. */
static int
take_newline(struct parser *ps)
{
	if (peek(ps) == '\n') {
		ps->p++;
		ps->line++;
		return 1;
	}
	if (peek(ps) == '\r') {
		if (peek_at(ps, 1) != '\n')
			return fail(ps, "carriage return without a line feed");
		ps->p += 2;
		ps->line++;
		return 1;
	}
	return 0;
}

/* Skips a comment up to (not including) the newline. */
static int
skip_comment(struct parser *ps)
{
	if (peek(ps) != '#')
		return 0;
	while (!at_end(ps) && *ps->p != '\n' && *ps->p != '\r') {
		if (is_control((unsigned char)*ps->p))
			return fail(ps, "control character 0x%02x in a comment",
			    (unsigned char)*ps->p);
		ps->p++;
	}
	return 0;
}

/* Requires the rest of the line to be blank or a comment, and consumes it. */
static int
finish_line(struct parser *ps)
{
	char shown[32];
	int r;

	skip_blanks(ps);
	r = skip_comment(ps);
	if (r < 0)
		return r;
	if (at_end(ps))
		return 0;
	r = take_newline(ps);
	if (r < 0)
		return r;
	if (r == 0)
		return fail(ps, "expected the end of the line, found %s",
		    show_char(peek(ps), shown, sizeof(shown)));
	return 0;
}

/* Skips blanks, newlines and comments between array elements. */
static int
skip_array_space(struct parser *ps)
{
	for (;;) {
		int r;

		skip_blanks(ps);
		r = skip_comment(ps);
		if (r < 0)
			return r;
		r = take_newline(ps);
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
	}
}

/* Reads a bare key or table name part into buf (appending at *len). */
static int
read_bare(struct parser *ps, char *buf, size_t *len, const char *what)
{
	char shown[32];
	size_t start = *len;

	while (is_bare_key_char(peek(ps))) {
		if (*len >= IVI_TOML_MAX_NAME)
			return fail(ps, "%s longer than %d bytes", what, IVI_TOML_MAX_NAME);
		buf[(*len)++] = *ps->p++;
	}
	buf[*len] = '\0';
	if (*len == start) {
		if (peek(ps) == '"' || peek(ps) == '\'')
			return unsupported(ps, "quoted keys and table names");
		return fail(ps, "expected a %s, found %s", what,
		    show_char(peek(ps), shown, sizeof(shown)));
	}
	return 0;
}

/* ---- Values ------------------------------------------------------------ */

static void
value_clear(struct ivi_toml_value *v)
{
	free(v->string);
	for (size_t i = 0; i < v->n_items; i++)
		value_clear(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static int
strbuf_put(struct parser *ps, struct strbuf *sb, const char *bytes, size_t n)
{
	if (sb->len + n > IVI_TOML_MAX_STRING)
		return fail(ps, "string longer than %d bytes", IVI_TOML_MAX_STRING);
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap == 0 ? 64 : sb->cap;
		char *grown;

		while (cap < sb->len + n + 1)
			cap *= 2;
		grown = realloc(sb->data, cap);
		if (grown == NULL)
			return IVI_E_NOMEM;
		sb->data = grown;
		sb->cap = cap;
	}
	memcpy(sb->data + sb->len, bytes, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

/* Appends code point cp as UTF-8. */
static int
strbuf_put_utf8(struct parser *ps, struct strbuf *sb, unsigned long cp)
{
	char out[4];
	size_t n;

	if (cp < 0x80) {
		out[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return strbuf_put(ps, sb, out, n);
}

/* Decodes the digits of a \uXXXX or \UXXXXXXXX escape (p is past the 'u'). */
static int
read_unicode_escape(struct parser *ps, struct strbuf *sb, int digits)
{
	unsigned long cp = 0;

	for (int i = 0; i < digits; i++) {
		int c = peek(ps);

		if (c >= '0' && c <= '9')
			cp = cp * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			cp = cp * 16 + (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			cp = cp * 16 + (unsigned long)(c - 'A' + 10);
		else
			return fail(ps, "escape \\%c needs %d hexadecimal digits",
			    digits == 4 ? 'u' : 'U', digits);
		ps->p++;
	}
	if (cp == 0)
		return fail(ps, "escape \\u0000 is not allowed (NUL byte)");
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(ps, "escape names U+%04lX, which is not a Unicode scalar value", cp);
	return strbuf_put_utf8(ps, sb, cp);
}

static int
read_escape(struct parser *ps, struct strbuf *sb)
{
	char shown[32];
	int c;

	ps->p++; /* the backslash */
	c = peek(ps);
	if (c >= 0)
		ps->p++;
	switch (c) {
	case 'b':
		return strbuf_put(ps, sb, "\b", 1);
	case 't':
		return strbuf_put(ps, sb, "\t", 1);
	case 'n':
		return strbuf_put(ps, sb, "\n", 1);
	case 'f':
		return strbuf_put(ps, sb, "\f", 1);
	case 'r':
		return strbuf_put(ps, sb, "\r", 1);
	case '"':
		return strbuf_put(ps, sb, "\"", 1);
	case '\\':
		return strbuf_put(ps, sb, "\\", 1);
	case 'u':
		return read_unicode_escape(ps, sb, 4);
	case 'U':
		return read_unicode_escape(ps, sb, 8);
	default:
		return fail(ps, "invalid escape sequence in string: backslash followed by %s",
		    show_char(c, shown, sizeof(shown)));
	}
}

/* Reads a basic ("...") or literal ('...') string; p is on the opening quote. */
static int
parse_string(struct parser *ps, struct ivi_toml_value *v)
{
	struct strbuf sb = {NULL, 0, 0};
	char quote = *ps->p;
	int r = 0;

	if (peek_at(ps, 1) == quote && peek_at(ps, 2) == quote)
		return unsupported(ps, "multi-line strings");
	ps->p++;
	r = strbuf_put(ps, &sb, "", 0);
	while (r == 0) {
		int c = peek(ps);

		if (c < 0 || c == '\n' || c == '\r') {
			r = fail(ps, "string is not closed on the line it starts");
			break;
		}
		if (c == quote) {
			ps->p++;
			break;
		}
		if (c == '\\' && quote == '"') {
			r = read_escape(ps, &sb);
			continue;
		}
		if (is_control(c)) {
			r = fail(ps, "control character 0x%02x in a string; use an escape", c);
			break;
		}
		r = strbuf_put(ps, &sb, ps->p, 1);
		ps->p++;
	}
	if (r < 0) {
		free(sb.data);
		return r;
	}
	v->type = IVI_TOML_STRING;
	v->string = sb.data;
	return 0;
}

static bool
is_value_end(int c)
{
	return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == ',' ||
	    c == ']';
}

static int
parse_boolean(struct parser *ps, struct ivi_toml_value *v)
{
	static const char *const words[] = {"false", "true"};

	for (int b = 0; b < 2; b++) {
		size_t n = strlen(words[b]);

		if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[b], n) == 0 &&
		    is_value_end(peek_at(ps, n))) {
			ps->p += n;
			v->type = IVI_TOML_BOOLEAN;
			v->boolean = b == 1;
			return 0;
		}
	}
	return fail(ps, "invalid value (booleans are lowercase true or false)");
}

/* Checks a number token and converts it to an integer. */
static int
convert_integer(struct parser *ps, const char *tok, size_t n, struct ivi_toml_value *v)
{
	unsigned long long limit = (unsigned long long)LLONG_MAX;
	unsigned long long acc = 0;
	bool negative = false;
	size_t i = 0;
	int prev = 0;

	if (tok[0] == '+' || tok[0] == '-') {
		negative = tok[0] == '-';
		if (negative)
			limit++;
		i = 1;
	}
	if (i == n || tok[i] < '0' || tok[i] > '9')
		return fail(ps, "invalid integer");
	if (tok[i] == '0' && i + 1 < n)
		return fail(ps, "invalid integer: leading zeros are not allowed");
	for (; i < n; i++) {
		int c = (unsigned char)tok[i];

		if (c == '_') {
			if (prev < '0' || prev > '9' || i + 1 == n)
				return fail(ps, "invalid integer: '_' must sit between two digits");
		} else if (c >= '0' && c <= '9') {
			unsigned d = (unsigned)(c - '0');

			if (acc > (limit - d) / 10)
				return fail(ps, "integer out of range");
			acc = acc * 10 + d;
		} else {
			return fail(ps, "invalid integer");
		}
		prev = c;
	}
	v->type = IVI_TOML_INTEGER;
	if (negative)
		v->integer = acc == limit ? LLONG_MIN : -(long long)acc;
	else
		v->integer = (long long)acc;
	return 0;
}

/* Reads a number-like token; integers are supported, floats and dates are not. */
static int
parse_number(struct parser *ps, struct ivi_toml_value *v)
{
	const char *start = ps->p;
	size_t n, i = 0;

	while (!at_end(ps) && (is_bare_key_char(*ps->p) || *ps->p == '+' || *ps->p == '.' ||
	    *ps->p == ':'))
		ps->p++;
	n = (size_t)(ps->p - start);
	if (start[0] == '+' || start[0] == '-')
		i = 1;
	if (n > i + 1 && start[i] == '0' && strchr("xob", start[i + 1]) != NULL)
		return unsupported(ps, "hexadecimal, octal and binary integers");
	if (memchr(start, ':', n) != NULL || (n > i + 1 && memchr(start + i + 1, '-', n - i - 1)))
		return unsupported(ps, "dates and times");
	if (memchr(start, '.', n) != NULL || memchr(start, 'e', n) != NULL ||
	    memchr(start, 'E', n) != NULL || (n - i == 3 && (memcmp(start + i, "inf", 3) == 0 ||
	    memcmp(start + i, "nan", 3) == 0)))
		return unsupported(ps, "floating-point numbers");
	return convert_integer(ps, start, n, v);
}

static int
parse_array(struct parser *ps, struct ivi_toml_value *v)
{
	struct ivi_toml_value item;
	char shown[32];
	int r;

	ps->p++; /* '[' */
	v->type = IVI_TOML_ARRAY;
	for (;;) {
		r = skip_array_space(ps);
		if (r < 0)
			return r;
		if (peek(ps) == ']') {
			ps->p++;
			return 0;
		}
		if (v->n_items == IVI_TOML_MAX_ARRAY)
			return fail(ps, "array longer than %d elements", IVI_TOML_MAX_ARRAY);
		memset(&item, 0, sizeof(item));
		r = parse_value(ps, &item, true);
		if (r < 0)
			return r;
		if (item.type != IVI_TOML_STRING && item.type != IVI_TOML_INTEGER) {
			value_clear(&item);
			return unsupported(ps, "arrays may hold only strings and integers");
		}
		if (v->n_items % 8 == 0) {
			struct ivi_toml_value *grown =
			    realloc(v->items, (v->n_items + 8) * sizeof(*grown));

			if (grown == NULL) {
				value_clear(&item);
				return IVI_E_NOMEM;
			}
			v->items = grown;
		}
		v->items[v->n_items++] = item;
		r = skip_array_space(ps);
		if (r < 0)
			return r;
		if (peek(ps) == ',') {
			ps->p++;
			continue;
		}
		if (peek(ps) == ']') {
			ps->p++;
			return 0;
		}
		if (at_end(ps))
			return fail(ps, "array is not closed with ']'");
		return fail(ps, "expected ',' or ']' in an array, found %s",
		    show_char(peek(ps), shown, sizeof(shown)));
	}
}

/* Reads one value at p into v (zeroed by the caller); frees what it made on error. */
static int
parse_value(struct parser *ps, struct ivi_toml_value *v, bool in_array)
{
	char shown[32];
	int c = peek(ps);
	int r;

	if (c == '"' || c == '\'')
		return parse_string(ps, v);
	if (c == '[') {
		if (in_array)
			return unsupported(ps, "nested arrays");
		r = parse_array(ps, v);
		if (r < 0)
			value_clear(v);
		return r;
	}
	if (c == '{')
		return unsupported(ps, "inline tables");
	if (c == 't' || c == 'f')
		return parse_boolean(ps, v);
	if ((c >= '0' && c <= '9') || c == '+' || c == '-')
		return parse_number(ps, v);
	if ((c == 'i' || c == 'n') && (size_t)(ps->end - ps->p) >= 3 &&
	    (memcmp(ps->p, "inf", 3) == 0 || memcmp(ps->p, "nan", 3) == 0) &&
	    is_value_end(peek_at(ps, 3)))
		return unsupported(ps, "floating-point numbers");
	if (c < 0 || c == '\n' || c == '\r' || c == '#')
		return fail(ps, "missing value after '='");
	return fail(ps, "invalid value starting with %s (strings need quotes)",
	    show_char(c, shown, sizeof(shown)));
}

/* ---- Lines ------------------------------------------------------------- */

static int
parse_table_header(struct parser *ps)
{
	char name[IVI_TOML_MAX_NAME + 1];
	size_t len = 0;
	unsigned line = ps->line;
	int r;

	ps->p++; /* '[' */
	if (peek(ps) == '[')
		return unsupported(ps, "arrays of tables ([[...]])");
	for (;;) {
		skip_blanks(ps);
		r = read_bare(ps, name, &len, "table name");
		if (r < 0)
			return r;
		skip_blanks(ps);
		if (peek(ps) != '.')
			break;
		if (len >= IVI_TOML_MAX_NAME)
			return fail(ps, "table name longer than %d bytes", IVI_TOML_MAX_NAME);
		name[len++] = '.';
		ps->p++;
	}
	if (peek(ps) != ']')
		return fail(ps, "expected ']' to close the table name [%s", name);
	ps->p++;

	for (size_t i = 0; i < ps->n_tables; i++) {
		if (strcmp(ps->tables[i].name, name) == 0)
			return fail(ps, "duplicate table [%s] (first defined on line %u)", name,
			    ps->tables[i].line);
	}
	if (ps->n_tables == TOML_MAX_TABLES)
		return fail(ps, "more than %d tables", TOML_MAX_TABLES);
	memcpy(ps->tables[ps->n_tables].name, name, len + 1);
	ps->tables[ps->n_tables++].line = line;
	memcpy(ps->table, name, len + 1);
	ps->n_keys = 0;

	if (ps->handler->table != NULL) {
		r = ps->handler->table(ps->ctx, name, line, ps->msg, sizeof(ps->msg));
		if (r < 0) {
			ps->err_line = line;
			return r;
		}
	}
	return finish_line(ps);
}

static int
parse_key_value(struct parser *ps)
{
	struct ivi_toml_value v;
	char key[IVI_TOML_MAX_NAME + 1];
	char shown[32];
	size_t len = 0;
	unsigned line = ps->line;
	int r;

	r = read_bare(ps, key, &len, "key");
	if (r < 0)
		return r;
	skip_blanks(ps);
	if (peek(ps) == '.')
		return unsupported(ps, "dotted keys (write a [table] header instead)");
	if (peek(ps) != '=')
		return fail(ps, "expected '=' after key '%s', found %s", key,
		    show_char(peek(ps), shown, sizeof(shown)));
	ps->p++;
	skip_blanks(ps);

	for (size_t i = 0; i < ps->n_keys; i++) {
		if (strcmp(ps->keys[i].name, key) == 0) {
			if (ps->table[0] == '\0')
				return fail(ps, "duplicate key '%s' (first set on line %u)", key,
				    ps->keys[i].line);
			return fail(ps, "duplicate key '%s' in [%s] (first set on line %u)", key,
			    ps->table, ps->keys[i].line);
		}
	}
	if (ps->n_keys == TOML_MAX_KEYS)
		return fail(ps, "more than %d keys in one table", TOML_MAX_KEYS);
	memcpy(ps->keys[ps->n_keys].name, key, len + 1);
	ps->keys[ps->n_keys++].line = line;

	memset(&v, 0, sizeof(v));
	r = parse_value(ps, &v, false);
	if (r < 0)
		return r;
	if (ps->handler->key != NULL) {
		r = ps->handler->key(ps->ctx, ps->table, key, &v, line, ps->msg, sizeof(ps->msg));
		if (r < 0)
			ps->err_line = line;
	}
	value_clear(&v);
	if (r < 0)
		return r;
	return finish_line(ps);
}

/* Rejects bytes that are not UTF-8 and NUL bytes, naming the line. */
static int
check_utf8(struct parser *ps)
{
	const unsigned char *s = (const unsigned char *)ps->p;
	size_t n = (size_t)(ps->end - ps->p);
	unsigned line = 1;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		unsigned long cp;
		size_t len;

		if (c == '\n')
			line++;
		if (c == 0) {
			ps->line = line;
			return fail(ps, "NUL byte (is the file UTF-16 encoded?)");
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			len = 0;
			cp = 0;
		}
		for (size_t k = 1; len != 0 && k < len; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				len = 0;
			else
				cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (len == 0 || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			ps->line = line;
			return fail(ps, "invalid UTF-8 byte 0x%02x", c);
		}
		i += len;
	}
	return 0;
}

int
ivi_toml_parse(const char *name, const char *buf, size_t len,
    const struct ivi_toml_handler *handler, void *ctx, char *errbuf, size_t errlen)
{
	struct parser *ps;
	char shown[32];
	int r = 0;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return IVI_E_NOMEM;
	ps->name = name;
	ps->p = buf;
	ps->end = buf + len;
	ps->line = 1;
	ps->handler = handler;
	ps->ctx = ctx;

	/* A UTF-8 byte order mark is tolerated, as editors on Windows add one. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;
	r = check_utf8(ps);
	ps->line = 1;

	while (r == 0 && !at_end(ps)) {
		int c;

		skip_blanks(ps);
		c = peek(ps);
		if (c < 0 || c == '#' || c == '\n' || c == '\r')
			r = finish_line(ps);
		else if (c == '[')
			r = parse_table_header(ps);
		else if (is_bare_key_char(c))
			r = parse_key_value(ps);
		else if (c == '"' || c == '\'')
			r = unsupported(ps, "quoted keys");
		else
			r = fail(ps, "expected a key or a [table] header, found %s",
			    show_char(c, shown, sizeof(shown)));
	}

	if (r == IVI_E_NOMEM)
		snprintf(errbuf, errlen, "%s: out of memory", name);
	else if (r < 0)
		snprintf(errbuf, errlen, "%s:%u: %s", name, ps->err_line, ps->msg);
	free(ps);
	return r;
}
