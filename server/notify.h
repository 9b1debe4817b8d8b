/*
 * Service manager notifications through sd_notify(3). Each call does
 * nothing when NOTIFY_SOCKET is unset, so the server behaves the same
 * outside systemd.
 */
#ifndef SRV_NOTIFY_H
#define SRV_NOTIFY_H

/* Reports that the server serves requests (READY=1) with a STATUS= line. */
void srv_notify_ready(const char *status);

/* Reports the start of a reload (RELOADING=1 with MONOTONIC_USEC=). */
void srv_notify_reloading(void);

/* Reports the start of a graceful stop (STOPPING=1). */
void srv_notify_stopping(void);

#endif /* SRV_NOTIFY_H */
