/* NDJSON audit trail of lifecycle events. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"

#define AUDIT_SERVER_NAME "ivi-management-api"

void
srv_audit_init(struct srv_audit *a, bool enabled, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->enabled = enabled && path != NULL && path[0] != '\0';
	a->path = path;
	a->rl.interval = 60;
	a->rl.burst = 3;
}

cJSON *
srv_audit_begin(struct srv_audit *a, const char *action)
{
	cJSON *event;
	struct timespec ts;
	char stamp[21];

	if (!a->enabled)
		return NULL;
	event = cJSON_CreateObject();
	if (event == NULL)
		return NULL;
	/*
	 * Same clock as the log lines, because time(2) may read a coarse clock
	 * that lags CLOCK_REALTIME by a tick. NOTE: it is still a separate
	 * reading, so the two can straddle a second boundary.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	srv_fmt_time(stamp, ts.tv_sec);
	if (cJSON_AddStringToObject(event, "kind", "server.lifecycle") == NULL ||
	    cJSON_AddStringToObject(event, "timestamp", stamp) == NULL ||
	    cJSON_AddStringToObject(event, "server", AUDIT_SERVER_NAME) == NULL ||
	    cJSON_AddStringToObject(event, "action", action) == NULL) {
		cJSON_Delete(event);
		return NULL;
	}
	return event;
}

/* Logs a failed write once per rate-limit window. */
static void
audit_report(struct srv_audit *a, const char *what, int err)
{
	a->failures++;
	if (ivi_ratelimit_allow(&a->rl))
		log_error("audit: cannot %s %s (%s); the event is lost, serving continues", what,
		    a->path, strerror(err));
}

/*
 * Removes the written bytes of a line that did not fit (ENOSPC), because
 * the next event would otherwise be glued to them and neither line would
 * parse. O_APPEND leaves the offset at the end of what this write added.
 */
static void
audit_cut_partial(struct srv_audit *a, int fd, size_t written)
{
	off_t end = lseek(fd, 0, SEEK_CUR);

	if (end < 0 || ftruncate(fd, end - (off_t)written) < 0)
		audit_report(a, "remove a partial line from", errno);
}

void
srv_audit_commit(struct srv_audit *a, cJSON *event)
{
	char *line = NULL;
	size_t len;
	ssize_t n;
	int fd = -1;

	if (event == NULL)
		return;
	line = cJSON_PrintUnformatted(event);
	if (line == NULL) {
		audit_report(a, "format an event for", ENOMEM);
		goto out;
	}

	/* cJSON allocates the exact length plus the NUL: swap the NUL for '\n'. */
	len = strlen(line);
	line[len++] = '\n';

	fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		audit_report(a, "open", errno);
		goto out;
	}
	n = write(fd, line, len);
	if (n < 0) {
		audit_report(a, "write to", errno);
	} else if ((size_t)n != len) {
		audit_report(a, "write a whole line to", ENOSPC);
		audit_cut_partial(a, fd, (size_t)n);
	}
out:
	if (fd >= 0)
		close(fd);
	free(line);
	cJSON_Delete(event);
}
