/*
 * The control key: a shared HMAC-SHA256 key in a text file that only its
 * owner may read, like an SSH private key. File format (one line):
 *
 *     ivicli-control-key-v1 <64 to 256 hex digits>\n
 *
 * The key bytes live only in struct ivi_key and in short-lived buffers,
 * and every copy is wiped with gnutls_memset before it is released.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "proto_internal.h"

/* Bytes written by ivi_key_generate. */
#define KEY_GENERATE_BYTES 32

/* Maximum length of a valid file: tag, space, hex digits, "\r\n". */
#define KEY_FILE_MAX (sizeof(IVI_KEY_FILE_TAG) + 2 * IVI_KEY_MAX_BYTES + 2)

struct ivi_key {
	size_t len;
	uint8_t bytes[IVI_KEY_MAX_BYTES];
};

__attribute__((format(printf, 3, 4))) static void
set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

int
ivi_key_from_bytes(const uint8_t *bytes, size_t len, struct ivi_key **out)
{
	struct ivi_key *key;

	if (bytes == NULL || out == NULL || len < IVI_KEY_MIN_BYTES || len > IVI_KEY_MAX_BYTES)
		return IVI_E_INVALID_ARG;
	key = calloc(1, sizeof(*key));
	if (key == NULL)
		return IVI_E_NOMEM;
	memcpy(key->bytes, bytes, len);
	key->len = len;
	*out = key;
	return 0;
}

void
ivi_key_free(struct ivi_key *key)
{
	if (key == NULL)
		return;
	gnutls_memset(key, 0, sizeof(*key));
	free(key);
}

int
ivi_key_mac(const struct ivi_key *key, const void *data, size_t len,
    uint8_t mac[IVI_FRAME_MAC_LEN])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key->bytes, key->len, data, len, mac) < 0)
		return IVI_E_INTERNAL;
	return 0;
}

/* ---- Loading ---------------------------------------------------------- */

/* Writes the caller's user name, or its uid when it has none, into buf. */
static void
caller_name(char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	uid_t uid = geteuid();

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", res->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
}

/* Rejects a key file that another user could read, change or replace. */
static int
key_check_stat(const char *path, const struct stat *st, char *errbuf, size_t errlen)
{
	uid_t me = geteuid();
	char name[64];

	if (!S_ISREG(st->st_mode)) {
		set_error(errbuf, errlen, "control key %s is not a regular file", path);
		return IVI_E_NOT_REGULAR;
	}
	if (st->st_uid != me && st->st_uid != 0) {
		caller_name(name, sizeof(name));
		set_error(errbuf, errlen,
		    "control key %s is owned by uid %u, not by uid %u or root; "
		    "fix it with: chown %s %s",
		    path, (unsigned)st->st_uid, (unsigned)me, name, path);
		return IVI_E_KEY_PERMISSIONS;
	}
	if ((st->st_mode & 077) != 0) {
		set_error(errbuf, errlen,
		    "control key %s has mode %04o and is accessible by group or others; "
		    "fix it with: chmod 600 %s",
		    path, (unsigned)(st->st_mode & 07777), path);
		return IVI_E_KEY_PERMISSIONS;
	}
	return 0;
}

/* Parses the text of a key file into key. Never copies key text into errors. */
static int
key_parse(const char *text, size_t len, struct ivi_key *key)
{
	size_t tag_len = strlen(IVI_KEY_FILE_TAG);
	const char *hex;
	size_t hex_len;

	if (len < tag_len + 1 || memcmp(text, IVI_KEY_FILE_TAG, tag_len) != 0 ||
	    text[tag_len] != ' ')
		return IVI_E_KEY_FORMAT;
	hex = text + tag_len + 1;
	hex_len = len - tag_len - 1;

	/* One optional line ending, nothing after it. */
	if (hex_len > 0 && hex[hex_len - 1] == '\n')
		hex_len--;
	if (hex_len > 0 && hex[hex_len - 1] == '\r')
		hex_len--;

	if (hex_len % 2 != 0 || hex_len < 2 * IVI_KEY_MIN_BYTES || hex_len > 2 * IVI_KEY_MAX_BYTES)
		return IVI_E_KEY_FORMAT;
	if (ivi_hex_decode(hex, key->bytes, hex_len / 2) < 0)
		return IVI_E_KEY_FORMAT;
	key->len = hex_len / 2;
	return 0;
}

/* Reads at most max bytes of fd into buf; sets *len. Returns 0 or IVI_E_IO. */
static int
read_bounded(int fd, char *buf, size_t max, size_t *len)
{
	size_t n = 0;

	while (n < max) {
		ssize_t r = read(fd, buf + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return IVI_E_IO;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return 0;
}

static int
key_open_error(const char *path, int err, char *errbuf, size_t errlen)
{
	if (err == ENOENT) {
		set_error(errbuf, errlen,
		    "control key %s not found; create it with: ivicli-certwatch keygen", path);
		return IVI_E_FILE_MISSING;
	}
	if (err == EACCES || err == EPERM) {
		set_error(errbuf, errlen, "control key %s cannot be read (%s)", path,
		    strerror(err));
		return IVI_E_FILE_PERMISSION;
	}
	set_error(errbuf, errlen, "control key %s cannot be opened (%s)", path, strerror(err));
	return IVI_E_IO;
}

int
ivi_key_load(const char *path, struct ivi_key **out, char *errbuf, size_t errlen)
{
	char text[KEY_FILE_MAX + 1];
	struct ivi_key *key = NULL;
	struct stat st;
	size_t len = 0;
	int fd = -1;
	int ret;

	if (path == NULL || out == NULL)
		return IVI_E_INVALID_ARG;

	/* fstat the open file, so the checks apply to what is read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = key_open_error(path, errno, errbuf, errlen);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = key_open_error(path, errno, errbuf, errlen);
		goto out;
	}
	ret = key_check_stat(path, &st, errbuf, errlen);
	if (ret < 0)
		goto out;

	/* Reading one byte more than the maximum detects a file that is too long. */
	ret = read_bounded(fd, text, sizeof(text), &len);
	if (ret < 0) {
		set_error(errbuf, errlen, "control key %s cannot be read (%s)", path,
		    strerror(errno));
		goto out;
	}

	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		ret = IVI_E_NOMEM;
		goto out;
	}
	ret = len > KEY_FILE_MAX ? IVI_E_KEY_FORMAT : key_parse(text, len, key);
	if (ret < 0) {
		set_error(errbuf, errlen,
		    "control key %s is not in the expected format (one line \"%s\" followed "
		    "by a space and %d to %d hex digits); make a new one with: "
		    "ivicli-certwatch keygen --force",
		    path, IVI_KEY_FILE_TAG, 2 * IVI_KEY_MIN_BYTES, 2 * IVI_KEY_MAX_BYTES);
		goto out;
	}

	*out = key;
	key = NULL;
	ret = 0;
out:
	gnutls_memset(text, 0, sizeof(text));
	ivi_key_free(key);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- Generating ------------------------------------------------------- */

/* Creates the parent directory of path with mode 0700 when it is missing. */
static int
key_make_parent(const char *path, char *dir, size_t dirlen, char *errbuf, size_t errlen)
{
	char copy[PATH_MAX];
	struct stat st;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		set_error(errbuf, errlen, "control key path is too long: %s", path);
		return IVI_E_INVALID_ARG;
	}
	snprintf(dir, dirlen, "%s", dirname(copy));
	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT || mkdir(dir, 0700) < 0) {
		set_error(errbuf, errlen, "cannot create directory %s for the control key (%s)",
		    dir, strerror(errno));
		return IVI_E_IO;
	}
	return 0;
}

/* Writes the key line to the new temporary file fd and flushes it to disk. */
static int
key_write_line(int fd, const uint8_t *bytes, size_t len)
{
	char line[KEY_FILE_MAX + 1];
	char hex[2 * IVI_KEY_MAX_BYTES + 1];
	size_t n, off = 0;
	int ret = IVI_E_IO;

	ivi_hex_encode(bytes, len, hex);
	n = (size_t)snprintf(line, sizeof(line), "%s %s\n", IVI_KEY_FILE_TAG, hex);
	while (off < n) {
		ssize_t w = write(fd, line + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto out;
		off += (size_t)w;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		goto out;
	ret = 0;
out:
	gnutls_memset(hex, 0, sizeof(hex));
	gnutls_memset(line, 0, sizeof(line));
	return ret;
}

/* Flushes the directory entry of a rename to disk. */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

int
ivi_key_generate(const char *path, bool force, char *errbuf, size_t errlen)
{
	uint8_t bytes[KEY_GENERATE_BYTES];
	char dir[PATH_MAX];
	char tmp[PATH_MAX];
	struct stat st;
	int fd = -1;
	bool tmp_made = false;
	int ret;

	if (path == NULL)
		return IVI_E_INVALID_ARG;
	if (!force && lstat(path, &st) == 0) {
		set_error(errbuf, errlen,
		    "control key %s already exists; use --force to replace it", path);
		return IVI_E_KEY_EXISTS;
	}
	ret = key_make_parent(path, dir, sizeof(dir), errbuf, errlen);
	if (ret < 0)
		return ret;
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
		set_error(errbuf, errlen, "control key path is too long: %s", path);
		return IVI_E_INVALID_ARG;
	}

	if (gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes)) < 0) {
		set_error(errbuf, errlen, "cannot get random bytes for the control key");
		ret = IVI_E_INTERNAL;
		goto out;
	}

	/* mkstemp creates the file with mode 0600; write, sync, then rename. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		set_error(errbuf, errlen, "cannot create a temporary file next to %s (%s)", path,
		    strerror(errno));
		ret = IVI_E_IO;
		goto out;
	}
	tmp_made = true;
	ret = key_write_line(fd, bytes, sizeof(bytes));
	if (ret == 0 && close(fd) < 0)
		ret = IVI_E_IO;
	fd = -1;
	if (ret < 0) {
		set_error(errbuf, errlen, "cannot write the control key to %s (%s)", tmp,
		    strerror(errno));
		goto out;
	}

	/*
	 * Without force, link() fails with EEXIST when another process made
	 * the file since the lstat above, so an existing key is never replaced.
	 */
	if (force)
		ret = rename(tmp, path);
	else
		ret = link(tmp, path);
	if (ret < 0 && errno == EEXIST) {
		set_error(errbuf, errlen,
		    "control key %s already exists; use --force to replace it", path);
		ret = IVI_E_KEY_EXISTS;
		goto out;
	}
	if (ret < 0) {
		set_error(errbuf, errlen, "cannot install the control key as %s (%s)", path,
		    strerror(errno));
		ret = IVI_E_IO;
		goto out;
	}
	if (force)
		tmp_made = false;
	sync_dir(dir);
	ret = 0;
out:
	gnutls_memset(bytes, 0, sizeof(bytes));
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	return ret;
}
