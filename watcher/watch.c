/*
 * `ivicli-certwatch watch`: the long-running watcher. This file holds the
 * command line, the event loop, signals and the ready file; the decisions
 * live in engine.c and the file system watches in fswatch.c.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <systemd/sd-daemon.h>

#include "ivi_log.h"
#include "cli.h"
#include "commands.h"
#include "engine.h"

struct watch_ctx {
	struct ev_loop *loop;
	struct cw_engine *engine;
	const char *config_option;   /* --config, NULL when not given */
	const char *ready_file;      /* --ready-file, NULL when not given */
	ev_signal sigterm;
	ev_signal sigint;
	ev_signal sighup;
};

static void
watch_usage(FILE *out)
{
	fprintf(out, "usage: %s watch [--config FILE] [--ready-file FILE] [--log-level LEVEL]\n",
	    CW_PROGRAM);
}

/* Creates the ready file atomically, so a reader never sees it half written. */
static void
ready_file_write(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		log_error("watch: ready file path too long: %s", path);
		return;
	}
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		log_error("watch: cannot write the ready file %s (%s)", path, strerror(errno));
		return;
	}
}

static void
on_ready(void *arg)
{
	struct watch_ctx *ctx = arg;

	if (ctx->ready_file != NULL)
		ready_file_write(ctx->ready_file);
	sd_notify(0, "READY=1\nSTATUS=watching the certificate files");
	log_info("watch: ready");
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_notice("watch: received %s; exiting", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	sd_notify(0, "STOPPING=1");
	ev_break(loop, EVBREAK_ALL);
}

/* SIGHUP: re-read the config and the control key, then re-arm and reconcile. */
static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct watch_ctx *ctx = w->data;
	struct ivi_config *cfg = NULL;
	struct ivi_key *key = NULL;
	char errbuf[1024] = "";

	log_notice("watch: received SIGHUP; reading %s again", cw_config_path(ctx->config_option));
	sd_notify(0, "RELOADING=1");
	if (cw_config_open(ctx->config_option, &cfg, errbuf, sizeof(errbuf)) != 0 ||
	    cw_key_open(cfg, &key, errbuf, sizeof(errbuf)) != 0) {
		log_error("watch: %s; keeping the previous configuration", errbuf);
		ivi_config_free(cfg);
		sd_notify(0, "READY=1");
		return;
	}
	if (cw_engine_reconfigure(ctx->engine, cfg, key) != 0)
		log_error("watch: out of memory while applying the new configuration; "
		    "keeping the previous one");
	sd_notify(0, "READY=1");
}

static void
signals_start(struct watch_ctx *ctx)
{
	ev_signal_init(&ctx->sigterm, on_stop, SIGTERM);
	ev_signal_init(&ctx->sigint, on_stop, SIGINT);
	ev_signal_init(&ctx->sighup, on_hup, SIGHUP);
	ctx->sighup.data = ctx;
	ev_signal_start(ctx->loop, &ctx->sigterm);
	ev_signal_start(ctx->loop, &ctx->sigint);
	ev_signal_start(ctx->loop, &ctx->sighup);
}

/* Parses the options into ctx. Returns 0, -1 after --help, or 64. */
static int
watch_parse(int argc, char **argv, struct watch_ctx *ctx)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"ready-file", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx->config_option = optarg;
			break;
		case 'r':
			ctx->ready_file = optarg;
			break;
		case 'l':
			if (cw_set_log_level(optarg) != 0)
				return CW_EX_USAGE;
			break;
		case 'h':
			watch_usage(stdout);
			return -1;
		default:
			watch_usage(stderr);
			return CW_EX_USAGE;
		}
	}
	if (optind != argc) {
		watch_usage(stderr);
		return CW_EX_USAGE;
	}
	return 0;
}

int
cmd_watch(int argc, char **argv)
{
	struct watch_ctx ctx;
	struct ivi_config *cfg = NULL;
	struct ivi_key *key = NULL;
	char errbuf[1024] = "";
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	rc = watch_parse(argc, argv, &ctx);
	if (rc != 0)
		return rc < 0 ? 0 : rc;

	rc = cw_config_open(ctx.config_option, &cfg, errbuf, sizeof(errbuf));
	if (rc == 0)
		rc = cw_key_open(cfg, &key, errbuf, sizeof(errbuf));
	if (rc != 0) {
		log_error("watch: %s; exiting", errbuf);
		ivi_config_free(cfg);
		return rc;
	}

	/* A control socket write to a server that just closed must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	ctx.loop = EV_DEFAULT;
	rc = cw_engine_new(ctx.loop, cfg, key, on_ready, &ctx, &ctx.engine);
	if (rc != 0) {
		log_error("watch: cannot start (%s); exiting", ivi_strerror(rc));
		return ivi_err_exit_status(rc);
	}
	signals_start(&ctx);
	cw_engine_start(ctx.engine);
	ev_run(ctx.loop, 0);

	cw_engine_free(ctx.engine);
	ev_signal_stop(ctx.loop, &ctx.sigterm);
	ev_signal_stop(ctx.loop, &ctx.sigint);
	ev_signal_stop(ctx.loop, &ctx.sighup);
	ev_loop_destroy(ctx.loop);
	if (ctx.ready_file != NULL)
		unlink(ctx.ready_file);
	return 0;
}
