# Helpers for the watcher's end-to-end tests (tests/watcher_*.sh and
# tests/case_*.sh), sourced after tests/lib.sh and tests/e2e_lib.sh. Every
# test runs the real server and the real watcher on files in $W, with
# short settle, retry and grace settings so that waits stay short.

# w_config CERT KEY [TLS_LINES] [CERTWATCH_LINES] [CONTROL_LINES]: writes
# $W/config.toml for the given certificate and key paths.
w_config() {
	cat >"$W/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0
pid_file = "$W/server.pid"

[api.tls]
enabled = true
cert_path = "$1"
key_path = "$2"
${3:-}

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"
${5:-}

[certwatch]
poll_interval_ms = ${T_POLL_MS:-1000}
settle_ms = ${T_SETTLE_MS:-50}
retry_max_ms = ${T_RETRY_MAX_MS:-1000}
mismatch_grace = ${T_GRACE_S:-30}
${4:-}
CFG
}

# w_mkleaves NAME...: leaf certificates that all expire at the same second.
# Tests rotate back and forth between them; certificates made a second
# apart would differ in notAfter, and going back to the earlier one is a
# rollback that the default policy (allow_rollback = false) rejects.
w_mkleaves() {
	local expiry name
	expiry=$(date -u -d '+90 days' '+%Y-%m-%d %H:%M:%S')
	for name in "$@"; do
		mkleaf "$name" ecdsa "expiration_date = \"$expiry\""
	done
}

# w_start_live [TLS_LINES] [CERTWATCH_LINES]: the usual start of a case:
# PKI, certificates old and new, old installed in live/, server and
# watcher running on it, old served.
w_start_live() {
	mkpki
	w_mkleaves old new
	install_pair old "$W/live"
	w_config "$W/live/tls.crt" "$W/live/tls.key" "${1:-}" "${2:-}"
	make_control_key
	start_server
	expect_serving old 15
	start_watcher
}

# reloads: cert-reloaded audit lines so far.
reloads() { audit_count cert-reloaded; }

# rejections: cert-reload-rejected audit lines so far.
rejections() { audit_count cert-reload-rejected; }

# wlog_count REGEX: watcher log lines matching REGEX.
wlog_count() { count_lines "$1" "$W/watcher.log"; }

# wlog_has REGEX: true when the watcher log has a line matching REGEX.
wlog_has() { grep -qE "$1" "$W/watcher.log" 2>/dev/null; }

# expect_wlog REGEX [SECONDS]: waits (bounded) for a watcher log line.
expect_wlog() {
	t_wait_for "${2:-10}" wlog_has "$1" || t_fail "the watcher never logged /$1/"
}

# expect_reloads N: exactly N cert-reloaded audit lines, stable for 1 s.
expect_reloads() { expect_audit_count cert-reloaded "$1"; }

# alive PID NAME: fails unless PID still runs.
alive() { kill -0 "$1" 2>/dev/null || t_fail "$2 (pid $1) is gone"; }

# keyid_cert FILE / keyid_key FILE: SHA-256 public key id, as certtool prints it.
keyid_of() { awk '/Public Key ID:/ { f = 1 } f && $1 ~ /^sha256:/ { sub(/^sha256:/, "", $1); print $1; exit }'; }
keyid_cert() { certtool -i --infile "$1" 2>/dev/null | keyid_of; }
keyid_key() { certtool -k --infile "$1" 2>/dev/null | keyid_of; }

# wakeups PID: voluntary plus involuntary context switches of PID so far.
wakeups() {
	awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print n + 0 }' "/proc/$1/status"
}

# stop_watcher: SIGTERM to the watcher; fails unless it exits 0.
stop_watcher() {
	kill -TERM "$WATCHER_PID"
	wait "$WATCHER_PID"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "the watcher exited $rc on SIGTERM, expected 0"
}

# wlog_more REGEX N: true when more than N watcher log lines match REGEX.
wlog_more() { [ "$(wlog_count "$1")" -gt "$2" ]; }
