/*
 * Unit tests of the watcher's modules that work without a server: the
 * directory watches (fswatch.c), the ACME hook environment checks
 * (hookenv.c) and the shared command-line helpers (cli.c).
 */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ivi_config.h"
#include "ivi_log.h"
#include "cli.h"
#include "fswatch.h"
#include "hookenv.h"

static char tmpdir[256];

static void
setup_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_watcher.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown_tmpdir(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* ---- fswatch ------------------------------------------------------------- */

struct fs_counts {
	int events;
	int polls;
};

static void
count_cb(void *arg, enum cw_fswatch_reason why)
{
	struct fs_counts *c = arg;

	if (why == CW_FSWATCH_EVENT)
		c->events++;
	else
		c->polls++;
}

static void
stop_loop(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Runs loop for about seconds, then returns. */
static void
run_for(struct ev_loop *loop, double seconds)
{
	ev_timer t;

	ev_timer_init(&t, stop_loop, seconds, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static struct cw_fswatch *
fswatch_on(struct ev_loop *loop, bool poll, const char *path, struct fs_counts *c)
{
	struct cw_fswatch *w = NULL;
	const char *paths[1] = {path};

	ck_assert_int_eq(cw_fswatch_new(loop, poll, 50, count_cb, c, &w), 0);
	ck_assert_int_eq(cw_fswatch_arm(w, paths, 1), 0);
	return w;
}

START_TEST(test_fswatch_sees_rename_over_file)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fs_counts c = {0, 0};
	char path[512], tmp[512];
	struct cw_fswatch *w;

	snprintf(path, sizeof(path), "%s/tls.crt", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s/.tls.crt.tmp", tmpdir);
	write_file(path, "old");
	w = fswatch_on(loop, false, path, &c);
	ck_assert(!cw_fswatch_polling(w));

	write_file(tmp, "new");
	ck_assert_int_eq(rename(tmp, path), 0);
	run_for(loop, 0.3);
	ck_assert_int_ge(c.events, 1);
	ck_assert_int_eq(c.polls, 0);

	cw_fswatch_free(w);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_fswatch_sees_change_in_symlink_target_dir)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fs_counts c = {0, 0};
	char path[600], gen[512], target[600];
	struct cw_fswatch *w;

	/* sec/tls.crt -> ..data/tls.crt, ..data -> ..gen1, the Kubernetes layout. */
	snprintf(gen, sizeof(gen), "%s/..gen1", tmpdir);
	ck_assert_int_eq(mkdir(gen, 0700), 0);
	snprintf(target, sizeof(target), "%s/tls.crt", gen);
	write_file(target, "one");
	snprintf(path, sizeof(path), "%s/..data", tmpdir);
	ck_assert_int_eq(symlink("..gen1", path), 0);
	snprintf(path, sizeof(path), "%s/tls.crt", tmpdir);
	ck_assert_int_eq(symlink("..data/tls.crt", path), 0);
	w = fswatch_on(loop, false, path, &c);

	/* Written in the generation directory itself, not next to the link. */
	write_file(target, "two");
	run_for(loop, 0.3);
	ck_assert_int_ge(c.events, 1);

	cw_fswatch_free(w);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_fswatch_missing_dir_watches_parent)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fs_counts c = {0, 0};
	char path[512], dir[512];
	struct cw_fswatch *w;

	snprintf(dir, sizeof(dir), "%s/live", tmpdir);
	snprintf(path, sizeof(path), "%s/live/tls.crt", tmpdir);
	w = fswatch_on(loop, false, path, &c);

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	run_for(loop, 0.3);
	ck_assert_int_ge(c.events, 1);

	/* Re-armed, the real directory is watched: a file in it is seen. */
	c.events = 0;
	ck_assert_int_eq(cw_fswatch_arm(w, (const char *const[]){path}, 1), 0);
	write_file(path, "cert");
	run_for(loop, 0.3);
	ck_assert_int_ge(c.events, 1);

	cw_fswatch_free(w);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_fswatch_idle_gives_no_callback)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fs_counts c = {0, 0};
	char path[512];
	struct cw_fswatch *w;

	snprintf(path, sizeof(path), "%s/tls.crt", tmpdir);
	write_file(path, "old");
	w = fswatch_on(loop, false, path, &c);
	run_for(loop, 0.3);
	ck_assert_int_eq(c.events, 0);
	ck_assert_int_eq(c.polls, 0);

	cw_fswatch_free(w);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_fswatch_force_poll_ticks)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fs_counts c = {0, 0};
	char path[512];
	struct cw_fswatch *w;

	snprintf(path, sizeof(path), "%s/tls.crt", tmpdir);
	write_file(path, "old");
	w = fswatch_on(loop, true, path, &c);
	ck_assert(cw_fswatch_polling(w));

	write_file(path, "new");
	run_for(loop, 0.5);
	ck_assert_int_eq(c.events, 0);
	ck_assert_int_ge(c.polls, 3);

	/* Back to inotify: the timer stops. */
	cw_fswatch_set_mode(w, false, 50);
	ck_assert_int_eq(cw_fswatch_arm(w, (const char *const[]){path}, 1), 0);
	ck_assert(!cw_fswatch_polling(w));

	cw_fswatch_free(w);
	ev_loop_destroy(loop);
}
END_TEST

/* ---- hookenv ------------------------------------------------------------- */

static const char *const hook_vars[] = {"RENEWED_LINEAGE", "LEGO_CERT_PATH",
	"LEGO_CERT_KEY_PATH", "CERT_PATH", "CERT_KEY_PATH", "CA_CERT_PATH", "CERT_FULLCHAIN_PATH"};

static struct ivi_config *
hook_config(void)
{
	struct ivi_config *cfg = NULL;
	char text[1024], err[512];

	snprintf(text, sizeof(text), "[api.tls]\nenabled = true\ncert_path = \"%s/tls.crt\"\n"
	    "key_path = \"%s/tls.key\"\n", tmpdir, tmpdir);
	ck_assert_msg(ivi_config_parse("test.toml", NULL, text, strlen(text), &cfg, err,
	    sizeof(err)) == 0, "%s", err);
	return cfg;
}

static void
hook_clear(void)
{
	size_t i;

	for (i = 0; i < sizeof(hook_vars) / sizeof(hook_vars[0]); i++)
		unsetenv(hook_vars[i]);
}

/* Runs the check and asserts status and that the message names var. */
static void
hook_expect(int status, const char *var, const char *client)
{
	struct ivi_config *cfg = hook_config();
	const char *client_name = NULL;
	char msg[1024] = "";

	ck_assert_int_eq(cw_hookenv_check(cfg, &client_name, msg, sizeof(msg)), status);
	if (var != NULL)
		ck_assert_msg(strstr(msg, var) != NULL, "'%s' does not name %s", msg, var);
	if (client != NULL)
		ck_assert_str_eq(client_name, client);
	else
		ck_assert_ptr_null(client_name);
	ivi_config_free(cfg);
}

START_TEST(test_hookenv_nothing_set_passes)
{
	hook_clear();
	hook_expect(0, NULL, NULL);
}
END_TEST

START_TEST(test_hookenv_empty_lineage_fails)
{
	hook_clear();
	setenv("RENEWED_LINEAGE", "", 1);
	hook_expect(CW_EX_NOINPUT, "RENEWED_LINEAGE", "certbot");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_lineage_without_files_fails)
{
	hook_clear();
	setenv("RENEWED_LINEAGE", tmpdir, 1);
	hook_expect(CW_EX_NOINPUT, "fullchain.pem", "certbot");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_lego_missing_file_fails)
{
	char path[512];

	hook_clear();
	snprintf(path, sizeof(path), "%s/api.example.testcrt", tmpdir);
	setenv("LEGO_CERT_PATH", path, 1);
	setenv("LEGO_CERT_KEY_PATH", path, 1);
	hook_expect(CW_EX_NOINPUT, "LEGO_CERT_PATH", "lego");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_lego_key_unset_fails)
{
	char path[512];

	hook_clear();
	snprintf(path, sizeof(path), "%s/tls.crt", tmpdir);
	write_file(path, "x");
	setenv("LEGO_CERT_PATH", path, 1);
	hook_expect(CW_EX_NOINPUT, "LEGO_CERT_KEY_PATH", "lego");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_lego_unparsable_pair_fails)
{
	char cert[512], key[512];

	hook_clear();
	snprintf(cert, sizeof(cert), "%s/tls.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/tls.key", tmpdir);
	write_file(cert, "not a certificate\n");
	write_file(key, "not a key\n");
	setenv("LEGO_CERT_PATH", cert, 1);
	setenv("LEGO_CERT_KEY_PATH", key, 1);
	hook_expect(CW_EX_DATAERR, "LEGO_CERT_PATH", "lego");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_acme_sh_empty_fullchain_fails)
{
	char key[512];

	hook_clear();
	snprintf(key, sizeof(key), "%s/tls.key", tmpdir);
	write_file(key, "x");
	setenv("CERT_KEY_PATH", key, 1);
	setenv("CERT_FULLCHAIN_PATH", "", 1);
	hook_expect(CW_EX_NOINPUT, "CERT_FULLCHAIN_PATH", "acme.sh");
	hook_clear();
}
END_TEST

START_TEST(test_hookenv_acme_sh_directory_fails)
{
	hook_clear();
	setenv("CERT_PATH", tmpdir, 1);
	hook_expect(CW_EX_NOINPUT, "CERT_PATH", "acme.sh");
	hook_clear();
}
END_TEST

/* ---- cli ----------------------------------------------------------------- */

START_TEST(test_cli_time_round_trip)
{
	char buf[40];
	time_t t = 0;

	cw_format_time(1796415600, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-12-04T20:20:00Z");
	ck_assert_int_eq(cw_parse_time(buf, &t), 0);
	ck_assert_int_eq((long)t, 1796415600L);
	ck_assert_int_eq(cw_parse_time("2026-12-04 20:20:00", &t), -1);
	ck_assert_int_eq(cw_parse_time("2026-12-04T20:20:00Zjunk", &t), -1);
}
END_TEST

START_TEST(test_cli_config_path_precedence)
{
	setenv("IVICLI_CONFIG", "/from/env.toml", 1);
	ck_assert_str_eq(cw_config_path("/from/option.toml"), "/from/option.toml");
	ck_assert_str_eq(cw_config_path(NULL), "/from/env.toml");
	setenv("IVICLI_CONFIG", "", 1);
	ck_assert_str_eq(cw_config_path(NULL), "/etc/ivicli/config.toml");
	unsetenv("IVICLI_CONFIG");
	ck_assert_str_eq(cw_config_path(NULL), "/etc/ivicli/config.toml");
}
END_TEST

static Suite *
watcher_suite(void)
{
	Suite *s = suite_create("watcher");
	TCase *fs = tcase_create("fswatch");
	TCase *hook = tcase_create("hookenv");
	TCase *cli = tcase_create("cli");

	tcase_add_checked_fixture(fs, setup_tmpdir, teardown_tmpdir);
	tcase_set_timeout(fs, 20);
	tcase_add_test(fs, test_fswatch_sees_rename_over_file);
	tcase_add_test(fs, test_fswatch_sees_change_in_symlink_target_dir);
	tcase_add_test(fs, test_fswatch_missing_dir_watches_parent);
	tcase_add_test(fs, test_fswatch_idle_gives_no_callback);
	tcase_add_test(fs, test_fswatch_force_poll_ticks);
	suite_add_tcase(s, fs);

	tcase_add_checked_fixture(hook, setup_tmpdir, teardown_tmpdir);
	tcase_set_timeout(hook, 20);
	tcase_add_test(hook, test_hookenv_nothing_set_passes);
	tcase_add_test(hook, test_hookenv_empty_lineage_fails);
	tcase_add_test(hook, test_hookenv_lineage_without_files_fails);
	tcase_add_test(hook, test_hookenv_lego_missing_file_fails);
	tcase_add_test(hook, test_hookenv_lego_key_unset_fails);
	tcase_add_test(hook, test_hookenv_lego_unparsable_pair_fails);
	tcase_add_test(hook, test_hookenv_acme_sh_empty_fullchain_fails);
	tcase_add_test(hook, test_hookenv_acme_sh_directory_fails);
	suite_add_tcase(s, hook);

	tcase_add_test(cli, test_cli_time_round_trip);
	tcase_add_test(cli, test_cli_config_path_precedence);
	suite_add_tcase(s, cli);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(watcher_suite());
	int failed;

	/* Only errors: the modules' warnings would clutter the test output. */
	ivi_log_init("check_watcher", IVI_LOG_ERROR);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
