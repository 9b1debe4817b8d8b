/*
 * Unix domain stream socket transport (Linux). The socket file gets mode
 * 0660, in a parent directory created with mode 0750 when it is missing.
 * A socket file left by a dead server is removed, a live server's never is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto_internal.h"

#define UNIX_BACKLOG 16

/* Pause between connect attempts while the listener's backlog is full. */
#define CONNECT_RETRY_MS 10

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

/* Fills addr for path. Returns 0, or IVI_E_INVALID_ARG when path does not fit. */
static int
unix_address(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(addr->sun_path))
		return IVI_E_INVALID_ARG;
	memcpy(addr->sun_path, path, strlen(path));
	return 0;
}

/*
 * Tries one non-blocking connect to addr. Returns 0 and the socket in *fd
 * when connected; otherwise -1 with errno set (EAGAIN: backlog full).
 */
static int
unix_try_connect(const struct sockaddr_un *addr, int *fd)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int saved;

	if (s < 0)
		return -1;
	if (connect(s, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
		*fd = s;
		return 0;
	}
	saved = errno;
	close(s);
	errno = saved;
	return -1;
}

/*
 * Decides whether the socket file at addr belongs to a live server.
 * Returns 0 when it is stale (a connect is refused), IVI_E_SOCKET_IN_USE
 * when something accepts or queues connections, IVI_E_IO otherwise.
 */
static int
unix_probe_stale(const struct sockaddr_un *addr)
{
	int fd = -1;

	if (unix_try_connect(addr, &fd) == 0) {
		close(fd);
		return IVI_E_SOCKET_IN_USE;
	}
	if (errno == ECONNREFUSED)
		return 0;
	if (errno == EAGAIN)
		return IVI_E_SOCKET_IN_USE;
	return IVI_E_IO;
}

/* Creates the parent directory of path with mode 0750 when it is missing. */
static int
unix_make_parent(const char *path, char *errbuf, size_t errlen)
{
	char copy[PATH_MAX];
	const char *dir;
	struct stat st;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT || mkdir(dir, 0750) < 0) {
		set_error(errbuf, errlen, "cannot create directory %s for the control socket (%s)",
		    dir, strerror(errno));
		return IVI_E_IO;
	}
	/* mkdir applied the umask; set the documented mode. */
	if (chmod(dir, 0750) < 0) {
		set_error(errbuf, errlen, "cannot set mode 0750 on %s (%s)", dir, strerror(errno));
		return IVI_E_IO;
	}
	return 0;
}

/*
 * Removes the socket file at path when nothing listens on it. Returns 0
 * when removed, or the error to report.
 */
static int
unix_remove_stale(const char *path, const struct sockaddr_un *addr, char *errbuf,
    size_t errlen)
{
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : IVI_E_IO;
	if (!S_ISSOCK(st.st_mode)) {
		set_error(errbuf, errlen,
		    "control socket path %s exists and is not a socket; remove it or set "
		    "another [control] socket",
		    path);
		return IVI_E_CONFIG;
	}
	ret = unix_probe_stale(addr);
	if (ret == IVI_E_SOCKET_IN_USE) {
		set_error(errbuf, errlen,
		    "control socket %s is in use by a running server; stop it first", path);
		return ret;
	}
	if (ret < 0) {
		set_error(errbuf, errlen, "cannot check control socket %s (%s)", path,
		    strerror(errno));
		return ret;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		set_error(errbuf, errlen, "cannot remove stale control socket %s (%s)", path,
		    strerror(errno));
		return IVI_E_IO;
	}
	return 0;
}

/* Binds s to addr, replacing a stale socket file once. */
static int
unix_bind(int s, const char *path, const struct sockaddr_un *addr, char *errbuf, size_t errlen)
{
	int ret;

	if (bind(s, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return 0;
	if (errno != EADDRINUSE) {
		set_error(errbuf, errlen, "cannot bind control socket %s (%s)", path,
		    strerror(errno));
		return errno == EACCES ? IVI_E_FILE_PERMISSION : IVI_E_IO;
	}
	ret = unix_remove_stale(path, addr, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (bind(s, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		set_error(errbuf, errlen, "cannot bind control socket %s (%s)", path,
		    strerror(errno));
		return errno == EADDRINUSE ? IVI_E_SOCKET_IN_USE : IVI_E_IO;
	}
	return 0;
}

static int
unix_listen(const char *address, int *handle, char *errbuf, size_t errlen)
{
	struct sockaddr_un addr;
	int s = -1;
	int ret;

	if (handle == NULL || unix_address(address, &addr) < 0) {
		set_error(errbuf, errlen, "control socket path is empty or longer than %zu bytes",
		    sizeof(addr.sun_path) - 1);
		return IVI_E_INVALID_ARG;
	}
	ret = unix_make_parent(address, errbuf, errlen);
	if (ret < 0)
		return ret;

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		set_error(errbuf, errlen, "cannot create a Unix socket (%s)", strerror(errno));
		return IVI_E_IO;
	}
	ret = unix_bind(s, address, &addr, errbuf, errlen);
	if (ret < 0)
		goto out;

	/*
	 * The mode is set before listen(): until then a connect is refused,
	 * so no peer gets in while the umask's mode is still on the file.
	 */
	if (chmod(address, 0660) < 0 || listen(s, UNIX_BACKLOG) < 0) {
		set_error(errbuf, errlen, "cannot listen on control socket %s (%s)", address,
		    strerror(errno));
		unlink(address);
		ret = IVI_E_IO;
		goto out;
	}

	*handle = s;
	s = -1;
	ret = 0;
out:
	if (s >= 0)
		close(s);
	return ret;
}

static int
unix_connect(const char *address, int timeout_ms, int *handle)
{
	struct sockaddr_un addr;
	int64_t deadline = ivi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct timespec pause = {0, CONNECT_RETRY_MS * 1000000L};

	if (handle == NULL || unix_address(address, &addr) < 0)
		return IVI_E_INVALID_ARG;

	/* A Unix connect completes at once or fails with EAGAIN when the backlog is full. */
	for (;;) {
		if (unix_try_connect(&addr, handle) == 0)
			return 0;
		switch (errno) {
		case ENOENT:
		case ECONNREFUSED:
			return IVI_E_UNAVAILABLE;
		case EACCES:
		case EPERM:
			return IVI_E_FILE_PERMISSION;
		case EAGAIN:
		case EINTR:
			break;
		default:
			return IVI_E_IO;
		}
		if (ivi_now_ms() >= deadline)
			return IVI_E_TIMEOUT;
		nanosleep(&pause, NULL);
	}
}

static int
unix_peer(int handle, struct ivi_peer *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (out == NULL)
		return IVI_E_INVALID_ARG;
	if (getsockopt(handle, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return IVI_E_IO;
	out->uid = cred.uid;
	out->gid = cred.gid;
	out->pid = cred.pid;
	return 0;
}

/*
 * Closes the listener, then removes the socket file unless another server
 * has taken the path over since.
 */
static void
unix_unlisten(const char *address, int handle)
{
	struct sockaddr_un addr;
	struct stat st;

	if (handle >= 0)
		close(handle);
	if (unix_address(address, &addr) < 0)
		return;
	if (lstat(address, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (unix_probe_stale(&addr) == 0)
		unlink(address);
}

static int
unix_accept(int handle, int *conn)
{
	int c;

	if (conn == NULL)
		return IVI_E_INVALID_ARG;
	c = accept4(handle, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c >= 0) {
		*conn = c;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
		return IVI_E_BUSY;
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
		return IVI_E_UNAVAILABLE;
	return IVI_E_IO;
}

const struct ivi_transport_ops ivi_transport_unix = {
	.name = "unix",
	.listen = unix_listen,
	.connect = unix_connect,
	.peer = unix_peer,
	.unlisten = unix_unlisten,
	.accept = unix_accept,
};
