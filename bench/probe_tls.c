/*
 * TLS and HTTP client steps shared by the probe's modes: connect, full
 * handshake, serial of the presented leaf, one Connection: close request.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/x509.h>
#include <http_parser.h>

#include "probe.h"

#define PROBE_FILE_MAX (1024 * 1024)
#define PROBE_RESPONSE_MAX (64 * 1024)

static gnutls_certificate_credentials_t probe_creds;
static gnutls_priority_t probe_priority;

int64_t
probe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
probe_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
probe_target_parse(const char *spec, struct probe_target *target)
{
	char host[64];
	const char *colon;
	char *end;
	long port;

	colon = strrchr(spec, ':');
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;

	memset(target, 0, sizeof(*target));
	target->addr.sin_family = AF_INET;
	target->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &target->addr.sin_addr) != 1)
		return -1;

	/* The benchmark only ever talks to loopback. */
	if ((ntohl(target->addr.sin_addr.s_addr) >> 24) != 127)
		return -1;
	snprintf(target->server_name, sizeof(target->server_name), "localhost");
	return 0;
}

int
probe_tls_init(void)
{
	const char *errpos = NULL;
	int ret;

	ret = gnutls_global_init();
	if (ret < 0)
		return -1;
	ret = gnutls_certificate_allocate_credentials(&probe_creds);
	if (ret < 0)
		return -1;

	/* The default set (TLS 1.2 and 1.3) is what real clients offer. */
	ret = gnutls_priority_init(&probe_priority, NULL, &errpos);
	if (ret < 0)
		return -1;
	return 0;
}

void
probe_tls_deinit(void)
{
	if (probe_priority != NULL)
		gnutls_priority_deinit(probe_priority);
	if (probe_creds != NULL)
		gnutls_certificate_free_credentials(probe_creds);
	probe_priority = NULL;
	probe_creds = NULL;
	gnutls_global_deinit();
}

/* Opens a blocking TCP connection with send and receive timeouts. */
static int
probe_connect(const struct probe_target *target)
{
	struct timeval tv = { PROBE_IO_TIMEOUT_MS / 1000, (PROBE_IO_TIMEOUT_MS % 1000) * 1000 };
	int one = 1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    connect(fd, (const struct sockaddr *)&target->addr, sizeof(target->addr)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes the serial of the peer's leaf certificate as lowercase hex. */
static int
probe_peer_serial(gnutls_session_t session, char serial[PROBE_SERIAL_HEX_MAX])
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	unsigned char raw[40];
	size_t raw_len = sizeof(raw);
	unsigned int n = 0;
	int ret = -1;

	certs = gnutls_certificate_get_peers(session, &n);
	if (certs == NULL || n == 0)
		goto out;
	if (gnutls_x509_crt_init(&crt) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if (gnutls_x509_crt_get_serial(crt, raw, &raw_len) < 0)
		goto out;
	for (size_t i = 0; i < raw_len; i++)
		snprintf(serial + 2 * i, 3, "%02x", raw[i]);
	ret = 0;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

enum probe_result
probe_handshake(const struct probe_target *target, gnutls_session_t *session, int *fd,
		char serial[PROBE_SERIAL_HEX_MAX])
{
	gnutls_session_t s = NULL;
	int sock;
	int ret;

	sock = probe_connect(target);
	if (sock == -1)
		return PROBE_CONNECT_FAILED;

	/* No session data is ever set on a session, so every handshake is full. */
	if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS) < 0)
		goto fail;
	if (gnutls_priority_set(s, probe_priority) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, probe_creds) < 0 ||
	    gnutls_server_name_set(s, GNUTLS_NAME_DNS, target->server_name,
				   strlen(target->server_name)) < 0)
		goto fail;
	gnutls_transport_set_int(s, sock);
	gnutls_handshake_set_timeout(s, PROBE_IO_TIMEOUT_MS);

	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && gnutls_error_is_fatal(ret) == 0);
	if (ret < 0)
		goto fail;
	if (probe_peer_serial(s, serial) < 0)
		goto fail;

	*session = s;
	*fd = sock;
	return PROBE_OK;
fail:
	if (s != NULL)
		gnutls_deinit(s);
	close(sock);
	return PROBE_HANDSHAKE_FAILED;
}

void
probe_close(gnutls_session_t session, int fd)
{
	if (session != NULL) {
		gnutls_bye(session, GNUTLS_SHUT_WR);
		gnutls_deinit(session);
	}
	if (fd != -1)
		close(fd);
}

/* Response state filled in by the libhttp-parser callbacks. */
struct probe_response {
	bool complete;
};

static int
probe_on_message_complete(http_parser *parser)
{
	struct probe_response *r = parser->data;

	r->complete = true;
	return 0;
}

/* Sends the whole buffer, retrying on interrupts. */
static int
probe_send_all(gnutls_session_t session, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = gnutls_record_send(session, buf, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

enum probe_result
probe_request(gnutls_session_t session, const char *path)
{
	struct probe_response response = { false };
	http_parser_settings settings;
	http_parser parser;
	char buf[4096];
	size_t total = 0;
	int len;

	len = snprintf(buf, sizeof(buf),
		       "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ivicli-bench-probe\r\n"
		       "Connection: close\r\n\r\n",
		       path);
	if (len < 0 || (size_t)len >= sizeof(buf))
		return PROBE_REQUEST_FAILED;
	if (probe_send_all(session, buf, (size_t)len) < 0)
		return PROBE_REQUEST_FAILED;

	http_parser_settings_init(&settings);
	settings.on_message_complete = probe_on_message_complete;
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &response;

	/* Read until the parser has the whole message or the server closes. */
	while (!response.complete && total < PROBE_RESPONSE_MAX) {
		ssize_t n = gnutls_record_recv(session, buf, sizeof(buf));
		size_t parsed;

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0 && n != GNUTLS_E_PREMATURE_TERMINATION)
			return PROBE_REQUEST_FAILED;
		if (n <= 0) {
			/* EOF: lets the parser finish a body delimited by close. */
			http_parser_execute(&parser, &settings, buf, 0);
			break;
		}
		total += (size_t)n;
		parsed = http_parser_execute(&parser, &settings, buf, (size_t)n);
		if (parsed != (size_t)n || HTTP_PARSER_ERRNO(&parser) != HPE_OK)
			return PROBE_REQUEST_FAILED;
	}

	if (!response.complete)
		return PROBE_REQUEST_FAILED;
	return parser.status_code == 200 ? PROBE_OK : PROBE_BAD_STATUS;
}

/* Reads a whole regular file of at most PROBE_FILE_MAX bytes. */
static int
probe_read_file(const char *path, unsigned char **data, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd;
	int ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		goto out;
	if (fstat(fd, &st) == -1 || st.st_size <= 0 || st.st_size > PROBE_FILE_MAX)
		goto out;
	buf = malloc((size_t)st.st_size);
	if (buf == NULL)
		goto out;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		goto out;
	*data = buf;
	*len = (size_t)n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return ret;
}

int
probe_pair_load(struct probe_pair *pair)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem;
	unsigned char raw[40];
	size_t raw_len = sizeof(raw);
	int ret = -1;

	if (probe_read_file(pair->cert_path, &pair->cert_data, &pair->cert_len) < 0) {
		fprintf(stderr, "probe: cannot read certificate file %s\n", pair->cert_path);
		goto out;
	}
	if (pair->key_path != NULL &&
	    probe_read_file(pair->key_path, &pair->key_data, &pair->key_len) < 0) {
		fprintf(stderr, "probe: cannot read key file %s\n", pair->key_path);
		goto out;
	}

	pem.data = pair->cert_data;
	pem.size = (unsigned int)pair->cert_len;
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_get_serial(crt, raw, &raw_len) < 0) {
		fprintf(stderr, "probe: no certificate in %s\n", pair->cert_path);
		goto out;
	}
	for (size_t i = 0; i < raw_len; i++)
		snprintf(pair->serial + 2 * i, 3, "%02x", raw[i]);
	ret = 0;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

void
probe_pair_clear(struct probe_pair *pair)
{
	if (pair == NULL)
		return;
	free(pair->cert_data);
	if (pair->key_data != NULL)
		gnutls_memset(pair->key_data, 0, pair->key_len);
	free(pair->key_data);
	pair->cert_data = NULL;
	pair->key_data = NULL;
}

int
probe_pair_find(const struct probe_pair *pairs, int n, const char *serial)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(pairs[i].serial, serial) == 0)
			return i;
	}
	return -1;
}

static int
probe_compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t
probe_percentile(int64_t *values, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return -1;
	qsort(values, n, sizeof(*values), probe_compare_i64);

	/* Nearest rank: the smallest value with at least p of the samples at or below it. */
	rank = (size_t)ceil(p * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return values[rank - 1];
}
