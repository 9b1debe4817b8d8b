/*
 * Micro-benchmark of the certificate bundle loader (not a test): times
 * ivi_bundle_load (read, parse, order, validate) and ivi_bundle_credentials
 * for the key types the server meets, and prints the median, the fastest
 * and the slowest run in milliseconds.
 *
 *   bench/bundle_load DIR [RUNS]
 *
 * DIR comes from `tests/mkcerts.sh DIR --bench`; `make bench-bundle` does
 * both. RUNS (default 200) applies to the PEM pairs. The PKCS#12 files run
 * a tenth or a fortieth of it (at least 3), because their password-based
 * key derivation dominates.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "ivi_bundle.h"
#include "ivi_config.h"
#include "ivi_err.h"

#define MAX_RUNS 10000

struct bench_case {
	const char *label;
	const char *cert;
	const char *key;  /* NULL for PKCS#12 */
	int runs_divisor; /* runs = RUNS / runs_divisor, at least 3 */
};

static const struct bench_case cases[] = {
	{"ECDSA P-256 (PEM chain + SEC1 key)", "ec.fullchain.pem", "ec.key", 1},
	{"RSA-2048 (PEM chain + PKCS#1 key)", "rsa.fullchain.pem", "rsa.key", 1},
	{"RSA-4096 (PEM chain + PKCS#1 key)", "rsa4096.fullchain.pem", "rsa4096.key", 1},
	{"PKCS#12 ECDSA, OpenSSL AES-256, PBKDF2 with 2048 rounds", "p-openssl-aes.p12", NULL,
	    10},
	{"PKCS#12 ECDSA, certtool AES-256, PBKDF2 with 600000 rounds", "p-certtool-aes-256.p12",
	    NULL, 40},
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
print_row(const char *what, double *ms, int n)
{
	qsort(ms, (size_t)n, sizeof(*ms), compare_double);
	printf("  %-12s median %8.3f ms   min %8.3f ms   max %8.3f ms\n", what, ms[n / 2], ms[0],
	    ms[n - 1]);
}

/* Times n loads and n credential builds of one case. Returns 0 or -1. */
static int
run_case(const char *dir, const struct bench_case *c, int n)
{
	char cert[PATH_MAX], key[PATH_MAX];
	struct ivi_bundle_opts opts;
	double *load_ms, *cred_ms;
	int r = 0;

	snprintf(cert, sizeof(cert), "%s/%s", dir, c->cert);
	snprintf(key, sizeof(key), "%s/%s", dir, c->key != NULL ? c->key : "");
	memset(&opts, 0, sizeof(opts));
	opts.cert_path = cert;
	opts.key_path = c->key != NULL ? key : NULL;
	opts.password_env = c->key == NULL ? "IVI_BENCH_PASSWORD" : NULL;
	opts.priority = IVI_DEFAULT_PRIORITY;
	opts.clock_skew = 300;
	opts.expiry_warn_days = 14;

	load_ms = calloc((size_t)n, sizeof(double));
	cred_ms = calloc((size_t)n, sizeof(double));
	if (load_ms == NULL || cred_ms == NULL) {
		free(load_ms);
		free(cred_ms);
		return -1;
	}
	for (int i = 0; i < n && r == 0; i++) {
		struct ivi_bundle *b = NULL;
		struct ivi_bundle_error err;
		gnutls_certificate_credentials_t cred = NULL;
		double t0 = now_ms(), t1, t2;
		int ret;

		ret = ivi_bundle_load(&opts, &b, &err);
		t1 = now_ms();
		if (ret == 0)
			ret = ivi_bundle_credentials(b, &cred, &err);
		t2 = now_ms();
		if (ret < 0) {
			fprintf(stderr, "bundle_load: %s: %s (%s)\n", err.file, err.message,
			    ivi_err_code(ret));
			r = -1;
		}
		load_ms[i] = t1 - t0;
		cred_ms[i] = t2 - t1;
		if (cred != NULL)
			gnutls_certificate_free_credentials(cred);
		ivi_bundle_free(b);
	}
	if (r == 0) {
		printf("%s, %d runs\n", c->label, n);
		print_row("load:", load_ms, n);
		print_row("credentials:", cred_ms, n);
	}
	free(load_ms);
	free(cred_ms);
	return r;
}

int
main(int argc, char **argv)
{
	int n = 200, failed = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [RUNS]\n"
		    "DIR is made by tests/mkcerts.sh DIR --bench\n", argv[0]);
		return 64;
	}
	if (argc == 3) {
		n = atoi(argv[2]);
		if (n < 1 || n > MAX_RUNS) {
			fprintf(stderr, "%s: RUNS must be between 1 and %d\n", argv[0], MAX_RUNS);
			return 64;
		}
	}
	/* The fixtures' PKCS#12 password; mkcerts.sh uses it for every file. */
	setenv("IVI_BENCH_PASSWORD", "s3cret", 1);
	printf("ivi_bundle_load and ivi_bundle_credentials, GnuTLS %s, wall-clock time per "
	    "run\n\n", gnutls_check_version(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int runs = n / cases[i].runs_divisor;

		if (run_case(argv[1], &cases[i], runs > 3 ? runs : 3) < 0)
			failed = 1;
	}
	return failed;
}
