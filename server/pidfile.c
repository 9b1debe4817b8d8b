/* Pid file handling for `ivicli api start` and `ivicli api stop`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivi_err.h"
#include "pidfile.h"

int
srv_pidfile_read(const char *path, pid_t *out)
{
	char buf[32], *end;
	ssize_t n;
	long v;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? IVI_E_FILE_MISSING : IVI_E_IO;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return IVI_E_PARSE;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || v <= 0 || (*end != '\n' && *end != '\0'))
		return IVI_E_PARSE;
	*out = (pid_t)v;
	return 0;
}

bool
srv_pidfile_is_server(pid_t pid)
{
	char path[64], comm[64];
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;    /* no /proc: trust the pid file */
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	/* libtool wrappers run the binary as lt-ivicli. */
	return strncmp(comm, "ivicli", 6) == 0 || strncmp(comm, "lt-ivicli", 9) == 0;
}

int
srv_pidfile_write(const char *path, char *errbuf, size_t errlen)
{
	char buf[32];
	pid_t other;
	int fd, len;

	if (srv_pidfile_read(path, &other) == 0 && other != getpid() &&
	    srv_pidfile_is_server(other)) {
		snprintf(errbuf, errlen, "pid file %s names a running server (pid %ld)", path,
		    (long)other);
		return IVI_E_BUSY;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot write pid file %s (%s)", path, strerror(errno));
		return errno == EACCES ? IVI_E_FILE_PERMISSION : IVI_E_IO;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		snprintf(errbuf, errlen, "cannot write pid file %s (%s)", path, strerror(errno));
		close(fd);
		unlink(path);
		return IVI_E_IO;
	}
	close(fd);
	return 0;
}

void
srv_pidfile_remove(const char *path)
{
	pid_t pid;

	if (srv_pidfile_read(path, &pid) == 0 && pid == getpid())
		unlink(path);
}
