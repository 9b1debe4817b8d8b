#!/bin/bash
# Forced polling ([certwatch] force_poll): the same machinery that covers
# file systems without inotify events. Rotations by rename and in place
# are served within a polling interval, an unchanged poll does nothing,
# and SIGHUP switches back to inotify when force_poll is removed.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
T_POLL_MS=300
w_start_live "" "force_poll = true"
expect_wlog 'polling every 300 ms because \[certwatch\] force_poll is set' 5
wlog_has 'watching directory .*/live \(polling\)' || t_fail "the watch set does not say polling"
r0=$(reloads)

install_pair new live
expect_serving new 20
cat old.fullchain.pem >live/tls.crt
cat old.key >live/tls.key
expect_serving old 20
sleep 1
expect_reloads $((r0 + 2))
t_pass "forced polling: rename and in-place rotations served, one reload each"

# Back to inotify on SIGHUP.
w_config "$W/live/tls.crt" "$W/live/tls.key"
kill -HUP "$WATCHER_PID"
expect_wlog 'inotify works for every watched directory; polling stopped' 10
install_pair new live
expect_serving new 20
expect_reloads $((r0 + 3))
t_pass "SIGHUP without force_poll: back to inotify, rotation served"
