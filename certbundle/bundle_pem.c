/*
 * Checks on PEM text before GnuTLS parses it, so that a damaged file gets a
 * precise reason (empty, UTF-16, DER, no PEM block, truncated) instead of
 * GnuTLS's generic base64 error. GnuTLS 3.7 itself accepts a UTF-8 BOM,
 * CRLF line ends and text around the blocks, so those pass through.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bundle_internal.h"
#include "ivi_err.h"

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
#define PEM_MAX_LABEL 64

bool
bundle_is_der(const struct bundle_file *f)
{
	return f->len >= 2 && f->data[0] == 0x30 &&
	    memmem(f->data, f->len, PEM_BEGIN, strlen(PEM_BEGIN)) == NULL;
}

static bool
label_matches(const char *label, const char *const *labels)
{
	size_t len = strlen(label);

	for (size_t i = 0; labels[i] != NULL; i++) {
		const char *want = labels[i];

		if (want[0] == '*') {
			size_t tail = strlen(want + 1);

			if (len >= tail && strcmp(label + len - tail, want + 1) == 0)
				return true;
		} else if (strcmp(label, want) == 0) {
			return true;
		}
	}
	return false;
}

/* Finds needle in [p, end); NULL when absent. */
static const unsigned char *
find(const unsigned char *p, const unsigned char *end, const char *needle)
{
	if (p >= end)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

/* Reads the label of a BEGIN line at p (just past "-----BEGIN "). */
static bool
read_label(const unsigned char *p, const unsigned char *end, char *label)
{
	size_t n = 0;

	while (p + n < end && p[n] != '-' && p[n] != '\n' && p[n] != '\r') {
		if (n == PEM_MAX_LABEL)
			return false;
		label[n] = (char)p[n];
		n++;
	}
	label[n] = '\0';
	return p + n + strlen(PEM_DASHES) <= end && memcmp(p + n, PEM_DASHES, 5) == 0;
}

int
bundle_check_pem(const struct bundle_file *f, const char *const *labels, int code_override,
    struct ivi_bundle_error *err)
{
	const unsigned char *p = f->data, *end = f->data + f->len;
	char first_other[PEM_MAX_LABEL + 1] = "";
	unsigned blocks = 0, wanted = 0;

#define CODE(c) (code_override != 0 ? code_override : (c))
	if (f->len == 0)
		return bundle_fail(err, CODE(IVI_E_FILE_EMPTY), f->path, "%s file is empty",
		    f->role);
	if (f->len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return bundle_fail(err, CODE(IVI_E_UTF16), f->path,
		    "%s file is UTF-16 encoded; convert it to ASCII or UTF-8 (iconv -f UTF-16 "
		    "-t ASCII)",
		    f->role);
	if (bundle_is_der(f))
		return bundle_fail(err, CODE(IVI_E_PARSE), f->path,
		    "%s file is binary DER, not PEM text; convert it (openssl x509 -inform DER, "
		    "or openssl pkey -inform DER for a key)",
		    f->role);
	if (memchr(p, '\0', f->len) != NULL)
		return bundle_fail(err, CODE(IVI_E_UTF16), f->path,
		    "%s file contains NUL bytes: UTF-16 encoded text (convert it to ASCII "
		    "with iconv) or a binary file",
		    f->role);

	/* Walk the blocks: each BEGIN needs its END line before the next BEGIN. */
	for (const unsigned char *b = find(p, end, PEM_BEGIN); b != NULL;
	    b = find(b + 1, end, PEM_BEGIN)) {
		const unsigned char *next, *e;
		char label[PEM_MAX_LABEL + 1];
		char end_line[PEM_MAX_LABEL + 16];

		blocks++;
		next = find(b + 1, end, PEM_BEGIN);
		if (!read_label(b + strlen(PEM_BEGIN), end, label)) {
			if (next == NULL && find(b, end, "\n") == NULL)
				return bundle_fail(err, CODE(IVI_E_TRUNCATED), f->path,
				    "%s file ends inside a BEGIN line (truncated?)", f->role);
			return bundle_fail(err, CODE(IVI_E_PARSE), f->path,
			    "%s file: PEM block %u has a malformed BEGIN line", f->role, blocks);
		}
		snprintf(end_line, sizeof(end_line), PEM_END "%s" PEM_DASHES, label);
		e = find(b, next != NULL ? next : end, end_line);
		if (e == NULL && next == NULL)
			return bundle_fail(err, CODE(IVI_E_TRUNCATED), f->path,
			    "%s file: the last PEM block (%s) has no complete END line; the file "
			    "is truncated or still being written",
			    f->role, label);
		if (e == NULL)
			return bundle_fail(err, CODE(IVI_E_PARSE), f->path,
			    "%s file: PEM block %u (%s) has no END line before the next block",
			    f->role, blocks, label);
		if (label_matches(label, labels))
			wanted++;
		else if (first_other[0] == '\0')
			snprintf(first_other, sizeof(first_other), "%s", label);
	}
	if (blocks == 0)
		return bundle_fail(err, CODE(IVI_E_NO_PEM), f->path,
		    "%s file holds no PEM block (no \"-----BEGIN\" line)", f->role);
	if (wanted == 0) {
		bool pair_file = strcmp(f->role, "certificate") == 0 ||
		    strcmp(f->role, "private key") == 0;
		bool swapped = pair_file && (strstr(first_other, "PRIVATE KEY") != NULL ||
		    strcmp(first_other, "CERTIFICATE") == 0);
		const char *hint = swapped ? " (are cert_path and key_path swapped?)" : "";

		return bundle_fail(err, CODE(IVI_E_NO_PEM), f->path,
		    "%s file holds no %s block, only %s%s", f->role,
		    labels[0][0] == '*' ? labels[0] + 1 : labels[0], first_other, hint);
	}
	return 0;
#undef CODE
}

bool
bundle_pem_key_encrypted(const struct bundle_file *f)
{
	const unsigned char *end = f->data + f->len;
	const unsigned char *b, *e, *next;

	for (b = find(f->data, end, PEM_BEGIN); b != NULL; b = next) {
		char label[PEM_MAX_LABEL + 1];

		next = find(b + 1, end, PEM_BEGIN);
		if (!read_label(b + strlen(PEM_BEGIN), end, label))
			continue;
		if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0)
			return true;
		if (!label_matches(label, (const char *const[]){"*PRIVATE KEY", NULL}))
			continue;
		/* The older OpenSSL form: "Proc-Type: 4,ENCRYPTED" inside the block. */
		e = find(b, next != NULL ? next : end, PEM_END);
		return find(b, e != NULL ? e : end, "Proc-Type: 4,ENCRYPTED") != NULL;
	}
	return false;
}
