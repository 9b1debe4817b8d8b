#!/bin/bash
# Rotation under load: while curl keeps making HTTPS requests, the
# certificate and key are replaced by rename. The next new connection must
# present the new certificate, served by the same server process, with no
# failed request and exactly one cert-reloaded audit line per rotation.
# Then 100 rotations back to back under the same load.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"

ROTATIONS=100

t_init
command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
e2e_require_programs

# Two pairs with the same notAfter, so that going back from b to a is not
# refused as a rollback.
mkpki
until=$(date -u -d '+90 days' '+%Y-%m-%d %H:%M:%S')
mkleaf a ecdsa "expiration_date = \"$until\""
mkleaf b ecdsa "expiration_date = \"$until\""
sa=$(nserial a.crt)
sb=$(nserial b.crt)
[ "$sa" != "$sb" ] || t_fail "the two test certificates have the same serial"

install_pair a live
write_config
make_control_key
start_server
start_watcher
expect_serving a 15
t_log "server pid $SERVER_PID serves a ($sa) on port $PORT"

client_loop_start --cacert "$W/ca.crt"
t_wait_for 30 loop_saw "$sa" || t_fail "the client loop got no answer from the server"
reloads=$(audit_count cert-reloaded)

# ---- one rotation, watched closely --------------------------------------

install_pair b live
expect_serving b 20

r=$(https_request "https://127.0.0.1:$PORT/healthz" --cacert "$W/ca.crt")
read -r rc code ser <<<"$r"
[ "$rc" = 0 ] || t_fail "request after the rotation failed (curl exit status $rc)"
[ "$code" = 200 ] || t_fail "request after the rotation answered HTTP $code"
[ "$ser" = "$sb" ] || t_fail "request after the rotation saw serial $ser, expected b ($sb)"

kill -0 "$SERVER_PID" 2>/dev/null || t_fail "server process $SERVER_PID is gone"
[ "$(cat "$W/server.pid")" = "$SERVER_PID" ] ||
	t_fail "pid file holds $(cat "$W/server.pid"), expected $SERVER_PID"

expect_audit_count cert-reloaded $((reloads + 1))
line=$(grep -E '"action": ?"cert-reloaded"' "$W/audit.log" | tail -n 1)
aser=$(printf '%s\n' "$line" | sed -n 's/.*"serial": *"\([0-9a-fA-F:]*\)".*/\1/p' | norm_serial)
[ "$aser" = "$sb" ] || t_fail "cert-reloaded audit line names serial '$aser', expected $sb: $line"

t_wait_for 30 loop_saw "$sb" || t_fail "the client loop never saw b"
failed=$(loop_count '^fail')
[ "$failed" -eq 0 ] || t_fail "$failed requests failed during the rotation: $(grep -m 3 '^fail' "$LOOP_OUT")"

# Once a handshake has presented b, none may present a again.
late_a=$(sed -n "/^ok $sb\$/,\$p" "$LOOP_OUT" | grep -cx "ok $sa" || true)
[ "$late_a" -eq 0 ] || t_fail "$late_a requests saw a after one had seen b"
t_pass "one rotation: b served by pid $SERVER_PID, one audit line, no failed request"

# ---- rotations back to back ----------------------------------------------

start_line=$(wc -l <"$LOOP_OUT")
for i in $(seq 1 "$ROTATIONS"); do
	if [ $((i % 2)) -eq 1 ]; then next=a; else next=b; fi
	install_pair "$next" live
	t_wait_for 20 serving "$next" ||
		t_fail "rotation $i: expected $next ($(nserial "$next.crt")) to be served, got '$(served)'"
done
expect_audit_count cert-reloaded $((reloads + 1 + ROTATIONS))
client_loop_stop

kill -0 "$SERVER_PID" 2>/dev/null || t_fail "server process $SERVER_PID is gone after $ROTATIONS rotations"
[ "$(cat "$W/server.pid")" = "$SERVER_PID" ] || t_fail "pid file changed during the rotations"

total=$(loop_count '.')
failed=$(loop_count '^fail')
[ "$failed" -eq 0 ] || t_fail "$failed of $total requests failed: $(grep -m 3 '^fail' "$LOOP_OUT")"
rejected=$(audit_count cert-reload-rejected)
[ "$rejected" -eq 0 ] || t_fail "$rejected reloads were rejected; the watcher sent a half-written pair"

# Requests made during the loop of rotations saw both certificates.
during=$(tail -n +"$((start_line + 1))" "$LOOP_OUT")
printf '%s\n' "$during" | grep -qx "ok $sa" || t_fail "no request saw a during the rotations"
printf '%s\n' "$during" | grep -qx "ok $sb" || t_fail "no request saw b during the rotations"

# With one atomic swap per rotation, the served serial changes at most once
# per rotation. More changes mean that two credential sets were served at
# the same time.
changes=$(awk '$1 == "ok" { if (prev != "" && $2 != prev) n++; prev = $2 } END { print n + 0 }' "$LOOP_OUT")
[ "$changes" -le $((ROTATIONS + 1)) ] ||
	t_fail "the served serial changed $changes times for $((ROTATIONS + 1)) rotations"

t_pass "$ROTATIONS more rotations: $total requests, none failed, $changes serial changes seen"
