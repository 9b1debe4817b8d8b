/*
 * bench/probe: the benchmark's TLS client. It times certificate rotations
 * (rename to the first fresh handshake that presents the new serial) and
 * drives new-connection HTTPS load, against our server and the peers
 * alike. Every handshake is a full one, because the client keeps no
 * session data and so never resumes a session.
 */
#ifndef IVI_BENCH_PROBE_H
#define IVI_BENCH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <netinet/in.h>

/* Hard bounds that keep every run finite, whatever the options request. */
#define PROBE_MAX_PAIRS 16
#define PROBE_MAX_ROTATIONS 100000
#define PROBE_MAX_THREADS 16
#define PROBE_MAX_DEADLINE_S 3600
#define PROBE_IO_TIMEOUT_MS 5000
#define PROBE_SERIAL_HEX_MAX 81  /* 40 serial bytes as hex plus NUL */

/* Connection target: loopback address, port and SNI name. */
struct probe_target {
	struct sockaddr_in addr;
	char server_name[64];
};

/* One certificate generation the rotations cycle through. */
struct probe_pair {
	char *cert_path;           /* PEM chain, leaf first (or leaf + key for HAProxy) */
	char *key_path;            /* PEM key; NULL when cert_path contains the key too */
	char serial[PROBE_SERIAL_HEX_MAX];
	unsigned char *cert_data;  /* file bytes, read once before any timing */
	size_t cert_len;
	unsigned char *key_data;
	size_t key_len;
};

/* Outcome of one handshake attempt. */
enum probe_result {
	PROBE_OK = 0,
	PROBE_CONNECT_FAILED = -1,
	PROBE_HANDSHAKE_FAILED = -2,
	PROBE_REQUEST_FAILED = -3,
	PROBE_BAD_STATUS = -4,
};

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t probe_now_ns(void);

/* Sleeps for ms milliseconds (restarts after signals). */
void probe_sleep_ms(long ms);

/* Parses "HOST:PORT" (IPv4 loopback only) into target. Returns 0 or -1. */
int probe_target_parse(const char *spec, struct probe_target *target);

/* Loads client credentials and the priority cache. Returns 0 or -1. */
int probe_tls_init(void);

/* Releases what probe_tls_init() set up. */
void probe_tls_deinit(void);

/*
 * Connects to target and performs a full TLS handshake. On PROBE_OK,
 * *session and *fd belong to the caller (probe_close() them) and serial
 * contains the leaf certificate's serial in lowercase hex.
 */
enum probe_result probe_handshake(const struct probe_target *target, gnutls_session_t *session,
				  int *fd, char serial[PROBE_SERIAL_HEX_MAX]);

/* Sends close_notify (best effort), then frees the session and closes fd. */
void probe_close(gnutls_session_t session, int fd);

/*
 * Sends "GET path" with Connection: close on an established session and
 * reads the response with libhttp-parser. Returns PROBE_OK for a complete
 * 200 response, PROBE_BAD_STATUS for another status, PROBE_REQUEST_FAILED
 * for an I/O error or an incomplete response.
 */
enum probe_result probe_request(gnutls_session_t session, const char *path);

/*
 * Reads pair->cert_path (and key_path) into memory and stores the serial
 * of the first certificate. Returns 0 or -1 with a message on stderr.
 */
int probe_pair_load(struct probe_pair *pair);

/* Frees what probe_pair_load() allocated; NULL is allowed. */
void probe_pair_clear(struct probe_pair *pair);

/* Returns the index of serial in pairs, or -1 when no pair has it. */
int probe_pair_find(const struct probe_pair *pairs, int n, const char *serial);

/* Sorts n values and returns the nearest-rank percentile p (0 < p <= 1). */
int64_t probe_percentile(int64_t *values, size_t n, double p);

/* Mode entry points; each returns a process exit status. */
int probe_cmd_latency(int argc, char **argv);
int probe_cmd_load(int argc, char **argv);
int probe_cmd_port(int argc, char **argv);

#endif /* IVI_BENCH_PROBE_H */
