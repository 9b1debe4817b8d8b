/*
 * Unit tests of the Unix socket transport and the blocking client: socket
 * file and directory modes, stale and live sockets, peer credentials,
 * timeouts, and ivi_client_call against a small server thread.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>

#include "ivi_proto.h"

static const struct ivi_transport_ops *const tr = &ivi_transport_unix;
static char tmpdir[40];
static char rundir[48];
static char sockpath[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ivicli-check-tr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(rundir, sizeof(rundir), "%s/run", tmpdir);
	snprintf(sockpath, sizeof(sockpath), "%s/control.sock", rundir);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
teardown(void)
{
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static struct ivi_key *
make_key(uint8_t fill)
{
	uint8_t bytes[IVI_KEY_MIN_BYTES];
	struct ivi_key *key = NULL;

	memset(bytes, fill, sizeof(bytes));
	ck_assert_int_eq(ivi_key_from_bytes(bytes, sizeof(bytes), &key), 0);
	return key;
}

static int
listen_ok(const char *path)
{
	char err[512] = "";
	int fd = -1;
	int ret = tr->listen(path, &fd, err, sizeof(err));

	ck_assert_msg(ret == 0, "listen on %s failed: %s", path, err);
	return fd;
}

/* Waits up to 10 s for a connection on the non-blocking listener and accepts it. */
static int
accept_wait(int lfd)
{
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	int conn = -1;

	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(tr->accept(lfd, &conn), 0);
	return conn;
}

/* Makes a socket file with nobody listening, as a crashed server leaves it. */
static void
make_stale_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(s);
}

/* ---- Listen and connect ----------------------------------------------------- */

START_TEST(test_unix_listen_sets_modes)
{
	char dir[64];
	struct stat st;
	int lfd;

	lfd = listen_ok(sockpath);
	snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0750);
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	tr->unlisten(sockpath, lfd);
	ck_assert_int_eq(lstat(sockpath, &st), -1);
}
END_TEST

START_TEST(test_unix_peer_credentials)
{
	struct ivi_peer server_side, client_side;
	int lfd, cfd = -1, conn;

	lfd = listen_ok(sockpath);
	ck_assert_int_eq(tr->connect(sockpath, 5000, &cfd), 0);
	conn = accept_wait(lfd);
	ck_assert_int_eq(tr->peer(conn, &server_side), 0);
	ck_assert_uint_eq(server_side.uid, getuid());
	ck_assert_uint_eq(server_side.gid, getgid());
	ck_assert_int_eq(server_side.pid, getpid());
	ck_assert_int_eq(tr->peer(cfd, &client_side), 0);
	ck_assert_int_eq(client_side.pid, getpid());
	close(conn);
	close(cfd);
	tr->unlisten(sockpath, lfd);
}
END_TEST

START_TEST(test_unix_accept_without_pending_is_busy)
{
	int lfd = listen_ok(sockpath);
	int conn = -1;

	ck_assert_int_eq(tr->accept(lfd, &conn), IVI_E_BUSY);
	ck_assert_int_eq(conn, -1);
	tr->unlisten(sockpath, lfd);
}
END_TEST

START_TEST(test_unix_removes_stale_socket)
{
	struct stat st;
	int lfd, cfd = -1, conn;

	ck_assert_int_eq(mkdir(rundir, 0750), 0);
	make_stale_socket(sockpath);
	ck_assert_int_eq(tr->connect(sockpath, 1000, &cfd), IVI_E_UNAVAILABLE);

	lfd = listen_ok(sockpath);
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_int_eq(tr->connect(sockpath, 5000, &cfd), 0);
	conn = accept_wait(lfd);
	close(conn);
	close(cfd);
	tr->unlisten(sockpath, lfd);
}
END_TEST

START_TEST(test_unix_keeps_live_socket)
{
	char err[512] = "";
	struct stat before, after;
	int lfd, second = -1, cfd = -1, conn;

	lfd = listen_ok(sockpath);
	ck_assert_int_eq(lstat(sockpath, &before), 0);
	ck_assert_int_eq(tr->listen(sockpath, &second, err, sizeof(err)), IVI_E_SOCKET_IN_USE);
	ck_assert_int_eq(second, -1);
	ck_assert_ptr_nonnull(strstr(err, sockpath));

	/* Same file, and the first server still takes connections. */
	ck_assert_int_eq(lstat(sockpath, &after), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	ck_assert_int_eq(tr->connect(sockpath, 5000, &cfd), 0);
	conn = accept_wait(lfd);
	close(conn);
	close(cfd);
	tr->unlisten(sockpath, lfd);
}
END_TEST

START_TEST(test_unix_refuses_non_socket_path)
{
	char err[512] = "";
	struct stat st;
	FILE *f;
	int fd = -1;

	ck_assert_int_eq(mkdir(rundir, 0750), 0);
	f = fopen(sockpath, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(tr->listen(sockpath, &fd, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_unix_unlisten_spares_successor)
{
	struct stat st;
	int first, second;

	first = listen_ok(sockpath);
	/* Someone removed our file and another server now listens there. */
	ck_assert_int_eq(unlink(sockpath), 0);
	second = listen_ok(sockpath);
	tr->unlisten(sockpath, first);
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	tr->unlisten(sockpath, second);
	ck_assert_int_eq(lstat(sockpath, &st), -1);
}
END_TEST

START_TEST(test_unix_rejects_bad_paths)
{
	char longpath[200], err[512] = "";
	int fd = -1;

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(tr->listen(longpath, &fd, err, sizeof(err)), IVI_E_INVALID_ARG);
	ck_assert_int_eq(tr->listen("", &fd, err, sizeof(err)), IVI_E_INVALID_ARG);
	ck_assert_int_eq(tr->connect(longpath, 100, &fd), IVI_E_INVALID_ARG);
	ck_assert_int_eq(tr->connect(sockpath, 100, &fd), IVI_E_UNAVAILABLE);
	ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_unix_connect_times_out_on_full_backlog)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int s, held[4], n = 0, fd = -1, ret;

	/* A listener with backlog 0 that never accepts. */
	ck_assert_int_eq(mkdir(rundir, 0750), 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sockpath);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(s, 0), 0);

	/* Fill the queue; then a connect must wait and give up. */
	for (;;) {
		ck_assert_int_lt(n, 4);
		ret = tr->connect(sockpath, 200, &held[n]);
		if (ret != 0)
			break;
		n++;
	}
	ck_assert_int_eq(ret, IVI_E_TIMEOUT);
	ck_assert_int_eq(tr->connect(sockpath, 300, &fd), IVI_E_TIMEOUT);
	for (int i = 0; i < n; i++)
		close(held[i]);
	close(s);
}
END_TEST

/* ---- Client call against a server thread ---------------------------------- */

enum server_mode {
	SERVE_OK,          /* signed ok response with the request id */
	SERVE_WRONG_ID,    /* signed ok response with another id */
	SERVE_OTHER_KEY,   /* response signed with another key */
	SERVE_NULL_ID,     /* signed error response with a null id */
	SERVE_SILENT,      /* reads the request, never responds */
	SERVE_CLOSE,       /* reads the request, closes without a response */
};

struct fake_server {
	int lfd;
	enum server_mode mode;
	struct ivi_key *key;
	struct ivi_key *reply_key;
	struct ivi_request req;  /* last request, body not kept */
	int parse_ret;
	const char *failure;     /* set by the thread; asserted after the join */
	pthread_t thread;
};

/* Waits until the client closes its end, for at most 10 s. */
static void
wait_client_close(int conn)
{
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	char c;

	while (poll(&pfd, 1, 10000) == 1 && recv(conn, &c, 1, 0) > 0)
		;
}

/* Builds the response that the mode selects, or NULL for none. */
static cJSON *
fake_server_response(const struct fake_server *fs)
{
	cJSON *resp = NULL;

	switch (fs->mode) {
	case SERVE_OK:
	case SERVE_OTHER_KEY:
		resp = ivi_response_ok(fs->req.id, NULL);
		cJSON_AddBoolToObject(cJSON_GetObjectItem(resp, "result"), "pong", 1);
		break;
	case SERVE_WRONG_ID:
		resp = ivi_response_ok("someone-else", NULL);
		break;
	case SERVE_NULL_ID:
		resp = ivi_response_error(NULL, IVI_E_BAD_SIGNATURE, NULL);
		break;
	case SERVE_SILENT:
	case SERVE_CLOSE:
		break;
	}
	return resp;
}

/* Serves one connection. Check's asserts are not used off the main thread. */
static void *
fake_server_run(void *arg)
{
	struct fake_server *fs = arg;
	struct pollfd pfd = {.fd = fs->lfd, .events = POLLIN};
	cJSON *msg = NULL, *resp = NULL;
	uint8_t *frame = NULL;
	size_t len = 0;
	int conn = -1;

	if (poll(&pfd, 1, 10000) != 1 || fs->lfd < 0 || tr->accept(fs->lfd, &conn) < 0) {
		fs->failure = "no connection to accept";
		goto out;
	}
	if (ivi_client_recv(conn, fs->key, 10000, &msg) < 0) {
		fs->failure = "no request frame";
		goto out;
	}
	fs->parse_ret = ivi_request_parse(msg, &fs->req);
	fs->req.body = NULL;

	resp = fake_server_response(fs);
	if (resp == NULL) {
		if (fs->mode == SERVE_SILENT)
			wait_client_close(conn);
		goto out;
	}
	if (ivi_frame_encode(fs->reply_key, resp, &frame, &len) < 0 ||
	    ivi_client_send(conn, frame, len, 10000) < 0) {
		fs->failure = "cannot send the response";
		goto out;
	}
	wait_client_close(conn);
out:
	free(frame);
	cJSON_Delete(resp);
	cJSON_Delete(msg);
	if (conn >= 0)
		close(conn);
	return NULL;
}

static void
fake_server_start(struct fake_server *fs, enum server_mode mode)
{
	memset(fs, 0, sizeof(*fs));
	fs->lfd = listen_ok(sockpath);
	fs->mode = mode;
	fs->key = make_key(7);
	fs->reply_key = mode == SERVE_OTHER_KEY ? make_key(8) : fs->key;
	fs->parse_ret = 1;
	ck_assert_int_eq(pthread_create(&fs->thread, NULL, fake_server_run, fs), 0);
}

static void
fake_server_stop(struct fake_server *fs)
{
	ck_assert_int_eq(pthread_join(fs->thread, NULL), 0);
	ck_assert_msg(fs->failure == NULL, "fake server: %s", fs->failure);
	tr->unlisten(sockpath, fs->lfd);
	if (fs->reply_key != fs->key)
		ivi_key_free(fs->reply_key);
	ivi_key_free(fs->key);
}

/* Calls the fake server with a ping and returns ivi_client_call's result. */
static int
call_fake(enum server_mode mode, int timeout_ms, struct ivi_response *resp, cJSON **msg)
{
	struct fake_server fs;
	int ret;

	fake_server_start(&fs, mode);
	*msg = NULL;
	ret = ivi_client_call(tr, sockpath, fs.key, IVI_MSG_PING, NULL, timeout_ms, resp, msg);
	fake_server_stop(&fs);
	ck_assert_int_eq(fs.parse_ret, 0);
	ck_assert_int_eq(fs.req.type, IVI_MSG_PING);
	return ret;
}

START_TEST(test_client_call_round_trip)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_OK, 10000, &resp, &msg), 0);
	ck_assert(resp.ok);
	ck_assert_int_eq(resp.server_version, IVI_PROTO_VERSION);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(resp.result, "pong")));
	cJSON_Delete(msg);
}
END_TEST

START_TEST(test_client_call_rejects_wrong_id)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_WRONG_ID, 10000, &resp, &msg), IVI_E_BAD_MESSAGE);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_client_call_rejects_unsigned_response)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_OTHER_KEY, 10000, &resp, &msg), IVI_E_BAD_SIGNATURE);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_client_call_accepts_error_with_null_id)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_NULL_ID, 10000, &resp, &msg), 0);
	ck_assert(!resp.ok);
	ck_assert_int_eq(resp.err, IVI_E_BAD_SIGNATURE);
	cJSON_Delete(msg);
}
END_TEST

START_TEST(test_client_call_times_out)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_SILENT, 300, &resp, &msg), IVI_E_TIMEOUT);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_client_call_reports_early_close)
{
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(call_fake(SERVE_CLOSE, 10000, &resp, &msg), IVI_E_IO);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_client_call_without_server)
{
	struct ivi_key *key = make_key(7);
	struct ivi_response resp;
	cJSON *msg = NULL;

	ck_assert_int_eq(ivi_client_call(tr, sockpath, key, IVI_MSG_STATUS, NULL, 1000, &resp,
			     &msg),
	    IVI_E_UNAVAILABLE);
	ck_assert_int_eq(ivi_client_call(tr, sockpath, key, (enum ivi_msg_type)42, NULL, 1000,
			     &resp, &msg),
	    IVI_E_INVALID_ARG);
	ck_assert_ptr_null(msg);
	ivi_key_free(key);
}
END_TEST

static Suite *
transport_suite(void)
{
	Suite *s = suite_create("proto_transport");
	TCase *unix_tc = tcase_create("unix");
	TCase *client = tcase_create("client");

	tcase_add_checked_fixture(unix_tc, setup, teardown);
	tcase_add_test(unix_tc, test_unix_listen_sets_modes);
	tcase_add_test(unix_tc, test_unix_peer_credentials);
	tcase_add_test(unix_tc, test_unix_accept_without_pending_is_busy);
	tcase_add_test(unix_tc, test_unix_removes_stale_socket);
	tcase_add_test(unix_tc, test_unix_keeps_live_socket);
	tcase_add_test(unix_tc, test_unix_refuses_non_socket_path);
	tcase_add_test(unix_tc, test_unix_unlisten_spares_successor);
	tcase_add_test(unix_tc, test_unix_rejects_bad_paths);
	tcase_add_test(unix_tc, test_unix_connect_times_out_on_full_backlog);
	tcase_set_timeout(unix_tc, 60);
	suite_add_tcase(s, unix_tc);

	tcase_add_checked_fixture(client, setup, teardown);
	tcase_add_test(client, test_client_call_round_trip);
	tcase_add_test(client, test_client_call_rejects_wrong_id);
	tcase_add_test(client, test_client_call_rejects_unsigned_response);
	tcase_add_test(client, test_client_call_accepts_error_with_null_id);
	tcase_add_test(client, test_client_call_times_out);
	tcase_add_test(client, test_client_call_reports_early_close);
	tcase_add_test(client, test_client_call_without_server);
	tcase_set_timeout(client, 60);
	suite_add_tcase(s, client);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(transport_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
