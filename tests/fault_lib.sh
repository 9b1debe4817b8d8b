# Helpers for the fault-injection tests (tests/fault_*.sh), sourced after
# tests/lib.sh, tests/server_lib.sh, tests/e2e_lib.sh and
# tests/watcher_lib.sh. After every fault a test calls f_check_server (and
# f_check_watcher when a watcher runs): same process, the last good
# certificate still served to a real TLS client, descriptors back to the
# count before the fault, and no sanitizer report.

: "${FAULT_CONNS:=$top_srcdir/tests/fault_conns.py}"

# Seconds allowed for a server or watcher to give back its descriptors.
F_FD_WAIT=30

# f_require: fails unless the programs and ctlprobe were built; skips
# without curl or python3.
f_require() {
	srv_require
	e2e_require_programs
	[ -x "$CTLPROBE" ] || t_fail "$CTLPROBE not built (make check builds it)"
	command -v python3 >/dev/null || t_skip "python3 not found (Debian package python3)"
}

# ---- baselines ---------------------------------------------------------

# f_baseline_server: remembers the server's pid and descriptor count.
f_baseline_server() {
	F_SERVER_PID=$SERVER_PID
	F_SERVER_FDS=$(fd_count "$SERVER_PID")
}

# f_baseline_watcher: remembers the watcher's pid and descriptor count.
f_baseline_watcher() {
	F_WATCHER_PID=$WATCHER_PID
	F_WATCHER_FDS=$(fd_count "$WATCHER_PID")
}

# f_fds_at_most PID N: true when PID has at most N open descriptors.
f_fds_at_most() { [ "$(fd_count "$1")" -le "$2" ]; }

# f_no_sanitizer_report FILE: fails when FILE contains an ASan, LSan or UBSan report.
f_no_sanitizer_report() {
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$1" 2>/dev/null; then
		t_fail "sanitizer report in $(basename "$1")"
	fi
}

# f_check_server NAME WHAT: after the fault WHAT, the server is the same
# process, serves NAME.crt to a new handshake and has no more open
# descriptors than before the fault.
f_check_server() {
	kill -0 "$F_SERVER_PID" 2>/dev/null || t_fail "server (pid $F_SERVER_PID) died after $2"
	[ "$SERVER_PID" = "$F_SERVER_PID" ] || t_fail "server pid changed after $2"
	expect_serving "$1" 15
	t_wait_for "$F_FD_WAIT" f_fds_at_most "$F_SERVER_PID" "$F_SERVER_FDS" ||
		t_fail "server holds $(fd_count "$F_SERVER_PID") descriptors after $2, $F_SERVER_FDS before"
	f_no_sanitizer_report "$W/server.log"
}

# f_check_watcher WHAT: after the fault WHAT, the watcher is the same
# process and has no more open descriptors than before it.
f_check_watcher() {
	kill -0 "$F_WATCHER_PID" 2>/dev/null || t_fail "watcher (pid $F_WATCHER_PID) died after $1"
	t_wait_for "$F_FD_WAIT" f_fds_at_most "$F_WATCHER_PID" "$F_WATCHER_FDS" ||
		t_fail "watcher holds $(fd_count "$F_WATCHER_PID") descriptors after $1, $F_WATCHER_FDS before"
	f_no_sanitizer_report "$W/watcher.log"
}

# ---- logs and audit lines written since a mark ---------------------------

# f_mark: remembers where server.log, watcher.log and audit.log end now,
# so that the f_new_* helpers look only at what comes after.
f_mark() {
	F_SLOG=$(stat -c %s "$W/server.log" 2>/dev/null || echo 0)
	F_WLOG=$(stat -c %s "$W/watcher.log" 2>/dev/null || echo 0)
	F_ALOG=$(stat -c %s "$W/audit.log" 2>/dev/null || echo 0)
}

# f_new_slog / f_new_wlog / f_new_audit: lines added since f_mark. Debug
# lines are left out of the logs: a fault must show at info level or above.
f_new_slog() { tail -c "+$((F_SLOG + 1))" "$W/server.log" 2>/dev/null | grep -v ' debug: '; }
f_new_wlog() { tail -c "+$((F_WLOG + 1))" "$W/watcher.log" 2>/dev/null | grep -v ' debug: '; }
f_new_audit() { tail -c "+$((F_ALOG + 1))" "${F_AUDIT_FILE:-$W/audit.log}" 2>/dev/null; }

# f_count_new LOG REGEX: lines of f_new_LOG (slog, wlog, audit) matching REGEX.
f_count_new() {
	local n
	n=$("f_new_$1" | grep -cE "$2")
	echo "${n:-0}"
}

# f_has_new LOG REGEX: true when a new line of LOG matches REGEX.
f_has_new() { [ "$(f_count_new "$1" "$2")" -gt 0 ]; }

# f_expect_one LOG REGEX WHAT: waits (bounded) for a new line of LOG
# matching REGEX, then checks that exactly one such line was written.
f_expect_one() {
	local n
	t_wait_for 20 f_has_new "$1" "$2" || t_fail "no $1 line matching /$2/ after $3"
	sleep 0.5
	n=$(f_count_new "$1" "$2")
	[ "$n" -eq 1 ] || t_fail "$n $1 lines match /$2/ after $3, expected one: $("f_new_$1" | grep -E "$2")"
}

# f_expect_none LOG REGEX WHAT: no new line of LOG matches REGEX.
f_expect_none() {
	local n
	n=$(f_count_new "$1" "$2")
	[ "$n" -eq 0 ] || t_fail "unexpected $1 line after $3: $("f_new_$1" | grep -E "$2" | head -n 3)"
}

# f_audit_valid FILE: fails unless every line of FILE is one JSON object.
f_audit_valid() {
	python3 - "$1" <<'PY' || t_fail "$1 is not one JSON object per line"
import json, sys
with open(sys.argv[1], "rb") as f:
    for number, line in enumerate(f, 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            sys.exit("line %d: %s: %r" % (number, e, line[:120]))
        if not isinstance(obj, dict):
            sys.exit("line %d is not an object" % number)
PY
}

# ---- control socket ----------------------------------------------------

# f_ctl_code ARGS...: sends a request with ctlprobe and prints the error
# code of the response ("ok" for a successful one, "none" without one).
f_ctl_code() {
	local out
	out=$(ctl "$@" 2>>"$W/ctlprobe.log")
	case $out in
	*'"ok":true'*) echo ok ;;
	*'"code":"'*) echo "$out" | sed -n 's/.*"code":"\([a-z_]*\)".*/\1/p' | head -n 1 ;;
	*) echo none ;;
	esac
}

# f_expect_code WANT ARGS...: the response to `ctl ARGS` has code WANT.
f_expect_code() {
	local want got
	want=$1
	shift
	got=$(f_ctl_code "$@")
	[ "$got" = "$want" ] || t_fail "ctlprobe $* got '$got', expected '$want'"
}

# ---- users (root only) ---------------------------------------------------

F_USER=""

# f_make_user: creates a system user with no home and no login shell for
# this run and sets F_USER and F_UID. The caller's cleanup must call
# f_remove_user. Returns 1 when not root or when useradd fails.
f_make_user() {
	local name
	[ "$(id -u)" -eq 0 ] || return 1
	command -v useradd >/dev/null || return 1
	name="ivif$$"
	useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$name" \
		>>"$W/useradd.log" 2>&1 || return 1
	F_USER=$name
	F_UID=$(id -u "$name")
}

# f_remove_user: removes the user made by f_make_user, if any.
f_remove_user() {
	[ -n "$F_USER" ] || return 0
	userdel "$F_USER" >/dev/null 2>&1
	F_USER=""
}

# f_cleanup: t_cleanup plus removal of the user and of mounts made by the test.
f_cleanup() {
	status=$?
	for pid in $T_PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $T_PIDS; do
		wait "$pid" 2>/dev/null
	done
	T_PIDS=""
	for m in ${F_MOUNTS:-}; do
		umount "$m" 2>/dev/null
	done
	f_remove_user
	# A directory made read-only by a test must not stop the removal of $W.
	chmod -R u+w "$W" 2>/dev/null
	(exit "$status")
	t_cleanup
}

# f_init: t_init with f_cleanup as the exit trap.
f_init() {
	t_init
	trap 'f_cleanup' EXIT
}
