/*
 * probe latency: rotates the served certificate through a cycle of pairs
 * and times each rotation from the rename of the new files to the first
 * full handshake that presents the new serial.
 *
 * Each rotation stages the next pair in a directory outside the watched
 * one and takes t0 on CLOCK_MONOTONIC. It then renames the certificate and
 * the key into place and fires the trigger (none when a watcher reacts to
 * the rename). Fresh handshakes follow until the new serial appears. After
 * the cut-over the probe keeps handshaking for the gap and counts every
 * handshake that still presents an older certificate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

extern char **environ;

enum trigger_kind {
	TRIGGER_NONE,     /* a watcher reacts to the rename by itself */
	TRIGGER_EXEC,     /* run a command (nginx -s reload, ivicli-certwatch notify) */
	TRIGGER_SIGNAL,   /* send SIGHUP to a pid */
	TRIGGER_HAPROXY,  /* set ssl cert + commit ssl cert on the stats socket */
};

struct latency_opts {
	struct probe_target target;
	struct probe_pair pairs[PROBE_MAX_PAIRS];
	int n_pairs;
	char *dest_cert;
	char *dest_key;
	char *stage_dir;
	long rotations;
	long timeout_ms;
	long gap_ms;
	long deadline_s;
	enum trigger_kind trigger;
	char **exec_argv;
	pid_t signal_pid;
	char *haproxy_socket;
	char *out_path;
};

struct latency_stats {
	long done;               /* rotations whose new serial was seen */
	long timeouts;           /* rotations not seen within timeout_ms */
	long handshake_failures; /* connect or TLS handshake errors */
	long old_after_new;      /* old serial after the new one was presented */
	long trigger_failures;   /* trigger command or socket command failed */
	long handshakes;
	int64_t *latency_ns;     /* one per done rotation */
};

static volatile sig_atomic_t latency_stop;

static void
latency_on_signal(int sig)
{
	(void)sig;
	latency_stop = 1;
}

/* Splits "A,B" at the comma: *first = A, *second = B or NULL. */
static int
latency_split(const char *arg, char **first, char **second)
{
	const char *comma = strchr(arg, ',');

	if (comma == NULL) {
		*first = strdup(arg);
		*second = NULL;
		return *first == NULL ? -1 : 0;
	}
	*first = strndup(arg, (size_t)(comma - arg));
	*second = strdup(comma + 1);
	return (*first == NULL || *second == NULL) ? -1 : 0;
}

static long
latency_number(const char *arg, long min, long max)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end != '\0' || v < min || v > max)
		return -1;
	return v;
}

static void
latency_usage(void)
{
	fprintf(stderr,
		"usage: probe latency --connect 127.0.0.1:PORT --pair CERT[,KEY] --pair CERT[,KEY]...\n"
		"           --dest CERT[,KEY] --stage DIR [--rotations N] [--timeout-ms MS]\n"
		"           [--gap-ms MS] [--deadline-s S] [--out FILE]\n"
		"           [--trigger-signal PID | --trigger-haproxy SOCKET | --trigger-exec -- CMD...]\n");
}

static int
latency_parse(int argc, char **argv, struct latency_opts *o)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "pair", required_argument, NULL, 'p' },
		{ "dest", required_argument, NULL, 'd' },
		{ "stage", required_argument, NULL, 's' },
		{ "rotations", required_argument, NULL, 'n' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "deadline-s", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "trigger-signal", required_argument, NULL, 'S' },
		{ "trigger-haproxy", required_argument, NULL, 'H' },
		{ "trigger-exec", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->rotations = 200;
	o->timeout_ms = 5000;
	o->gap_ms = 20;
	o->deadline_s = 600;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (probe_target_parse(optarg, &o->target) < 0) {
				fprintf(stderr, "probe: invalid --connect %s (expected 127.x.x.x:PORT)\n", optarg);
				return -1;
			}
			break;
		case 'p':
			if (o->n_pairs == PROBE_MAX_PAIRS)
				return -1;
			if (latency_split(optarg, &o->pairs[o->n_pairs].cert_path,
					  &o->pairs[o->n_pairs].key_path) < 0)
				return -1;
			o->n_pairs++;
			break;
		case 'd':
			if (latency_split(optarg, &o->dest_cert, &o->dest_key) < 0)
				return -1;
			break;
		case 's':
			o->stage_dir = optarg;
			break;
		case 'n':
			o->rotations = latency_number(optarg, 1, PROBE_MAX_ROTATIONS);
			break;
		case 't':
			o->timeout_ms = latency_number(optarg, 1, 600000);
			break;
		case 'g':
			o->gap_ms = latency_number(optarg, 0, 60000);
			break;
		case 'D':
			o->deadline_s = latency_number(optarg, 1, PROBE_MAX_DEADLINE_S);
			break;
		case 'o':
			o->out_path = optarg;
			break;
		case 'S':
			o->trigger = TRIGGER_SIGNAL;
			o->signal_pid = (pid_t)latency_number(optarg, 2, 1 << 30);
			break;
		case 'H':
			o->trigger = TRIGGER_HAPROXY;
			o->haproxy_socket = optarg;
			break;
		case 'E':
			o->trigger = TRIGGER_EXEC;
			break;
		default:
			return -1;
		}
	}
	if (o->trigger == TRIGGER_EXEC) {
		if (optind >= argc)
			return -1;
		o->exec_argv = argv + optind;
	} else if (optind != argc) {
		return -1;
	}
	if (o->rotations < 0 || o->timeout_ms < 0 || o->gap_ms < 0 || o->deadline_s < 0 ||
	    o->signal_pid < 0)
		return -1;
	if (o->target.addr.sin_port == 0 || o->n_pairs < 2 || o->dest_cert == NULL ||
	    o->stage_dir == NULL)
		return -1;
	if ((o->dest_key == NULL) != (o->pairs[0].key_path == NULL))
		return -1;
	return 0;
}

/* Writes len bytes to path (created with mode), replacing what was there. */
static int
latency_write_file(const char *path, const unsigned char *data, size_t len, mode_t mode)
{
	int fd;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	n = write(fd, data, len);
	if (close(fd) == -1 || n != (ssize_t)len)
		return -1;
	return 0;
}

/* Sends one command to the HAProxy CLI socket; true when reply contains expect. */
static bool
latency_haproxy_command(const char *socket_path, const char *cmd, size_t len, const char *expect)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { PROBE_IO_TIMEOUT_MS / 1000, 0 };
	char reply[4096];
	size_t got = 0;
	bool ok = false;
	int fd;

	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return false;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto out;
	while (len > 0) {
		ssize_t n = write(fd, cmd, len);

		if (n <= 0)
			goto out;
		cmd += n;
		len -= (size_t)n;
	}

	/* HAProxy sends its reply and closes the connection (non-interactive mode). */
	for (;;) {
		ssize_t n = read(fd, reply + got, sizeof(reply) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(reply) - 1)
			break;
	}
	reply[got] = '\0';
	ok = strstr(reply, expect) != NULL;
	if (!ok)
		fprintf(stderr, "probe: HAProxy replied: %s\n", reply);
out:
	close(fd);
	return ok;
}

/* Pushes pair's PEM (certificate and key) through the runtime API. */
static bool
latency_haproxy_push(const struct latency_opts *o, const struct probe_pair *pair)
{
	char head[1024];
	char *cmd;
	size_t len;
	int hl;
	bool ok;

	hl = snprintf(head, sizeof(head), "set ssl cert %s <<\n", o->dest_cert);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return false;

	/* The payload ends at the first empty line. */
	len = (size_t)hl + pair->cert_len + 2;
	cmd = malloc(len);
	if (cmd == NULL)
		return false;
	memcpy(cmd, head, (size_t)hl);
	memcpy(cmd + hl, pair->cert_data, pair->cert_len);
	memcpy(cmd + hl + pair->cert_len, "\n\n", 2);
	if (pair->cert_data[pair->cert_len - 1] == '\n')
		len--;
	ok = latency_haproxy_command(o->haproxy_socket, cmd, len, "Transaction");
	gnutls_memset(cmd, 0, len);
	free(cmd);
	if (!ok)
		return false;

	hl = snprintf(head, sizeof(head), "commit ssl cert %s\n", o->dest_cert);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return false;
	return latency_haproxy_command(o->haproxy_socket, head, (size_t)hl, "Success");
}

/* Starts the trigger command with its stdout sent to our stderr. */
static pid_t
latency_spawn(char **argv)
{
	posix_spawn_file_actions_t actions;
	pid_t pid = -1;

	if (posix_spawn_file_actions_init(&actions) != 0)
		return -1;
	posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
	if (posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&actions);
	return pid;
}

/* Reaps the trigger command; false when it failed or ran past timeout_ms. */
static bool
latency_reap(pid_t pid, long timeout_ms)
{
	int64_t end = probe_now_ns() + (int64_t)timeout_ms * 1000000;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (r == -1 && errno != EINTR)
			return false;
		if (probe_now_ns() > end) {
			fprintf(stderr, "probe: trigger command %d still running after %ld ms; stopping it\n",
				(int)pid, timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		probe_sleep_ms(1);
	}
}

/* One fresh handshake; returns the pair index presented, or -1. */
static int
latency_probe_once(const struct latency_opts *o, struct latency_stats *st)
{
	char serial[PROBE_SERIAL_HEX_MAX] = "";
	gnutls_session_t session;
	int fd;

	st->handshakes++;
	if (probe_handshake(&o->target, &session, &fd, serial) != PROBE_OK) {
		st->handshake_failures++;
		probe_sleep_ms(1);
		return -1;
	}
	probe_close(session, fd);
	return probe_pair_find(o->pairs, o->n_pairs, serial);
}

/* Stages pair next, renames it into place and fires the trigger; t0 out. */
static int
latency_install(const struct latency_opts *o, int next, int64_t *t0, pid_t *child)
{
	const struct probe_pair *p = &o->pairs[next];
	char stage_cert[4096];
	char stage_key[4096];

	*t0 = probe_now_ns();
	*child = -1;
	snprintf(stage_cert, sizeof(stage_cert), "%s/cert.new", o->stage_dir);
	snprintf(stage_key, sizeof(stage_key), "%s/key.new", o->stage_dir);
	if (latency_write_file(stage_cert, p->cert_data, p->cert_len, 0644) < 0)
		return -1;
	if (p->key_data != NULL && latency_write_file(stage_key, p->key_data, p->key_len, 0600) < 0)
		return -1;

	*t0 = probe_now_ns();
	if (rename(stage_cert, o->dest_cert) == -1)
		return -1;
	if (p->key_data != NULL && rename(stage_key, o->dest_key) == -1)
		return -1;

	switch (o->trigger) {
	case TRIGGER_NONE:
		break;
	case TRIGGER_EXEC:
		*child = latency_spawn(o->exec_argv);
		if (*child == -1)
			return -1;
		break;
	case TRIGGER_SIGNAL:
		if (kill(o->signal_pid, SIGHUP) == -1)
			return -1;
		break;
	case TRIGGER_HAPROXY:
		if (!latency_haproxy_push(o, p))
			return -1;
		break;
	}
	return 0;
}

/* Loops handshakes until pair next is served or the timeout; latency out. */
static bool
latency_wait_for(const struct latency_opts *o, struct latency_stats *st, int next, int64_t t0,
		 int64_t *latency)
{
	int64_t end = t0 + (int64_t)o->timeout_ms * 1000000;

	while (!latency_stop && probe_now_ns() < end) {
		if (latency_probe_once(o, st) == next) {
			*latency = probe_now_ns() - t0;
			return true;
		}
	}
	return false;
}

/* Handshakes through the gap after a cut-over, counting older serials. */
static void
latency_watch_gap(const struct latency_opts *o, struct latency_stats *st, int current)
{
	int64_t end = probe_now_ns() + (int64_t)o->gap_ms * 1000000;

	while (!latency_stop && probe_now_ns() < end) {
		int seen = latency_probe_once(o, st);

		if (seen >= 0 && seen != current)
			st->old_after_new++;
	}
}

/* Finds which pair is served now; -1 when none of them is. */
static int
latency_served(const struct latency_opts *o, struct latency_stats *st)
{
	for (int i = 0; i < 50 && !latency_stop; i++) {
		int idx = latency_probe_once(o, st);

		if (idx >= 0)
			return idx;
		probe_sleep_ms(100);
	}
	return -1;
}

static int
latency_run(const struct latency_opts *o, struct latency_stats *st, FILE *out)
{
	int64_t deadline = probe_now_ns() + (int64_t)o->deadline_s * 1000000000;
	int current;

	current = latency_served(o, st);
	if (current < 0) {
		fprintf(stderr, "probe: the server presents none of the given certificates\n");
		return -1;
	}

	for (long i = 0; i < o->rotations && !latency_stop; i++) {
		int next = (current + 1) % o->n_pairs;
		int64_t t0;
		int64_t latency;
		pid_t child;

		if (probe_now_ns() > deadline) {
			fprintf(stderr, "probe: deadline of %ld s reached after %ld rotations\n",
				o->deadline_s, i);
			break;
		}
		if (latency_install(o, next, &t0, &child) < 0) {
			fprintf(stderr, "probe: rotation %ld: installing or triggering failed (%s)\n", i,
				strerror(errno));
			st->trigger_failures++;
		}

		if (latency_wait_for(o, st, next, t0, &latency)) {
			st->latency_ns[st->done++] = latency;
			if (out != NULL)
				fprintf(out, "%lld\n", (long long)(latency / 1000));
			current = next;
		} else {
			st->timeouts++;
			fprintf(stderr, "probe: rotation %ld: serial %s not served within %ld ms\n", i,
				o->pairs[next].serial, o->timeout_ms);
		}
		if (child != -1 && !latency_reap(child, o->timeout_ms))
			st->trigger_failures++;
		if (current != next) {
			current = latency_served(o, st);
			if (current < 0)
				return -1;
			continue;
		}
		latency_watch_gap(o, st, current);
	}
	return 0;
}

static void
latency_report(const struct latency_opts *o, struct latency_stats *st, double elapsed_s)
{
	printf("rotations=%ld\n", o->rotations);
	printf("done=%ld\n", st->done);
	printf("timeouts=%ld\n", st->timeouts);
	printf("handshakes=%ld\n", st->handshakes);
	printf("handshake_failures=%ld\n", st->handshake_failures);
	printf("old_after_new=%ld\n", st->old_after_new);
	printf("trigger_failures=%ld\n", st->trigger_failures);
	printf("elapsed_s=%.3f\n", elapsed_s);
	if (st->done > 0) {
		printf("p50_us=%.1f\n", probe_percentile(st->latency_ns, (size_t)st->done, 0.50) / 1e3);
		printf("p99_us=%.1f\n", probe_percentile(st->latency_ns, (size_t)st->done, 0.99) / 1e3);
		printf("max_us=%.1f\n", probe_percentile(st->latency_ns, (size_t)st->done, 1.0) / 1e3);
	}
}

int
probe_cmd_latency(int argc, char **argv)
{
	struct latency_opts o;
	struct latency_stats st;
	struct sigaction sa;
	FILE *out = NULL;
	int64_t start;
	int status = 1;

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	if (latency_parse(argc, argv, &o) < 0) {
		latency_usage();
		status = 64;
		goto out;
	}
	for (int i = 0; i < o.n_pairs; i++) {
		if (probe_pair_load(&o.pairs[i]) < 0)
			goto out;
	}
	st.latency_ns = calloc((size_t)o.rotations, sizeof(*st.latency_ns));
	if (st.latency_ns == NULL)
		goto out;
	if (o.out_path != NULL) {
		out = fopen(o.out_path, "w");
		if (out == NULL) {
			fprintf(stderr, "probe: cannot write %s (%s)\n", o.out_path, strerror(errno));
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = latency_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	start = probe_now_ns();
	if (latency_run(&o, &st, out) == 0)
		status = 0;
	latency_report(&o, &st, (double)(probe_now_ns() - start) / 1e9);
out:
	if (out != NULL)
		fclose(out);
	for (int i = 0; i < o.n_pairs; i++) {
		probe_pair_clear(&o.pairs[i]);
		free(o.pairs[i].cert_path);
		free(o.pairs[i].key_path);
	}
	free(o.dest_cert);
	free(o.dest_key);
	free(st.latency_ns);
	return status;
}
