/* The pid file named by [api] pid_file, written at start and used by `ivicli api stop`. */
#ifndef SRV_PIDFILE_H
#define SRV_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Writes our pid to path. Fails with IVI_E_BUSY when the file names a
 * live ivicli process, and with IVI_E_IO otherwise; one line in errbuf.
 */
int srv_pidfile_write(const char *path, char *errbuf, size_t errlen);

/* Removes path when it still contains our pid. */
void srv_pidfile_remove(const char *path);

/*
 * Reads the pid in path. Returns 0, IVI_E_FILE_MISSING, or IVI_E_PARSE
 * when the content is not a pid.
 */
int srv_pidfile_read(const char *path, pid_t *out);

/* Returns true when pid is alive and its command name starts with "ivicli". */
bool srv_pidfile_is_server(pid_t pid);

#endif /* SRV_PIDFILE_H */
