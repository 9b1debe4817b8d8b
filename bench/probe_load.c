/*
 * probe load: continuous new-connection HTTPS load. Each thread connects,
 * performs a full handshake, sends one GET with Connection: close, reads
 * the response and closes, until the duration, the request cap or SIGTERM.
 *
 * With --pair it also classifies the served serials against the rotation
 * cycle. A handshake counts as "old after new" when it presents an older
 * certificate although it started after another handshake had already
 * completed with the newer one. A handshake that started before that
 * moment straddled the swap. It is counted apart, because a server may
 * legitimately finish it with the credentials it began with.
 */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

struct load_opts {
	struct probe_target target;
	const char *path;
	struct probe_pair pairs[PROBE_MAX_PAIRS];
	int n_pairs;
	long threads;
	long duration_s;
	long max_requests;
};

struct load_state {
	const struct load_opts *opts;
	int64_t end_ns;
	pthread_mutex_t lock;

	/* Counters, all under lock. */
	long attempts;
	long ok;
	long handshake_failures;  /* TCP connect or TLS handshake failed */
	long request_failures;    /* handshake done, no complete 200 response */
	long old_after_new;
	long straddling;
	long unknown_serial;
	long generations;         /* serial changes seen, in cycle order */

	/* Rotation tracking: current generation and when each was first seen. */
	bool have_generation;
	long generation;
	int generation_index;
	int64_t first_seen_ns[PROBE_MAX_PAIRS];
};

static volatile sig_atomic_t load_stop;

static void
load_on_signal(int sig)
{
	(void)sig;
	load_stop = 1;
}

/*
 * Places one handshake's serial in the rotation cycle. A step forward of up
 * to half the cycle is a newer generation, and a larger step is an older
 * one. This is sound while rotations wait for each cut-over, because then
 * no observer falls more than one or two generations behind.
 */
static void
load_classify(struct load_state *s, const char *serial, int64_t start_ns, int64_t done_ns)
{
	int n = s->opts->n_pairs;
	int idx;
	int step;

	idx = probe_pair_find(s->opts->pairs, n, serial);
	if (idx < 0) {
		s->unknown_serial++;
		return;
	}
	if (!s->have_generation) {
		s->have_generation = true;
		s->generation = 0;
		s->generation_index = idx;
		s->first_seen_ns[0] = done_ns;
		return;
	}

	step = (idx - s->generation_index + n) % n;
	if (step == 0)
		return;
	if (step <= n / 2) {
		for (int k = 1; k <= step; k++)
			s->first_seen_ns[(s->generation + k) % n] = done_ns;
		s->generation += step;
		s->generation_index = idx;
		s->generations += step;
		return;
	}

	/* Older: did the successor of its generation already show before it started? */
	long successor = s->generation - (n - step) + 1;

	if (start_ns > s->first_seen_ns[successor % n])
		s->old_after_new++;
	else
		s->straddling++;
}

/* Runs one connection: handshake, request, close. */
static void
load_one(struct load_state *s)
{
	char serial[PROBE_SERIAL_HEX_MAX] = "";
	gnutls_session_t session;
	enum probe_result r;
	int64_t start;
	int fd;

	start = probe_now_ns();
	r = probe_handshake(&s->opts->target, &session, &fd, serial);
	if (r != PROBE_OK) {
		pthread_mutex_lock(&s->lock);
		s->handshake_failures++;
		pthread_mutex_unlock(&s->lock);
		probe_sleep_ms(1);
		return;
	}
	if (s->opts->n_pairs > 0) {
		int64_t done = probe_now_ns();

		pthread_mutex_lock(&s->lock);
		load_classify(s, serial, start, done);
		pthread_mutex_unlock(&s->lock);
	}

	r = probe_request(session, s->opts->path);
	probe_close(session, fd);

	pthread_mutex_lock(&s->lock);
	if (r == PROBE_OK)
		s->ok++;
	else
		s->request_failures++;
	pthread_mutex_unlock(&s->lock);
}

/* Claims the next request slot; false once the run should end. */
static bool
load_claim(struct load_state *s)
{
	bool go;

	if (load_stop || probe_now_ns() >= s->end_ns)
		return false;
	pthread_mutex_lock(&s->lock);
	go = s->attempts < s->opts->max_requests;
	if (go)
		s->attempts++;
	pthread_mutex_unlock(&s->lock);
	return go;
}

static void *
load_thread(void *arg)
{
	struct load_state *s = arg;

	while (load_claim(s))
		load_one(s);
	return NULL;
}

static int
load_parse(int argc, char **argv, struct load_opts *o)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "path", required_argument, NULL, 'P' },
		{ "pair", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration-s", required_argument, NULL, 'd' },
		{ "max-requests", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	o->path = "/";
	o->threads = 1;
	o->duration_s = 10;
	o->max_requests = 1000000;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (probe_target_parse(optarg, &o->target) < 0)
				return -1;
			break;
		case 'P':
			o->path = optarg;
			break;
		case 'p':
			if (o->n_pairs == PROBE_MAX_PAIRS)
				return -1;
			o->pairs[o->n_pairs++].cert_path = optarg;
			break;
		case 't':
			o->threads = strtol(optarg, &end, 10);
			if (*end != '\0' || o->threads < 1 || o->threads > PROBE_MAX_THREADS)
				return -1;
			break;
		case 'd':
			o->duration_s = strtol(optarg, &end, 10);
			if (*end != '\0' || o->duration_s < 1 || o->duration_s > PROBE_MAX_DEADLINE_S)
				return -1;
			break;
		case 'm':
			o->max_requests = strtol(optarg, &end, 10);
			if (*end != '\0' || o->max_requests < 1 || o->max_requests > 100000000)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || o->target.addr.sin_port == 0 || o->n_pairs == 1)
		return -1;
	return 0;
}

static void
load_report(const struct load_state *s, double elapsed_s)
{
	printf("requests=%ld\n", s->attempts);
	printf("ok=%ld\n", s->ok);
	printf("handshake_failures=%ld\n", s->handshake_failures);
	printf("request_failures=%ld\n", s->request_failures);
	printf("old_after_new=%ld\n", s->old_after_new);
	printf("straddling=%ld\n", s->straddling);
	printf("unknown_serial=%ld\n", s->unknown_serial);
	printf("generations=%ld\n", s->generations);
	printf("elapsed_s=%.3f\n", elapsed_s);
	printf("rps=%.1f\n", elapsed_s > 0 ? (double)s->ok / elapsed_s : 0.0);
}

int
probe_cmd_load(int argc, char **argv)
{
	pthread_t tids[PROBE_MAX_THREADS];
	struct load_opts o;
	struct load_state s;
	struct sigaction sa;
	long started = 0;
	int64_t start;
	int status = 1;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	if (load_parse(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: probe load --connect 127.0.0.1:PORT [--path PATH] [--threads N]\n"
			"           [--duration-s S] [--max-requests N] [--pair CERT --pair CERT...]\n");
		return 64;
	}
	for (int i = 0; i < o.n_pairs; i++) {
		if (probe_pair_load(&o.pairs[i]) < 0)
			goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = load_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s.opts = &o;
	pthread_mutex_init(&s.lock, NULL);
	start = probe_now_ns();
	s.end_ns = start + (int64_t)o.duration_s * 1000000000;
	for (; started < o.threads; started++) {
		if (pthread_create(&tids[started], NULL, load_thread, &s) != 0)
			break;
	}
	for (long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (started == o.threads)
		status = 0;
	load_report(&s, (double)(probe_now_ns() - start) / 1e9);
	pthread_mutex_destroy(&s.lock);
out:
	for (int i = 0; i < o.n_pairs; i++)
		probe_pair_clear(&o.pairs[i]);
	return status;
}
