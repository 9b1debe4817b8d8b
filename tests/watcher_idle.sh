#!/bin/bash
# An idle watcher does not wake up: with inotify, no timer runs at all;
# with polling, it wakes about once per poll interval. Wake-ups are counted
# from the context switches in /proc/PID/status, not from time.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
install_pair new live
expect_serving new 20
sleep 1
w0=$(wakeups "$WATCHER_PID")
sleep 4
w1=$(wakeups "$WATCHER_PID")
[ $((w1 - w0)) -eq 0 ] || t_fail "the idle watcher woke up $((w1 - w0)) times in 4 s with inotify"
t_pass "inotify, idle 4 s: 0 wake-ups"

stop_watcher
T_POLL_MS=500 w_config "$W/live/tls.crt" "$W/live/tls.key" "" "force_poll = true"
start_watcher
sleep 1
w0=$(wakeups "$WATCHER_PID")
sleep 4
w1=$(wakeups "$WATCHER_PID")
# 8 polls in 4 s; allow one extra switch per poll for the file reads.
[ $((w1 - w0)) -ge 4 ] || t_fail "only $((w1 - w0)) wake-ups in 4 s with a 500 ms poll: is polling on?"
[ $((w1 - w0)) -le 18 ] || t_fail "the polling watcher woke up $((w1 - w0)) times in 4 s (poll interval 500 ms)"
t_pass "polling every 500 ms, idle 4 s: $((w1 - w0)) wake-ups"
