/*
 * Reference-counted TLS credentials. The server publishes one set as
 * "current". Each TLS connection takes a reference when it starts and
 * drops it when it closes, so a set replaced by a reload lives until its
 * last connection ends. Everything here runs on the event loop thread.
 */
#ifndef SRV_CREDS_H
#define SRV_CREDS_H

#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "ivi_bundle.h"

struct srv_creds {
	LIST_ENTRY(srv_creds) entry;
	struct srv_creds_table *table;
	unsigned long refcount;           /* table's current pointer + connections */
	uint64_t generation;              /* 1 for the set loaded at start */
	time_t loaded_at;
	struct ivi_bundle_desc desc;
	gnutls_certificate_credentials_t xcred;
};

/* Every live credentials set; the first one published has generation 1. */
struct srv_creds_table {
	struct srv_creds *current;        /* NULL when TLS is disabled */
	LIST_HEAD(, srv_creds) live;      /* current and older sets still in use */
	uint64_t last_generation;
	unsigned long live_count;
};

/* Prepares an empty table. */
void srv_creds_table_init(struct srv_creds_table *t);

/*
 * Publishes a new current set built from desc (copied) and xcred (owned
 * from now on, also on error) with the next generation number and
 * loaded_at = now. The previous current set loses the table's reference.
 * Returns 0 or IVI_E_NOMEM.
 */
int srv_creds_publish(struct srv_creds_table *t, const struct ivi_bundle_desc *desc,
    gnutls_certificate_credentials_t xcred, time_t now);

/* Takes a reference to the current set; NULL when there is none. */
struct srv_creds *srv_creds_acquire(struct srv_creds_table *t);

/* Drops a reference and frees the set when it was the last; NULL is allowed. */
void srv_creds_release(struct srv_creds *c);

/* Returns the number of connections holding c. */
unsigned long srv_creds_connections(const struct srv_creds *c);

/* Returns the number of connections holding a set other than the current one. */
unsigned long srv_creds_older_connections(const struct srv_creds_table *t);

/* Drops the table's reference to the current set (at shutdown). */
void srv_creds_table_clear(struct srv_creds_table *t);

#endif /* SRV_CREDS_H */
