#!/bin/bash
# The command line: --help, --version, usage errors (64), config errors
# (78), status output and exit codes, SIGTERM (exit 0, ready file removed)
# and a SIGHUP with a broken config (the old one is kept). The control key
# never appears in any output.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
expect_rc() {
	local want=$1 rc
	shift
	"$@" >"$W/cli.out" 2>&1
	rc=$?
	[ "$rc" -eq "$want" ] || t_fail "'$*' exited $rc, expected $want: $(cat "$W/cli.out")"
}

expect_rc 0 "$CERTWATCH" --help
for c in watch notify status check keygen; do
	grep -q "^  $c " cli.out || t_fail "--help does not list $c"
done
expect_rc 0 "$CERTWATCH" --version
grep -qE '^ivicli-certwatch [0-9]' cli.out || t_fail "--version printed: $(cat cli.out)"
expect_rc 64 "$CERTWATCH"
expect_rc 64 "$CERTWATCH" frobnicate
expect_rc 64 "$CERTWATCH" watch --no-such-option
expect_rc 64 "$CERTWATCH" watch --log-level chatty
expect_rc 0 "$CERTWATCH" watch --help
printf '[api]\nnot_a_key = 1\n' >bad.toml
expect_rc 78 "$CERTWATCH" watch --config bad.toml
grep -q 'bad.toml:2' cli.out || t_fail "the config error does not name file:line: $(cat cli.out)"
printf '[api.tls]\nenabled = false\n' >notls.toml
expect_rc 78 "$CERTWATCH" status --config notls.toml
t_pass "help, version, usage (64) and config (78) exit codes"

w_start_live
expect_rc 0 "$CERTWATCH" status --config config.toml
grep -q '^match:  yes' cli.out || t_fail "status does not report a match: $(cat cli.out)"
grep -q "^server: serial $(serial old.crt)" cli.out || t_fail "status server line: $(cat cli.out)"
expect_rc 0 "$CERTWATCH" status --config config.toml --json
grep -q '"match":true' cli.out || t_fail "status --json: $(cat cli.out)"
t_pass "status: match reported, exit 0, text and JSON"

# Make disk and server differ without the watcher noticing: stop it first.
stop_watcher
[ -e watcher.ready ] && t_fail "the ready file is still there after SIGTERM"
install_pair new live
expect_rc 75 "$CERTWATCH" status --config config.toml
grep -q '^match:  no' cli.out || t_fail "status does not report the difference: $(cat cli.out)"
sha256_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
grep -q "^match:  no, the server serves fingerprint $(sha256_of old.crt), the disk has $(sha256_of new.crt)" cli.out ||
	t_fail "status does not say why the sets differ: $(cat cli.out)"
t_pass "status after a rotation the server has not loaded: match no, exit 75"

start_watcher
expect_serving new 10
printf 'garbage =\n' >>config.toml
kill -HUP "$WATCHER_PID"
expect_wlog 'error: watch: .*config.toml.*keeping the previous configuration' 10
alive "$WATCHER_PID" watcher
install_pair old live
expect_serving old 10
t_pass "SIGHUP with a broken config: error logged, old config kept and working"

secret=$(awk '{print $2}' control.key)
for f in "$W"/*.log "$W"/cli.out; do
	grep -qF "$secret" "$f" && t_fail "the control key appears in $(basename "$f")"
done
t_pass "the control key appears in no output"
