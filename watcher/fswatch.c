/*
 * inotify on directories with a polling fallback. Files are replaced by
 * rename, re-pointed symlinks and whole directory swaps, so a watch on a
 * file's inode goes deaf. Watches on the directories (the file's own,
 * every symlink hop's and the resolved target's) report all of them. Event names
 * are not filtered: Kubernetes publishes through dot-names such as
 * "..data", and the caller compares content anyway.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "ivi_err.h"
#include "ivi_log.h"
#include "fswatch.h"

#define FSW_MASK (IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define FSW_MAX_HOPS 16  /* symlink hops followed per path, as the kernel's MAXSYMLINKS/2 */
#define FSW_MAX_DIRS 64

#ifndef V9FS_MAGIC
#define V9FS_MAGIC 0x01021997
#endif

struct fsw_dir {
	char *path;
	int wd;                    /* -1 when inotify does not watch it */
	bool fallback;             /* nearest existing parent of a missing directory */
};

struct cw_fswatch {
	struct ev_loop *loop;
	ev_io io;
	ev_timer poll;
	int ifd;                   /* inotify descriptor, -1 when unavailable */
	int init_errno;            /* errno of the last failed inotify_init1 */
	bool force_poll;
	double interval;
	void (*cb)(void *arg, enum cw_fswatch_reason why);
	void *arg;
	struct fsw_dir dirs[FSW_MAX_DIRS];
	size_t n_dirs;
	bool polling;
	bool batch_renamed;        /* the last inotify batch contained IN_MOVED_TO */
	char poll_why[768];        /* reason polling is on, logged when it changes */
};

/* Names the file systems on which inotify misses changes, or returns NULL. */
static const char *
poll_fs_name(const char *dir)
{
	struct statfs sfs;

	if (statfs(dir, &sfs) != 0)
		return NULL;
	switch ((unsigned long)sfs.f_type) {
	case NFS_SUPER_MAGIC:
		return "NFS";
	case SMB_SUPER_MAGIC:
	case CIFS_SUPER_MAGIC:
	case SMB2_SUPER_MAGIC:
		return "CIFS/SMB";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	case FUSE_SUPER_MAGIC:
		return "FUSE";
	case V9FS_MAGIC:
		return "9p";
	case CEPH_SUPER_MAGIC:
		return "CephFS";
	default:
		return NULL;
	}
}

/* Writes the parent directory of path into out ("/" and "." at the top). */
static void
parent_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
dirs_add(struct fsw_dir *dirs, size_t *n, const char *path, bool fallback)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp(dirs[i].path, path) == 0)
			return 0;
	}
	if (*n == FSW_MAX_DIRS)
		return 0;
	dirs[*n].path = strdup(path);
	if (dirs[*n].path == NULL)
		return IVI_E_NOMEM;
	dirs[*n].wd = -1;
	dirs[*n].fallback = fallback;
	(*n)++;
	return 0;
}

/* Tells whether path has a "." or ".." component, as a relative symlink target joined to its directory has. */
static bool
has_dot_component(const char *path)
{
	const char *p = path;
	size_t len;

	while (*p != '\0') {
		len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

/*
 * Adds dir, or its nearest existing ancestor when dir does not exist. A
 * path with "." or ".." components is resolved first, so that the
 * directory is listed once, under the name realpath gives it.
 */
static int
dirs_add_existing(struct fsw_dir *dirs, size_t *n, const char *dir)
{
	char cur[PATH_MAX], up[PATH_MAX], resolved[PATH_MAX];
	int depth;

	snprintf(cur, sizeof(cur), "%s", dir);
	for (depth = 0; depth < 256; depth++) {
		if (is_dir(cur) && has_dot_component(cur) && realpath(cur, resolved) != NULL)
			return dirs_add(dirs, n, resolved, depth > 0);
		if (is_dir(cur))
			return dirs_add(dirs, n, cur, depth > 0);
		if (strcmp(cur, "/") == 0 || strcmp(cur, ".") == 0)
			return 0;
		parent_of(cur, up, sizeof(up));
		snprintf(cur, sizeof(cur), "%s", up);
	}
	return 0;
}

/* Adds the directories of path, of each symlink hop and of the resolved file. */
static int
dirs_collect(struct fsw_dir *dirs, size_t *n, const char *path)
{
	char cur[PATH_MAX], dir[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
	struct stat st;
	ssize_t len;
	int hop, rc;

	snprintf(cur, sizeof(cur), "%s", path);
	for (hop = 0; hop < FSW_MAX_HOPS; hop++) {
		parent_of(cur, dir, sizeof(dir));
		rc = dirs_add_existing(dirs, n, dir);
		if (rc != 0)
			return rc;
		if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			break;
		len = readlink(cur, target, sizeof(target) - 1);
		if (len < 0)
			break;
		target[len] = '\0';
		if (target[0] == '/')
			snprintf(next, sizeof(next), "%s", target);
		else if (snprintf(next, sizeof(next), "%s/%s", dir, target) >= (int)sizeof(next))
			break;
		snprintf(cur, sizeof(cur), "%s", next);
	}
	if (realpath(path, target) != NULL) {
		parent_of(target, dir, sizeof(dir));
		return dirs_add_existing(dirs, n, dir);
	}
	return 0;
}

static void
dirs_clear(struct fsw_dir *dirs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dirs[i].path);
}

/* Finds the watched directory with inotify descriptor wd, or NULL. */
static struct fsw_dir *
dirs_by_wd(struct cw_fswatch *w, int wd)
{
	size_t i;

	for (i = 0; i < w->n_dirs; i++) {
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	}
	return NULL;
}

static void
events_log(const struct fsw_dir *d, const struct inotify_event *ev)
{
	char name[256];

	if (!ivi_log_enabled(IVI_LOG_DEBUG))
		return;
	ivi_log_escape(name, sizeof(name), ev->len > 0 ? ev->name : "");
	log_debug("watch: event 0x%x on %s/%s", ev->mask, d->path, name);
}

static void
on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
	struct cw_fswatch *w = io->data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct fsw_dir *d;
	bool hit = false;
	bool renamed = false;
	ssize_t len;
	char *p;

	for (;;) {
		len = read(w->ifd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;
		for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				log_info("watch: inotify event queue overflowed; checking the files");
				hit = true;
				continue;
			}
			d = dirs_by_wd(w, ev->wd);
			if (d == NULL)
				continue;
			events_log(d, ev);
			if (ev->mask & IN_IGNORED)
				d->wd = -1;
			if (ev->mask & IN_MOVED_TO)
				renamed = true;
			hit = true;
		}
	}
	if (len < 0 && errno != EAGAIN) {
		/* A read error on inotify does not clear by itself: stop reading it. */
		log_error("watch: reading inotify events failed (%s); switching to polling",
		    strerror(errno));
		ev_io_stop(loop, &w->io);
		w->force_poll = true;
		hit = true;
	}
	w->batch_renamed = renamed;
	if (hit)
		w->cb(w->arg, CW_FSWATCH_EVENT);
}

static void
on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cw_fswatch *w = t->data;

	w->cb(w->arg, CW_FSWATCH_POLL);
}

/* Opens the inotify instance when there is none; keeps the errno of a failure. */
static void
inotify_open(struct cw_fswatch *w)
{
	if (w->ifd >= 0 || w->force_poll)
		return;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		w->init_errno = errno;
		return;
	}
	w->init_errno = 0;
	ev_io_init(&w->io, on_inotify, w->ifd, EV_READ);
	w->io.data = w;
	ev_io_start(w->loop, &w->io);
}

/*
 * Adds an inotify watch on d. On failure explains in why, sets *level to
 * the level the failure deserves and returns false.
 */
static bool
watch_add(struct cw_fswatch *w, struct fsw_dir *d, char *why, size_t len,
    enum ivi_log_level *level)
{
	d->wd = inotify_add_watch(w->ifd, d->path, FSW_MASK);
	if (d->wd >= 0)
		return true;
	/* A directory removed since it was resolved is a race the next check settles. */
	*level = errno == ENOENT || errno == ENOTDIR ? IVI_LOG_INFO : IVI_LOG_WARNING;
	if (errno == ENOSPC)
		snprintf(why, len, "inotify_add_watch on %s failed (%s): raise the sysctl "
		    "fs.inotify.max_user_watches", d->path, strerror(errno));
	else
		snprintf(why, len, "inotify_add_watch on %s failed (%s)", d->path, strerror(errno));
	return false;
}

/* Starts or stops the polling timer and logs when the reason changes. */
static void
poll_set(struct cw_fswatch *w, bool on, const char *why, enum ivi_log_level level)
{
	if (on && (!w->polling || strcmp(w->poll_why, why) != 0))
		ivi_log(level, "watch: polling every %.0f ms because %s", w->interval * 1000.0,
		    why);
	else if (!on && w->polling)
		log_notice("watch: inotify works for every watched directory; polling stopped");
	snprintf(w->poll_why, sizeof(w->poll_why), "%s", on ? why : "");
	if (on && !w->polling) {
		ev_timer_set(&w->poll, w->interval, w->interval);
		ev_timer_start(w->loop, &w->poll);
	} else if (!on && w->polling) {
		ev_timer_stop(w->loop, &w->poll);
	}
	w->polling = on;
}

/* Logs the directories that were added to or dropped from the watch set. */
static void
dirs_log_changes(const struct cw_fswatch *w, const struct fsw_dir *nd, size_t nn)
{
	size_t i, j;

	for (i = 0; i < nn; i++) {
		for (j = 0; j < w->n_dirs; j++) {
			if (strcmp(nd[i].path, w->dirs[j].path) == 0)
				break;
		}
		if (j == w->n_dirs)
			log_info("watch: watching directory %s%s (%s)", nd[i].path,
			    nd[i].fallback ? ", the nearest existing parent" : "",
			    nd[i].wd >= 0 ? "inotify" : "polling");
	}
	for (j = 0; j < w->n_dirs; j++) {
		for (i = 0; i < nn; i++) {
			if (strcmp(nd[i].path, w->dirs[j].path) == 0)
				break;
		}
		if (i == nn)
			log_info("watch: no longer watching directory %s", w->dirs[j].path);
	}
}

int
cw_fswatch_arm(struct cw_fswatch *w, const char *const *paths, size_t n)
{
	struct fsw_dir nd[FSW_MAX_DIRS];
	char why[768] = "";
	enum ivi_log_level level = IVI_LOG_NOTICE;
	const char *fs;
	size_t nn = 0, i, j;
	bool need_poll;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (paths[i] != NULL)
			rc = dirs_collect(nd, &nn, paths[i]);
	}
	if (rc != 0) {
		dirs_clear(nd, nn);
		return rc;
	}

	inotify_open(w);
	need_poll = w->force_poll || w->ifd < 0;
	if (w->force_poll)
		snprintf(why, sizeof(why), "[certwatch] force_poll is set");
	else if (w->ifd < 0)
		snprintf(why, sizeof(why), "inotify_init1 failed (%s)%s", strerror(w->init_errno),
		    w->init_errno == EMFILE ?
		    ": raise the sysctl fs.inotify.max_user_instances" : "");
	if (w->ifd < 0 && !w->force_poll)
		level = IVI_LOG_WARNING;

	/* Add the new watches first: the kernel returns the same wd for an inode already watched. */
	for (i = 0; i < nn; i++) {
		fs = poll_fs_name(nd[i].path);
		if (fs != NULL && !need_poll) {
			need_poll = true;
			snprintf(why, sizeof(why), "%s is on %s, where inotify misses changes "
			    "made elsewhere", nd[i].path, fs);
		}
		if (w->ifd >= 0 && !w->force_poll &&
		    !watch_add(w, &nd[i], why, sizeof(why), &level))
			need_poll = true;
	}

	/* Then drop the watches no directory of the new set uses. */
	for (j = 0; j < w->n_dirs; j++) {
		if (w->dirs[j].wd < 0)
			continue;
		for (i = 0; i < nn; i++) {
			if (nd[i].wd == w->dirs[j].wd)
				break;
		}
		if (i == nn)
			inotify_rm_watch(w->ifd, w->dirs[j].wd);
	}

	dirs_log_changes(w, nd, nn);
	dirs_clear(w->dirs, w->n_dirs);
	memcpy(w->dirs, nd, nn * sizeof(nd[0]));
	w->n_dirs = nn;
	poll_set(w, need_poll, why, level);
	return 0;
}

int
cw_fswatch_new(struct ev_loop *loop, bool force_poll, int poll_interval_ms,
    void (*cb)(void *arg, enum cw_fswatch_reason why), void *arg, struct cw_fswatch **out)
{
	struct cw_fswatch *w;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return IVI_E_NOMEM;
	w->loop = loop;
	w->ifd = -1;
	w->force_poll = force_poll;
	w->interval = (poll_interval_ms > 0 ? poll_interval_ms : 5000) / 1000.0;
	w->cb = cb;
	w->arg = arg;
	ev_init(&w->poll, on_poll);
	w->poll.data = w;
	*out = w;
	return 0;
}

void
cw_fswatch_set_mode(struct cw_fswatch *w, bool force_poll, int poll_interval_ms)
{
	size_t i;

	w->interval = (poll_interval_ms > 0 ? poll_interval_ms : 5000) / 1000.0;
	if (w->polling) {
		ev_timer_stop(w->loop, &w->poll);
		ev_timer_set(&w->poll, w->interval, w->interval);
		ev_timer_start(w->loop, &w->poll);
		w->poll_why[0] = '\0';  /* log the new interval at the next arm */
	}
	w->force_poll = force_poll;
	if (force_poll && w->ifd >= 0) {
		ev_io_stop(w->loop, &w->io);
		close(w->ifd);
		w->ifd = -1;
		for (i = 0; i < w->n_dirs; i++)
			w->dirs[i].wd = -1;
	}
}

bool
cw_fswatch_batch_renamed(const struct cw_fswatch *w)
{
	return w->batch_renamed;
}

bool
cw_fswatch_polling(const struct cw_fswatch *w)
{
	return w->polling;
}

void
cw_fswatch_free(struct cw_fswatch *w)
{
	if (w == NULL)
		return;
	ev_timer_stop(w->loop, &w->poll);
	if (w->ifd >= 0) {
		ev_io_stop(w->loop, &w->io);
		close(w->ifd);
	}
	dirs_clear(w->dirs, w->n_dirs);
	free(w);
}
