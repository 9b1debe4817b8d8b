/*
 * Credential reloads. A reload re-reads the configured files, validates
 * them and builds new GnuTLS credentials on a worker thread. The thread
 * keeps the event loop serving while a PKCS#12 file written by certtool
 * (600,000 PBKDF2 iterations) takes a few hundred milliseconds of CPU to
 * decrypt. The result
 * comes back to the loop through an ev_async watcher, where the new set is
 * published with one pointer swap. Reloads run one at a time, in order.
 */
#ifndef SRV_RELOAD_H
#define SRV_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "ivi_bundle.h"

struct srv;
struct srv_reload;
struct srv_reload_job;

enum srv_reload_trigger {
	SRV_RELOAD_SIGNAL,   /* SIGHUP */
	SRV_RELOAD_CONTROL,  /* a reload request on the control socket */
};

/* Outcome of a finished reload, passed to the requester's callback. */
struct srv_reload_result {
	int err;                             /* 0 or a negative ivi_err */
	bool changed;                        /* false: files identical to what is served */
	uint64_t generation;                 /* served after the reload */
	const struct ivi_bundle_desc *desc;  /* served after the reload */
	const struct ivi_bundle_error *error; /* when err != 0 */
};

typedef void (*srv_reload_done_fn)(void *arg, const struct srv_reload_result *result);

/*
 * Starts the worker thread and registers the completion watcher on
 * srv->loop. Returns 0 or a negative ivi_err.
 */
int srv_reload_new(struct srv *srv, struct srv_reload **out);

/*
 * Queues a reload. fingerprint (may be NULL) is the leaf the requester
 * validated; the reload fails with stale_fingerprint when the files now
 * hold another one. done (may be NULL) runs on the loop when the reload
 * has finished; *jobp (may be NULL) lets the requester cancel that call.
 * A SIGHUP while another SIGHUP reload waits is merged into it. Returns
 * 0, or IVI_E_BUSY when too many reloads wait.
 */
int srv_reload_submit(struct srv_reload *r, enum srv_reload_trigger trigger,
    const char *fingerprint, srv_reload_done_fn done, void *arg, struct srv_reload_job **jobp);

/* Drops the completion call of job; the reload itself still runs. */
void srv_reload_forget(struct srv_reload_job *job);

/* Returns true while a reload runs or waits. */
bool srv_reload_busy(const struct srv_reload *r);

/* Waits for the running reload, stops the thread and frees r; NULL is allowed. */
void srv_reload_free(struct srv_reload *r);

#endif /* SRV_RELOAD_H */
