#!/bin/bash
# The server unreachable while a rotation happens. (1) Its control socket
# renamed away: the watcher logs one warning, retries with backoff, and
# sends the reload as soon as the socket is back. (2) The server stopped
# and started again: the watcher reconnects, sees that the new server
# already serves the files, and sends nothing more.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
T_RETRY_MAX_MS=30000
w_start_live
r0=$(reloads)

mv run/control.sock run/hidden.sock
install_pair new live
expect_wlog 'warning: control: server not reachable on .*control.sock while sending a reload' 20
expect_still old 2
[ "$(wlog_count 'warning: control: server not reachable')" -eq 1 ] || t_fail "the outage was logged more than once"
# The retry backoff is at 30 s by now; the socket coming back must not wait for it.
mv run/hidden.sock run/control.sock
expect_serving new 10
expect_reloads $((r0 + 1))
expect_wlog 'notice: control: server reachable again' 5
t_pass "control socket gone then back: one warning, reload sent when it returned"

# The server itself restarts while the files change.
n0=$(wlog_count 'server not reachable')
stop_pid "$SERVER_PID"
install_pair old live
t_wait_for 20 wlog_more 'server not reachable' "$n0" || t_fail "the watcher did not notice the server was gone"
start_server
expect_serving old 15
t_wait_for 20 wlog_more 'server reachable again' 1 || t_fail "the watcher did not reconnect"
expect_wlog 'server already serves these files' 10
expect_reloads $((r0 + 1))
alive "$WATCHER_PID" watcher
t_pass "server restarted: watcher reconnected, nothing sent for files already served"
