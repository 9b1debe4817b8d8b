/*
 * File change notification for ivicli-certwatch: inotify on the
 * directories that hold the watched files and their symlink targets, with
 * a polling timer where inotify cannot be trusted (network, overlay and
 * FUSE file systems, exhausted inotify limits, or polling forced by the
 * config). It only says "something may have changed"; the caller decides
 * from file content.
 */
#ifndef CW_FSWATCH_H
#define CW_FSWATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

/* Reason the callback runs. */
enum cw_fswatch_reason {
	CW_FSWATCH_EVENT = 1,      /* inotify reported a change: debounce it unless it was a rename */
	CW_FSWATCH_POLL = 2,       /* polling interval elapsed: compare content now */
};

struct cw_fswatch;

/*
 * Creates a watcher on loop. cb runs once per batch of inotify events and
 * once per polling tick. poll_interval_ms is the polling period when
 * polling is needed; force_poll never uses inotify.
 */
int cw_fswatch_new(struct ev_loop *loop, bool force_poll, int poll_interval_ms,
    void (*cb)(void *arg, enum cw_fswatch_reason why), void *arg, struct cw_fswatch **out);

/*
 * Watches the directories for paths (NULL entries are skipped): the
 * directory of each path, of each symlink hop and of the resolved file,
 * or the nearest existing parent of a directory that does not exist yet.
 * Call it again after every change: it re-resolves symlinks, adds new
 * watches, drops stale ones and decides whether polling is needed.
 * Returns 0 or IVI_E_NOMEM.
 */
int cw_fswatch_arm(struct cw_fswatch *w, const char *const *paths, size_t n);

/*
 * Changes the polling settings after a config reload; the next
 * cw_fswatch_arm applies them and logs the change of mode.
 */
void cw_fswatch_set_mode(struct cw_fswatch *w, bool force_poll, int poll_interval_ms);

/*
 * Returns true when the inotify batch being reported to the callback
 * contained a rename into a watched directory (IN_MOVED_TO). A renamed
 * file is complete, so the caller need not wait for more writes.
 */
bool cw_fswatch_batch_renamed(const struct cw_fswatch *w);

/* Returns true while the polling timer runs. */
bool cw_fswatch_polling(const struct cw_fswatch *w);

/* Stops every watcher, closes the inotify descriptor and frees w; NULL is allowed. */
void cw_fswatch_free(struct cw_fswatch *w);

#endif /* CW_FSWATCH_H */
