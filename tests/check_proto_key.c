/*
 * Unit tests of the control key file: generation, format, and the
 * permission and ownership checks made when it is loaded.
 */
#include "config.h"

#include <dirent.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "ivi_proto.h"

static char tmpdir[64];
static char keypath[128];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ivicli-check-key.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(keypath, sizeof(keypath), "%s/control.key", tmpdir);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
teardown(void)
{
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to keypath with mode. */
static void
write_key_file(const char *text, mode_t mode)
{
	FILE *f;

	unlink(keypath);
	f = fopen(keypath, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(keypath, mode), 0);
}

static void
read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static const char valid_hex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* ---- Generating ---------------------------------------------------------- */

START_TEST(test_key_generate_writes_mode_0600)
{
	struct ivi_key *key = NULL;
	char text[256], err[512] = "";
	struct stat st;
	size_t tag_len = strlen(IVI_KEY_FILE_TAG);

	ck_assert_int_eq(ivi_key_generate(keypath, false, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());

	read_file(keypath, text, sizeof(text));
	ck_assert_int_eq(strncmp(text, IVI_KEY_FILE_TAG " ", tag_len + 1), 0);
	ck_assert_uint_eq(strlen(text), tag_len + 1 + 64 + 1);
	ck_assert_uint_eq(strspn(text + tag_len + 1, "0123456789abcdef"), 64);
	ck_assert_int_eq(text[tag_len + 1 + 64], '\n');

	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_key_generate_leaves_no_temp_file)
{
	char err[512] = "";
	struct dirent *de;
	DIR *dir;
	int entries = 0;

	ck_assert_int_eq(ivi_key_generate(keypath, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ivi_key_generate(keypath, true, err, sizeof(err)), 0);
	ck_assert_int_eq(ivi_key_generate(keypath, false, err, sizeof(err)), IVI_E_KEY_EXISTS);
	dir = opendir(tmpdir);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	}
	closedir(dir);
	ck_assert_int_eq(entries, 1);
}
END_TEST

START_TEST(test_key_generate_refuses_overwrite_without_force)
{
	char before[256], after[256], err[512] = "";
	struct stat st;

	ck_assert_int_eq(ivi_key_generate(keypath, false, err, sizeof(err)), 0);
	read_file(keypath, before, sizeof(before));

	ck_assert_int_eq(ivi_key_generate(keypath, false, err, sizeof(err)), IVI_E_KEY_EXISTS);
	ck_assert_ptr_nonnull(strstr(err, keypath));
	ck_assert_ptr_nonnull(strstr(err, "--force"));
	read_file(keypath, after, sizeof(after));
	ck_assert_str_eq(before, after);

	ck_assert_int_eq(ivi_key_generate(keypath, true, err, sizeof(err)), 0);
	read_file(keypath, after, sizeof(after));
	ck_assert_str_ne(before, after);
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_key_generate_creates_parent_0700)
{
	char path[256], dir[192], err[512] = "";
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/etc-ivicli", tmpdir);
	snprintf(path, sizeof(path), "%s/control.key", dir);
	ck_assert_int_eq(ivi_key_generate(path, false, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777 & ~0700u, 0);
}
END_TEST

/* ---- Permissions and ownership ------------------------------------------ */

START_TEST(test_key_load_rejects_group_or_other_access)
{
	static const mode_t bad[] = {0640, 0604, 0620, 0602, 0660, 0644, 0610, 0601, 0666};
	char text[200], fix[200], err[512];
	struct ivi_key *key = NULL;

	snprintf(text, sizeof(text), "%s %s\n", IVI_KEY_FILE_TAG, valid_hex);
	snprintf(fix, sizeof(fix), "chmod 600 %s", keypath);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_key_file(text, bad[i]);
		err[0] = '\0';
		ck_assert_msg(ivi_key_load(keypath, &key, err, sizeof(err)) ==
			IVI_E_KEY_PERMISSIONS,
		    "mode %04o was accepted", (unsigned)bad[i]);
		ck_assert_ptr_null(key);
		ck_assert_msg(strstr(err, fix) != NULL, "message for mode %04o lacks the fix: %s",
		    (unsigned)bad[i], err);
		ck_assert_ptr_null(strstr(err, valid_hex));
	}

	write_key_file(text, 0400);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
	key = NULL;
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_key_load_rejects_other_owner)
{
	struct passwd *nobody = getpwnam("nobody");
	struct ivi_key *key = NULL;
	char text[200], fix[200], err[512] = "";

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP test_key_load_rejects_other_owner: needs root to chown the "
				"key file to another user\n");
		return;
	}
	ck_assert_ptr_nonnull(nobody);
	snprintf(text, sizeof(text), "%s %s\n", IVI_KEY_FILE_TAG, valid_hex);
	write_key_file(text, 0600);
	ck_assert_int_eq(chown(keypath, nobody->pw_uid, nobody->pw_gid), 0);

	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), IVI_E_KEY_PERMISSIONS);
	ck_assert_ptr_null(key);
	snprintf(fix, sizeof(fix), "chown root %s", keypath);
	ck_assert_msg(strstr(err, fix) != NULL, "message lacks the fix: %s", err);

	/* Owned by root again: accepted. */
	ck_assert_int_eq(chown(keypath, 0, 0), 0);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_key_load_rejects_missing_and_non_regular)
{
	struct ivi_key *key = NULL;
	char err[512] = "";

	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), IVI_E_FILE_MISSING);
	ck_assert_ptr_nonnull(strstr(err, "keygen"));
	ck_assert_int_eq(mkdir(keypath, 0700), 0);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), IVI_E_NOT_REGULAR);
	ck_assert_ptr_null(key);
}
END_TEST

/* ---- Format --------------------------------------------------------------- */

START_TEST(test_key_load_rejects_bad_format)
{
	static const char *const bad[] = {
		"",
		"\n",
		"ivicli-control-key-v1\n",
		"ivicli-control-key-v1 \n",
		"ivicli-control-key-v2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
		"ivicli-control-key-v1  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
		/* 62 digits: 31 bytes */
		"ivicli-control-key-v1 00112233445566778899aabbccddeeff00112233445566778899aabbccddee\n",
		/* odd count */
		"ivicli-control-key-v1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\n",
		"ivicli-control-key-v1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
		"ivicli-control-key-v1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n\n",
		"ivicli-control-key-v1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff x\n",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	};
	struct ivi_key *key = NULL;
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_key_file(bad[i], 0600);
		err[0] = '\0';
		ck_assert_msg(ivi_key_load(keypath, &key, err, sizeof(err)) == IVI_E_KEY_FORMAT,
		    "key file %zu was accepted", i);
		ck_assert_ptr_null(key);
		ck_assert_ptr_nonnull(strstr(err, keypath));
		ck_assert_msg(strstr(err, "00112233445566778899") == NULL,
		    "message shows key text: %s", err);
	}
}
END_TEST

START_TEST(test_key_load_rejects_oversize_file)
{
	char text[1024];
	struct ivi_key *key = NULL;
	char err[512];
	size_t off;

	off = (size_t)snprintf(text, sizeof(text), "%s ", IVI_KEY_FILE_TAG);
	/* 129 bytes of key: one more than the maximum. */
	for (int i = 0; i < 2 * (IVI_KEY_MAX_BYTES + 1); i++)
		text[off++] = "0123456789abcdef"[i % 16];
	text[off] = '\0';
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), IVI_E_KEY_FORMAT);

	/* Far longer than any key file. */
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), IVI_E_KEY_FORMAT);

	/* 128 bytes: the maximum, accepted. */
	off = (size_t)snprintf(text, sizeof(text), "%s ", IVI_KEY_FILE_TAG);
	for (int i = 0; i < 2 * IVI_KEY_MAX_BYTES; i++)
		text[off++] = "0123456789abcdef"[i % 16];
	text[off] = '\0';
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_key_load_accepts_format_variants)
{
	static const char *const endings[] = {"", "\n", "\r\n"};
	char text[256], upper[80];
	struct ivi_key *key = NULL;
	char err[512] = "";

	for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		snprintf(text, sizeof(text), "%s %s%s", IVI_KEY_FILE_TAG, valid_hex, endings[i]);
		write_key_file(text, 0600);
		ck_assert_msg(ivi_key_load(keypath, &key, err, sizeof(err)) == 0,
		    "line ending %zu rejected: %s", i, err);
		ivi_key_free(key);
		key = NULL;
	}
	snprintf(upper, sizeof(upper), "%s", valid_hex);
	for (char *p = upper; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	}
	snprintf(text, sizeof(text), "%s %s\n", IVI_KEY_FILE_TAG, upper);
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &key, err, sizeof(err)), 0);
	ivi_key_free(key);
}
END_TEST

/* The key read from the file signs exactly like the same bytes given directly. */
START_TEST(test_key_load_uses_file_bytes)
{
	static const uint8_t bytes[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	    0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	struct ivi_key *from_file = NULL, *direct = NULL;
	uint8_t *a = NULL, *b = NULL;
	size_t alen, blen;
	char text[200], err[512] = "";

	snprintf(text, sizeof(text), "%s %s\n", IVI_KEY_FILE_TAG, valid_hex);
	write_key_file(text, 0600);
	ck_assert_int_eq(ivi_key_load(keypath, &from_file, err, sizeof(err)), 0);
	ck_assert_int_eq(ivi_key_from_bytes(bytes, sizeof(bytes), &direct), 0);
	ck_assert_int_eq(ivi_frame_encode_raw(from_file, (const uint8_t *)"{}", 2, &a, &alen), 0);
	ck_assert_int_eq(ivi_frame_encode_raw(direct, (const uint8_t *)"{}", 2, &b, &blen), 0);
	ck_assert_uint_eq(alen, blen);
	ck_assert_int_eq(memcmp(a, b, alen), 0);
	free(a);
	free(b);
	ivi_key_free(from_file);
	ivi_key_free(direct);
}
END_TEST

START_TEST(test_key_from_bytes_length_limits)
{
	uint8_t bytes[IVI_KEY_MAX_BYTES + 1] = {0};
	struct ivi_key *key = NULL;

	ck_assert_int_eq(ivi_key_from_bytes(bytes, IVI_KEY_MIN_BYTES - 1, &key),
	    IVI_E_INVALID_ARG);
	ck_assert_int_eq(ivi_key_from_bytes(bytes, IVI_KEY_MAX_BYTES + 1, &key),
	    IVI_E_INVALID_ARG);
	ck_assert_ptr_null(key);
	ck_assert_int_eq(ivi_key_from_bytes(bytes, IVI_KEY_MIN_BYTES, &key), 0);
	ivi_key_free(key);
	ck_assert_int_eq(ivi_key_from_bytes(bytes, IVI_KEY_MAX_BYTES, &key), 0);
	ivi_key_free(key);
}
END_TEST

static Suite *
key_suite(void)
{
	Suite *s = suite_create("proto_key");
	TCase *gen = tcase_create("generate");
	TCase *perm = tcase_create("permissions");
	TCase *format = tcase_create("format");

	tcase_add_checked_fixture(gen, setup, teardown);
	tcase_add_test(gen, test_key_generate_writes_mode_0600);
	tcase_add_test(gen, test_key_generate_leaves_no_temp_file);
	tcase_add_test(gen, test_key_generate_refuses_overwrite_without_force);
	tcase_add_test(gen, test_key_generate_creates_parent_0700);
	suite_add_tcase(s, gen);

	tcase_add_checked_fixture(perm, setup, teardown);
	tcase_add_test(perm, test_key_load_rejects_group_or_other_access);
	tcase_add_test(perm, test_key_load_rejects_other_owner);
	tcase_add_test(perm, test_key_load_rejects_missing_and_non_regular);
	suite_add_tcase(s, perm);

	tcase_add_checked_fixture(format, setup, teardown);
	tcase_add_test(format, test_key_load_rejects_bad_format);
	tcase_add_test(format, test_key_load_rejects_oversize_file);
	tcase_add_test(format, test_key_load_accepts_format_variants);
	tcase_add_test(format, test_key_load_uses_file_bytes);
	tcase_add_test(format, test_key_from_bytes_length_limits);
	suite_add_tcase(s, format);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(key_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
