/*
 * The decision engine of `ivicli-certwatch watch`. It turns "something
 * may have changed" into at most one reload per new valid set. After a
 * quiet period it hashes the configured files, loads and validates them
 * with the bundle loader, and sends a signed reload when the set is
 * complete, valid and different from what the server serves.
 * Incomplete sets are retried with backoff, invalid ones are reported once
 * per content, and an unreachable server is retried until it is back.
 */
#ifndef CW_ENGINE_H
#define CW_ENGINE_H

#include <ev.h>

#include "ivi_config.h"
#include "ivi_proto.h"

struct cw_engine;

/*
 * Creates the engine on loop and takes ownership of cfg and key. on_ready
 * runs once, after the watches are armed and the first reconcile with the
 * server is done or is being retried. Nothing happens until
 * cw_engine_start. Returns 0 or a negative ivi_err; on error cfg and key
 * are freed.
 */
int cw_engine_new(struct ev_loop *loop, struct ivi_config *cfg, struct ivi_key *key,
    void (*on_ready)(void *arg), void *arg, struct cw_engine **out);

/* Arms the watches, requests the server's status and reconciles. */
void cw_engine_start(struct cw_engine *e);

/*
 * Replaces the config and key (ownership taken; the old ones are freed),
 * applies the new polling settings, re-arms the watches and reconciles
 * again. Returns 0.
 */
int cw_engine_reconfigure(struct cw_engine *e, struct ivi_config *cfg, struct ivi_key *key);

/* Stops every watcher and frees e, its config and key; NULL is allowed. */
void cw_engine_free(struct cw_engine *e);

#endif /* CW_ENGINE_H */
