/*
 * Unit tests of server/ modules that run without sockets: the HTTP request
 * path (parsing, limits, routing, responses), the credentials table and
 * the output buffer. The shell tests cover the same behaviour over TLS;
 * these run under valgrind with `make check-valgrind`.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "creds.h"
#include "http.h"
#include "server.h"

static struct ivi_config test_cfg;
static struct srv test_srv;
static struct srv_buf test_out;

/* Zeroes the test server: TLS off, 1 KiB header limit, 100-byte body limit. */
static void
setup(void)
{
	memset(&test_srv, 0, sizeof(test_srv));
	memset(&test_out, 0, sizeof(test_out));
	test_srv.cfg = &test_cfg;
	srv_creds_table_init(&test_srv.creds);
	TAILQ_INIT(&test_srv.conns);
	test_srv.limits.max_header_bytes = 1024;
	test_srv.limits.max_body_bytes = 100;
	srv_http_global_init(&test_srv.limits);
}

static void
teardown(void)
{
	srv_creds_table_clear(&test_srv.creds);
	srv_buf_free(&test_out);
}

/* Feeds text in chunks of chunk bytes (0: all at once); returns the output as a string. */
static const char *
feed(struct srv_http *h, const char *text, size_t chunk)
{
	size_t len = strlen(text), off = 0, n, used;

	while (off < len && !h->close_after) {
		n = chunk == 0 || len - off < chunk ? len - off : chunk;
		used = srv_http_feed(h, text + off, n);
		off += used;
		if (h->paused) {
			srv_http_resume(h);
		} else if (used == 0) {
			break;
		}
	}
	srv_buf_append(&test_out, "", 1);
	test_out.len--;
	return test_out.data;
}

/* Returns the number of times needle occurs in haystack. */
static int
count(const char *haystack, const char *needle)
{
	int n = 0;

	for (haystack = strstr(haystack, needle); haystack != NULL;
	    haystack = strstr(haystack + 1, needle))
		n++;
	return n;
}

START_TEST(test_http_get_healthz)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 16\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n{\"status\":\"ok\"}\n"));
	ck_assert_ptr_null(strstr(out, "Connection: close"));
	ck_assert(!h.close_after);
	ck_assert(!h.in_message);
}
END_TEST

START_TEST(test_http_bytewise_pipelined)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "GET /healthz?probe=1 HTTP/1.1\r\nHOST: a\r\n\r\n"
	    "GET /v1/tls HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 1);
	ck_assert_int_eq(count(out, "HTTP/1.1 200 OK"), 3);
	ck_assert_ptr_nonnull(strstr(out, "\"tls_enabled\":false"));
	ck_assert_ptr_nonnull(strstr(out, "ivicli_tls_enabled 0\n"));
	ck_assert_int_eq(count(out, "Connection: close"), 1);
	ck_assert(h.close_after);
}
END_TEST

START_TEST(test_http_errors_use_envelope)
{
	static const struct {
		const char *request;
		const char *status;
		const char *code;
	} cases[] = {
		{ "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", "404 Not Found", "not_found" },
		{ "DELETE /healthz HTTP/1.1\r\nHost: a\r\n\r\n", "405 Method Not Allowed",
		  "method_not_allowed" },
		{ "GET /healthz HTTP/1.1\r\n\r\n", "400 Bad Request", "bad_request" },
		{ "BREW /pot HTCPCP/1.0\r\n\r\n", "400 Bad Request", "bad_request" },
		{ "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
		  "413 Content Too Large", "payload_too_large" },
	};
	struct srv_http h;
	const char *out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		srv_buf_reset(&test_out);
		srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
		out = feed(&h, cases[i].request, 0);
		ck_assert_msg(strstr(out, cases[i].status) != NULL, "case %zu: %s", i, out);
		ck_assert_msg(strstr(out, cases[i].code) != NULL, "case %zu: %s", i, out);
		ck_assert_msg(strstr(out, "{\"error\":{\"code\":") != NULL, "case %zu", i);
	}
	srv_buf_reset(&test_out);
	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "PUT /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	ck_assert_ptr_nonnull(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
}
END_TEST

START_TEST(test_http_header_limit_is_431)
{
	struct srv_http h;
	char req[2048];
	const char *out;

	memset(req, 'a', sizeof(req));
	memcpy(req, "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ", 39);
	strcpy(req + sizeof(req) - 5, "\r\n\r\n");
	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, req, 100);
	ck_assert_ptr_nonnull(strstr(out, "431 Request Header Fields Too Large"));
	ck_assert(h.close_after);
}
END_TEST

START_TEST(test_http_chunked_body_limit_is_413)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
	    "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
	    "0\r\n\r\n", 7);
	ck_assert_ptr_nonnull(strstr(out, "413 Content Too Large"));
	ck_assert(h.close_after);
}
END_TEST

START_TEST(test_http_head_has_no_body)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 16\r\n"));
	ck_assert_ptr_null(strstr(out, "status"));
}
END_TEST

START_TEST(test_http_10_closes_unless_keep_alive)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "GET /healthz HTTP/1.0\r\n\r\n", 0);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
	ck_assert(h.close_after);

	srv_buf_reset(&test_out);
	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
	ck_assert_ptr_nonnull(strstr(out, "Connection: keep-alive\r\n"));
	ck_assert(!h.close_after);
}
END_TEST

START_TEST(test_http_busy_answers_503)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, true);
	out = feed(&h, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", 0);
	ck_assert_int_eq(count(out, "HTTP/1.1 503 Service Unavailable"), 1);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close"));
	ck_assert(h.close_after);
}
END_TEST

START_TEST(test_http_timeout_answers_408)
{
	struct srv_http h;
	const char *out;

	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	feed(&h, "GET /healthz HTTP/1.1\r\nHo", 0);
	ck_assert(h.in_message);
	srv_http_timeout(&h);
	out = feed(&h, "", 0);
	ck_assert_ptr_nonnull(strstr(out, "408 Request Timeout"));
	ck_assert_ptr_nonnull(strstr(out, "request_timeout"));
	ck_assert(h.close_after);
}
END_TEST

START_TEST(test_http_pauses_when_output_piles_up)
{
	struct srv_http h;
	struct srv_buf req = { 0 };
	size_t used;
	int i;

	for (i = 0; i < 400; i++)
		srv_buf_puts(&req, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	used = srv_http_feed(&h, req.data, req.len);
	ck_assert(h.paused);
	ck_assert_uint_lt(used, req.len);
	ck_assert_uint_gt(srv_buf_pending(&test_out), SRV_HTTP_OUTPUT_HIGH);
	ck_assert_uint_eq(srv_http_feed(&h, req.data + used, req.len - used), 0);
	srv_buf_reset(&test_out);
	srv_http_resume(&h);
	ck_assert_uint_gt(srv_http_feed(&h, req.data + used, req.len - used), 0);
	srv_buf_free(&req);
}
END_TEST

/* Publishes a self-signed set into the test server's table. */
static void
publish_self_signed(void)
{
	struct ivi_bundle *bundle = NULL;
	struct ivi_bundle_error err;
	gnutls_certificate_credentials_t xcred = NULL;

	ck_assert_int_eq(ivi_bundle_self_signed(&bundle, &err), 0);
	ck_assert_int_eq(ivi_bundle_credentials(bundle, &xcred, &err), 0);
	ck_assert_int_eq(srv_creds_publish(&test_srv.creds, ivi_bundle_describe(bundle), xcred,
	    time(NULL)), 0);
	ivi_bundle_free(bundle);
}

START_TEST(test_creds_old_set_lives_until_last_release)
{
	struct srv_creds_table *t = &test_srv.creds;
	struct srv_creds *a, *b, *first;

	ck_assert_ptr_null(srv_creds_acquire(t));
	publish_self_signed();
	first = t->current;
	ck_assert_uint_eq(first->generation, 1);
	a = srv_creds_acquire(t);
	b = srv_creds_acquire(t);
	ck_assert_ptr_eq(a, first);
	ck_assert_uint_eq(srv_creds_connections(first), 2);

	publish_self_signed();
	ck_assert_uint_eq(t->current->generation, 2);
	ck_assert_uint_eq(t->live_count, 2);
	ck_assert_uint_eq(srv_creds_older_connections(t), 2);
	ck_assert_uint_eq(srv_creds_connections(first), 2);
	srv_creds_release(a);
	ck_assert_uint_eq(t->live_count, 2);
	srv_creds_release(b);
	ck_assert_uint_eq(t->live_count, 1);
	ck_assert_uint_eq(srv_creds_older_connections(t), 0);
	srv_creds_release(NULL);
}
END_TEST

START_TEST(test_tls_document_describes_current_set)
{
	struct srv_http h;
	const char *out;

	publish_self_signed();
	test_srv.tls_enabled = true;
	test_srv.self_signed = true;
	srv_http_init(&h, &test_srv, &test_out, &test_srv.limits, false);
	out = feed(&h, "GET /v1/tls HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
	    0);
	ck_assert_ptr_nonnull(strstr(out, "\"self_signed\":true"));
	ck_assert_ptr_nonnull(strstr(out, "\"generation\":1"));
	ck_assert_ptr_nonnull(strstr(out, "\"sans\":["));
	ck_assert_ptr_nonnull(strstr(out, "\"last_reload\":null"));
	ck_assert_ptr_nonnull(strstr(out, "ivicli_tls_credentials_generation 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "ivicli_tls_connections{generation=\"1\"} 0\n"));
}
END_TEST

START_TEST(test_buf_printf_grows)
{
	struct srv_buf b = { 0 };
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(srv_buf_printf(&b, "%s-%d", big, 42), 0);
	ck_assert_uint_eq(b.len, sizeof(big) - 1 + 3);
	ck_assert_int_eq(memcmp(b.data + b.len - 3, "-42", 3), 0);
	b.off = b.len;
	ck_assert_int_eq(srv_buf_puts(&b, "y"), 0);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(srv_buf_pending(&b), 1);
	srv_buf_free(&b);
	srv_buf_free(&b);
}
END_TEST

START_TEST(test_fmt_time_is_rfc3339_utc)
{
	char stamp[21];

	srv_fmt_time(stamp, 1796415600);
	ck_assert_str_eq(stamp, "2026-12-04T20:20:00Z");
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc;

	tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_http_get_healthz);
	tcase_add_test(tc, test_http_bytewise_pipelined);
	tcase_add_test(tc, test_http_errors_use_envelope);
	tcase_add_test(tc, test_http_header_limit_is_431);
	tcase_add_test(tc, test_http_chunked_body_limit_is_413);
	tcase_add_test(tc, test_http_head_has_no_body);
	tcase_add_test(tc, test_http_10_closes_unless_keep_alive);
	tcase_add_test(tc, test_http_busy_answers_503);
	tcase_add_test(tc, test_http_timeout_answers_408);
	tcase_add_test(tc, test_http_pauses_when_output_piles_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("creds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_creds_old_set_lives_until_last_release);
	tcase_add_test(tc, test_tls_document_describes_current_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_printf_grows);
	tcase_add_test(tc, test_fmt_time_is_rfc3339_utc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
