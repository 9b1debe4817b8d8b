# Helpers for the server's end-to-end tests (tests/server_*.sh), sourced
# after tests/lib.sh. Everything talks to 127.0.0.1 or ::1 only.

: "${CTLPROBE:=$top_builddir/tests/ctlprobe}"

# srv_require: skips unless the server binary and curl are there.
srv_require() {
	[ -x "$IVICLI" ] || t_fail "server binary $IVICLI not built"
	command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
}

# srv_config [API_LINES] [TLS_LINES] [CONTROL_LINES]: writes $W/config.toml
# for live/tls.crt + live/tls.key with audit and control socket in $W.
srv_config() {
	cat >"$W/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0
pid_file = "$W/server.pid"
${1:-}

[api.tls]
enabled = true
cert_path = "$W/live/tls.crt"
key_path = "$W/live/tls.key"
${2:-}

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"
${3:-}
CFG
}

# srv_control_key: writes $W/control.key (mode 0600) in the key file format.
srv_control_key() {
	(umask 077 && printf 'ivicli-control-key-v1 %s\n' "$(openssl rand -hex 32)" >"$W/control.key")
}

# srv_pki: CA, issuing CA, leaves "one" and "two" installed as "one".
srv_pki() {
	mkpki
	mkleaf one
	mkleaf two
	install_pair one "$W/live"
}

# ctl ARGS...: sends a control request with ctlprobe; prints the response line.
ctl() {
	"$CTLPROBE" --socket "$W/run/control.sock" --key "$W/control.key" "$@"
}

# fingerprint FILE: SHA-256 of the first certificate's DER, lowercase hex.
fingerprint() {
	certtool -i --infile "$1" 2>/dev/null | sed -n '/Fingerprint:/,/sha256:/p' |
		sed -n 's/.*sha256:\([0-9a-f]*\).*/\1/p' | head -n 1
}

# http_get PATH [CURL_ARGS...]: HTTPS GET on a new connection; prints the status code.
http_get() {
	p=$1
	shift
	curl -s -k --max-time 10 -o /dev/null -w '%{http_code}' "$@" "https://127.0.0.1:$PORT$p"
}

# http_body PATH [CURL_ARGS...]: HTTPS GET; prints the body.
http_body() {
	p=$1
	shift
	curl -sS -k --max-time 10 "$@" "https://127.0.0.1:$PORT$p"
}

# raw_tls FILE: sends the bytes of FILE over TLS and prints what comes
# back until the server closes (bounded to 15 s).
raw_tls() {
	timeout 15 openssl s_client -quiet -connect "127.0.0.1:$PORT" <"$1" 2>/dev/null
}

# fd_count PID: open file descriptors of PID.
fd_count() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# audit_has ACTION [FIELD_REGEX]: true when an audit line has ACTION (and matches the regex).
audit_has() {
	grep "\"action\":\"$1\"" "$W/audit.log" 2>/dev/null | grep -qE "${2:-.}"
}

# json_value NAME: first value of "NAME" in the compact JSON on stdin,
# without quotes (cJSON prints no spaces).
json_value() {
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# nozero: strips leading zeros from the hex serial on stdin.
nozero() {
	sed 's/^0*//'
}

# srv_stop_check: SIGTERM, then the server must exit 0 within 20 s with no
# sanitizer report in its log (ASan builds report leaks at exit).
srv_stop_check() {
	kill -TERM "$SERVER_PID" || t_fail "server already gone"
	t_wait_for 20 proc_gone "$SERVER_PID" || t_fail "server did not stop within 20 s of SIGTERM"
	wait "$SERVER_PID"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "server exited with status $rc"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$W/server.log"; then
		t_fail "sanitizer report in server.log"
	fi
}

# proc_gone PID: true when PID has exited (gone, or a zombie not yet reaped).
proc_gone() {
	[ ! -e "/proc/$1/stat" ] && return 0
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1)
	[ -z "$state" ] || [ "$state" = Z ]
}
