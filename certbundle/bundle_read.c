/*
 * Reading the bundle's files: size cap, file type, errno mapping, one
 * consistent generation of files, and the content hash over their bytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "bundle_internal.h"
#include "ivi_err.h"

/*
 * Attempts at opening a consistent set of files. When the files keep
 * changing under every attempt, the load fails with IVI_E_BUSY and the
 * caller retries later.
 */
#define READ_ATTEMPTS 3

int
bundle_fail(struct ivi_bundle_error *err, int code, const char *file, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	snprintf(err->file, sizeof(err->file), "%s", file != NULL ? file : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void
bundle_hex(const unsigned char *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static void
set_slots(const struct ivi_bundle_opts *opts, bool with_trust, struct bundle_files *files)
{
	memset(files, 0, sizeof(*files));
	files->slot[SLOT_CERT].path = opts->cert_path;
	files->slot[SLOT_CERT].role = opts->key_path != NULL ? "certificate" : "PKCS#12";
	files->slot[SLOT_KEY].path = opts->key_path;
	files->slot[SLOT_KEY].role = "private key";
	files->slot[SLOT_CLIENT_CA].path = opts->client_ca_path;
	files->slot[SLOT_CLIENT_CA].role = "client CA";
	files->slot[SLOT_CRL].path = opts->crl_path;
	files->slot[SLOT_CRL].role = "CRL";
	files->slot[SLOT_TRUST].path = with_trust ? opts->trust_ca_path : NULL;
	files->slot[SLOT_TRUST].role = "trust CA";
}

/* Maps the errno of opening or resolving f->path to our codes. */
static int
fail_open(const struct bundle_file *f, int e, struct ivi_bundle_error *err)
{
	if (e == ENOENT || e == ENOTDIR)
		return bundle_fail(err, IVI_E_FILE_MISSING, f->path, "%s file not found", f->role);
	if (e == EACCES || e == EPERM)
		return bundle_fail(err, IVI_E_FILE_PERMISSION, f->path,
		    "%s file: permission denied", f->role);
	return bundle_fail(err, IVI_E_IO, f->path, "cannot open the %s file (%s)", f->role,
	    strerror(e));
}

/*
 * Resolves f->path (symlinks included) into resolved, opens that path and
 * checks the file's type and size.
 */
static int
open_checked(const struct bundle_file *f, char *resolved, int *fd_out, struct stat *st,
    struct ivi_bundle_error *err)
{
	int fd;

	if (realpath(f->path, resolved) == NULL)
		return fail_open(f, errno, err);
	/* O_NONBLOCK so that opening a FIFO does not wait for a writer. */
	fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fail_open(f, errno, err);
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return bundle_fail(err, IVI_E_IO, f->path, "cannot stat the %s file (%s)", f->role,
		    strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return bundle_fail(err, IVI_E_NOT_REGULAR, f->path,
		    "%s path is not a regular file (%s)", f->role,
		    S_ISDIR(st->st_mode) ? "a directory" :
		    S_ISFIFO(st->st_mode) ? "a FIFO" : "a device or socket");
	}
	if (st->st_size > IVI_BUNDLE_MAX_FILE) {
		close(fd);
		return bundle_fail(err, IVI_E_FILE_TOO_BIG, f->path,
		    "%s file is %lld bytes, larger than the maximum of %d", f->role,
		    (long long)st->st_size, IVI_BUNDLE_MAX_FILE);
	}
	*fd_out = fd;
	return 0;
}

/* Reads all of fd (at most IVI_BUNDLE_MAX_FILE bytes) into f->data. */
static int
read_all(int fd, size_t size_hint, struct bundle_file *f, struct ivi_bundle_error *err)
{
	size_t cap = size_hint + 1, len = 0;
	unsigned char *buf;

	if (cap > IVI_BUNDLE_MAX_FILE + 1)
		cap = IVI_BUNDLE_MAX_FILE + 1;
	buf = malloc(cap + 1);
	if (buf == NULL)
		return bundle_fail(err, IVI_E_NOMEM, f->path, "out of memory");
	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* The file grew since fstat: grow, up to one byte over the cap. */
			size_t grown_cap = cap * 2 > IVI_BUNDLE_MAX_FILE + 1 ?
			    IVI_BUNDLE_MAX_FILE + 1 : cap * 2;
			unsigned char *grown;

			if (grown_cap == cap)
				break;
			/* Not realloc(): it would free the old buffer, key bytes and all, unwiped. */
			grown = malloc(grown_cap + 1);
			if (grown == NULL) {
				gnutls_memset(buf, 0, len);
				free(buf);
				return bundle_fail(err, IVI_E_NOMEM, f->path, "out of memory");
			}
			memcpy(grown, buf, len);
			gnutls_memset(buf, 0, len);
			free(buf);
			buf = grown;
			cap = grown_cap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			gnutls_memset(buf, 0, len);
			free(buf);
			return bundle_fail(err, IVI_E_IO, f->path, "cannot read the %s file (%s)",
			    f->role, strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > IVI_BUNDLE_MAX_FILE) {
		gnutls_memset(buf, 0, len);
		free(buf);
		return bundle_fail(err, IVI_E_FILE_TOO_BIG, f->path,
		    "%s file is larger than the maximum of %d bytes", f->role, IVI_BUNDLE_MAX_FILE);
	}
	buf[len] = '\0';
	f->data = buf;
	f->len = len;
	return 0;
}

/*
 * True when every path still resolves to the name it resolved to when it
 * was opened, and that name still leads to the opened file.
 */
static bool
paths_unchanged(const struct bundle_files *files, char (*resolved)[PATH_MAX],
    const struct stat *opened)
{
	char now_path[PATH_MAX];

	for (int i = 0; i < SLOT_COUNT; i++) {
		struct stat now;

		if (files->slot[i].path == NULL)
			continue;
		if (realpath(files->slot[i].path, now_path) == NULL ||
		    strcmp(now_path, resolved[i]) != 0)
			return false;
		if (stat(now_path, &now) < 0 || now.st_dev != opened[i].st_dev ||
		    now.st_ino != opened[i].st_ino)
			return false;
	}
	return true;
}

static void
close_all(int *fds)
{
	for (int i = 0; i < SLOT_COUNT; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Opens every file through its resolved name, then checks that each path
 * still resolves to that name and file. A Kubernetes secret volume swaps
 * its "..data" link to a new directory and deletes the old one, and
 * certbot re-points its live/ links one by one. If a swap happens while
 * the files are being opened, the set may mix two generations, so it is
 * opened again. Both writers give every generation new names, so a path
 * that resolves to the same name before and after was not swapped in
 * between. Once open, the descriptors pin their files even if they are
 * deleted before the read.
 */
static int
open_generation(struct bundle_files *files, int *fds, struct ivi_bundle_error *err)
{
	char (*resolved)[PATH_MAX];
	struct stat st[SLOT_COUNT];
	int r = 0;

	for (int i = 0; i < SLOT_COUNT; i++)
		fds[i] = -1;
	resolved = calloc(SLOT_COUNT, sizeof(*resolved));
	if (resolved == NULL)
		return bundle_fail(err, IVI_E_NOMEM, "", "out of memory");
	for (int attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
		r = 0;
		for (int i = 0; i < SLOT_COUNT && r == 0; i++) {
			if (files->slot[i].path != NULL)
				r = open_checked(&files->slot[i], resolved[i], &fds[i], &st[i], err);
		}
		if (r == 0 && paths_unchanged(files, resolved, st))
			break;
		close_all(fds);
		/* A missing file may be the middle of a swap: try again, then report it. */
		if (r < 0 && r != IVI_E_FILE_MISSING)
			break;
		if (r == 0 && attempt == READ_ATTEMPTS)
			r = bundle_fail(err, IVI_E_BUSY, files->slot[SLOT_CERT].path,
			    "the files changed %d times while they were opened (a rotation in "
			    "progress?); try again",
			    READ_ATTEMPTS);
	}
	free(resolved);
	return r;
}

int
bundle_read_files(const struct ivi_bundle_opts *opts, bool with_trust,
    struct bundle_files *files, struct ivi_bundle_error *err)
{
	int fds[SLOT_COUNT];
	int r;

	set_slots(opts, with_trust, files);
	if (opts->cert_path == NULL)
		return bundle_fail(err, IVI_E_INVALID_ARG, "", "no certificate path configured");
	r = open_generation(files, fds, err);
	if (r < 0)
		return r;
	for (int i = 0; i < SLOT_COUNT; i++) {
		struct stat st;

		if (fds[i] < 0)
			continue;
		if (r == 0 && fstat(fds[i], &st) == 0)
			r = read_all(fds[i], (size_t)st.st_size, &files->slot[i], err);
		close(fds[i]);
	}
	if (r < 0)
		bundle_files_clear(files);
	return r;
}

void
bundle_files_clear(struct bundle_files *files)
{
	for (int i = 0; i < SLOT_COUNT; i++) {
		struct bundle_file *f = &files->slot[i];

		if (f->data != NULL) {
			gnutls_memset(f->data, 0, f->len);
			free(f->data);
		}
		f->data = NULL;
		f->len = 0;
	}
}

/*
 * content_hash = SHA-256 over, for each of cert, key, client CA and CRL in
 * that order: one byte 0 when the file is not configured, else one byte 1,
 * its length as 8 bytes big-endian, and its bytes. The markers and lengths
 * keep two different sets of files from hashing alike.
 */
int
bundle_hash(const struct bundle_files *files, char hash[65], struct ivi_bundle_error *err)
{
	unsigned char digest[32];
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return bundle_fail(err, IVI_E_INTERNAL, "", "cannot initialise SHA-256");
	for (int i = 0; i < SLOT_HASHED; i++) {
		const struct bundle_file *f = &files->slot[i];
		unsigned char head[9];

		if (f->path == NULL) {
			head[0] = 0;
			gnutls_hash(h, head, 1);
			continue;
		}
		head[0] = 1;
		for (int k = 0; k < 8; k++)
			head[1 + k] = (unsigned char)((unsigned long long)f->len >> (56 - 8 * k));
		gnutls_hash(h, head, sizeof(head));
		if (f->len > 0)
			gnutls_hash(h, f->data, f->len);
	}
	gnutls_hash_deinit(h, digest);
	bundle_hex(digest, sizeof(digest), hash);
	return 0;
}

int
ivi_bundle_hash_files(const struct ivi_bundle_opts *opts, char hash[65],
    struct ivi_bundle_error *err)
{
	struct bundle_files files;
	int r;

	r = bundle_read_files(opts, false, &files, err);
	if (r < 0)
		return r;
	r = bundle_hash(&files, hash, err);
	bundle_files_clear(&files);
	return r;
}
