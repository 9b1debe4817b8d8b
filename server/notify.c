/* sd_notify(3) messages for Type=notify services. */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "ivi_log.h"
#include "notify.h"

/* Sends state; a failure only costs the service manager's view, so it is logged at debug. */
static void
notify_send(const char *state)
{
	int ret;

	ret = sd_notify(0, state);
	if (ret < 0)
		log_debug("systemd: sd_notify failed (error %d)", -ret);
}

void
srv_notify_ready(const char *status)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(msg);
}

void
srv_notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd matches RELOADING=1 with the CLOCK_MONOTONIC time of the request. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void
srv_notify_stopping(void)
{
	notify_send("STOPPING=1");
}
