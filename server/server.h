/*
 * The server's shared state: one struct srv per process, owned by the
 * event loop thread. Each module keeps its own private state and reaches
 * the rest through this struct.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <ev.h>
#include <gnutls/gnutls.h>

#include "ivi_config.h"
#include "ivi_log.h"
#include "audit.h"
#include "creds.h"
#include "http.h"

#define SRV_MAX_LISTENERS 2
/* Connections over max_connections that still get a 503 before closing. */
#define SRV_BUSY_RESERVE 16
/* Seconds open requests get to finish after SIGTERM or SIGINT. */
#define SRV_GRACE_SECONDS 10.0
/* Seconds to wait after EMFILE/ENFILE before accepting again. */
#define SRV_ACCEPT_RETRY_SECONDS 0.25

struct srv_conn;
struct srv_listener;
struct srv_reload;
struct srv_control;

/* Status codes counted for /metrics, in this order. */
enum srv_status_slot {
	SRV_SLOT_200, SRV_SLOT_400, SRV_SLOT_404, SRV_SLOT_405, SRV_SLOT_408,
	SRV_SLOT_413, SRV_SLOT_431, SRV_SLOT_500, SRV_SLOT_503, SRV_SLOT_505, SRV_SLOT_COUNT
};

struct srv_stats {
	unsigned long long accepted;
	unsigned long long handshakes;           /* completed, resumed ones included */
	unsigned long long handshakes_resumed;
	unsigned long long handshake_failures;
	unsigned long long rejected_over_limit;  /* closed without a response */
	unsigned long long responses[SRV_SLOT_COUNT];
};

/* Outcome of reloads, reported by /v1/tls, /metrics and the status request. */
struct srv_reload_state {
	unsigned long long ok;
	unsigned long long rejected;
	unsigned long long unchanged;
	const char *last_result;          /* "ok", "rejected", "unchanged"; NULL before the first */
	char last_code[48];               /* "" unless rejected */
	time_t last_time;
	bool have_rejected;
	char rejected_fingerprint[65];    /* "" when the candidate could not be parsed */
	char rejected_code[48];
	char rejected_message[512];
	time_t rejected_time;
};

struct srv {
	struct ev_loop *loop;
	const struct ivi_config *cfg;
	bool tls_enabled;
	bool self_signed;
	bool client_required;
	gnutls_priority_t priority;
	gnutls_datum_t ticket_key;
	struct srv_creds_table creds;
	struct srv_reload_state reload_state;
	struct srv_stats stats;
	struct srv_http_limits limits;

	struct srv_listener *listeners[SRV_MAX_LISTENERS];
	size_t n_listeners;
	ev_timer accept_retry;

	TAILQ_HEAD(srv_conn_list, srv_conn) conns;
	unsigned long n_conns;            /* every open connection, busy ones included */
	unsigned long n_busy;             /* connections that get a 503 response */

	struct srv_reload *reload;
	struct srv_control *control;
	struct srv_audit audit;

	ev_signal sig_term;
	ev_signal sig_int;
	ev_signal sig_hup;
	ev_timer grace_timer;
	bool draining;
	int exit_status;

	struct ivi_ratelimit rl_accept;   /* accept() failures */
	struct ivi_ratelimit rl_tls;      /* handshake failures */
	struct ivi_ratelimit rl_http;     /* requests rejected with an error status */
};

/*
 * Runs the server with cfg (already validated, command-line overrides
 * applied) until SIGTERM or SIGINT. address_file (may be NULL) receives
 * the bound addresses once listening. Returns a sysexits(3) status; a
 * startup failure prints one line first.
 */
int srv_main(const struct ivi_config *cfg, const char *address_file);

/*
 * Checks what a start would check without serving: the TLS priority
 * string, the certificate bundle and the control key. Prints one line and
 * returns a sysexits(3) status.
 */
int srv_check_config(const struct ivi_config *cfg);

/* Counts one response with status for /metrics. */
void srv_stats_count_status(struct srv *srv, int status);

/*
 * Replaces the session ticket key, so that tickets issued before (which
 * resume without client certificate verification) fall back to a full
 * handshake. Sessions copy the key, so open ones are not affected.
 */
void srv_rotate_ticket_key(struct srv *srv);

/* Called by conn.c after a connection closed: ends the loop once drained. */
void srv_conn_closed(struct srv *srv);

#endif /* SRV_SERVER_H */
