# Helpers for the end-to-end scenarios (tests/e2e_*.sh, bash), sourced
# after tests/lib.sh. They drive real clients (curl) against the server that
# start_server started, on 127.0.0.1 only.

# Fails the test unless both programs were built.
e2e_require_programs() {
	[ -x "$IVICLI" ] || t_fail "server binary $IVICLI not built"
	[ -x "$CERTWATCH" ] || t_fail "watcher binary $CERTWATCH not built"
}

# norm_serial: reads a serial in any common spelling (upper case, colons,
# leading zeros) on stdin and prints it in lowercase hex without leading
# zeros, so that certtool's and curl's spellings compare equal.
norm_serial() {
	tr -d ': \r' | tr 'A-F' 'a-f' | sed 's/^0*//'
}

# nserial FILE: serial of the first certificate in FILE, normalized.
nserial() {
	serial "$1" | norm_serial
}

# serves_serial SERIAL: true when a fresh handshake presents SERIAL (in
# certtool's spelling, as printed by serial and served).
serves_serial() {
	[ "$(served)" = "$1" ]
}

# audit_count ACTION: number of audit lines with that action so far.
audit_count() {
	grep -cE "\"action\": ?\"$1\"" "$W/audit.log" 2>/dev/null || true
}

# audit_count_is ACTION N: true when exactly N lines have that action.
audit_count_is() {
	[ "$(audit_count "$1")" -eq "$2" ]
}

# expect_audit_count ACTION N: waits (bounded) until N lines have ACTION,
# then checks that no further line arrives within one more second.
expect_audit_count() {
	t_wait_for 20 audit_count_is "$1" "$2" ||
		t_fail "expected $2 audit lines with action $1, found $(audit_count "$1")"
	sleep 1
	audit_count_is "$1" "$2" ||
		t_fail "expected exactly $2 audit lines with action $1, found $(audit_count "$1")"
}

# https_request URL [CURL_ARGS...]: one HTTPS request on a new connection.
# Prints "<curl exit status> <HTTP status> <normalized leaf serial>".
https_request() {
	local url=$1 out rc code ser
	shift
	out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n%{certs}' "$@" "$url" 2>/dev/null)
	rc=$?
	code=$(printf '%s\n' "$out" | head -n 1)
	ser=$(printf '%s\n' "$out" | sed -n 's/^Serial Number: *//p' | head -n 1 | norm_serial)
	echo "$rc ${code:-000} ${ser:--}"
}

# client_loop OUT STOPFILE MAX_REQUESTS MAX_SECONDS [CURL_ARGS...]: makes
# HTTPS requests to /healthz one after another, each on a new connection,
# until STOPFILE exists or either bound is reached. Writes one line per
# request to OUT: "ok <serial>" or "fail <curl status> <HTTP status>".
# Run it in the background and stop it with client_loop_stop.
client_loop() {
	local out=$1 stop=$2 max=$3 end n=0 r rc code ser
	end=$(($(date +%s) + $4))
	shift 4
	: >"$out"
	while [ ! -e "$stop" ] && [ "$n" -lt "$max" ] && [ "$(date +%s)" -lt "$end" ]; do
		r=$(https_request "https://127.0.0.1:$PORT/healthz" "$@")
		read -r rc code ser <<<"$r"
		if [ "$rc" = 0 ] && [ "$code" = 200 ]; then
			echo "ok $ser" >>"$out"
		else
			echo "fail $rc $code" >>"$out"
		fi
		n=$((n + 1))
	done
}

# client_loop_start [CURL_ARGS...]: starts client_loop in the background
# with bounds of 20000 requests and 600 s; sets LOOP_PID and LOOP_OUT.
client_loop_start() {
	LOOP_OUT="$W/requests.out"
	rm -f "$W/requests.stop"
	client_loop "$LOOP_OUT" "$W/requests.stop" 20000 600 "$@" &
	LOOP_PID=$!
	t_track "$LOOP_PID"
}

# client_loop_stop: creates the stop file, so the loop ends after its
# current request, and waits for it.
client_loop_stop() {
	touch "$W/requests.stop"
	wait "$LOOP_PID" 2>/dev/null
}

# loop_count PATTERN: lines of the loop output matching the regex.
loop_count() {
	grep -cE "$1" "$LOOP_OUT" 2>/dev/null || true
}

# loop_saw SERIAL: true once the loop got a response from a server
# presenting SERIAL.
loop_saw() {
	grep -qx "ok $1" "$LOOP_OUT" 2>/dev/null
}
