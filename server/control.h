/*
 * The control socket: signed requests from ivicli-certwatch (ping,
 * status, reload) over a local stream transport, as specified in
 * ivicli-control(7). Only peers whose uid is allowed get a response to a
 * request. Every rejection is audited, and a bad peer only loses its own
 * connection.
 */
#ifndef SRV_CONTROL_H
#define SRV_CONTROL_H

#include <stddef.h>

struct srv;
struct srv_control;

/*
 * Loads the control key, resolves [control] allowed_users and listens on
 * [control] socket. Returns 0, or a negative ivi_err with one line in
 * errbuf (the key file missing is IVI_E_FILE_MISSING, which the caller may
 * treat as "run without a control socket").
 */
int srv_control_new(struct srv *srv, struct srv_control **out, char *errbuf, size_t errlen);

/* Stops listening, removes the socket, drops every control connection. */
void srv_control_free(struct srv_control *ctl);

#endif /* SRV_CONTROL_H */
