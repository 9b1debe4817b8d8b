/*
 * bench/probe: entry point. Modes:
 *   probe latency ...  time certificate rotations (probe_latency.c)
 *   probe load ...     new-connection HTTPS load (probe_load.c)
 *   probe port         print a free TCP port on 127.0.0.1
 * Results go to stdout as key=value lines for bench/run; diagnostics go
 * to stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

int
probe_cmd_port(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	(void)argc;
	(void)argv;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* The kernel picks a free port; the caller binds it right after. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("probe: cannot find a free port");
		if (fd != -1)
			close(fd);
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: probe latency|load|port [OPTIONS]\n");
		return 64;
	}
	if (strcmp(argv[1], "port") == 0)
		return probe_cmd_port(argc - 1, argv + 1);

	if (probe_tls_init() < 0) {
		fprintf(stderr, "probe: GnuTLS initialisation failed\n");
		return 1;
	}
	if (strcmp(argv[1], "latency") == 0) {
		status = probe_cmd_latency(argc - 1, argv + 1);
	} else if (strcmp(argv[1], "load") == 0) {
		status = probe_cmd_load(argc - 1, argv + 1);
	} else {
		fprintf(stderr, "probe: unknown mode %s (expected latency, load or port)\n", argv[1]);
		status = 64;
	}
	probe_tls_deinit();
	return status;
}
