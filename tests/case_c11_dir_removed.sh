#!/bin/bash
# C11: the watched directory removed, recreated, swapped by rename, and
# absent when the watcher starts. The served certificate stays while files
# are gone, the watch moves to the nearest existing parent and back, and a
# watcher started without the directory waits for it without spinning.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
T_GRACE_S=2
w_start_live
r0=$(reloads)

rm -rf live
expect_still old 2
expect_wlog "watching directory $W, the nearest existing parent" 10
alive "$WATCHER_PID" watcher
mkdir live
sleep 0.5
install_pair new live
expect_serving new 20
expect_reloads $((r0 + 1))
t_pass "directory removed then recreated: old kept meanwhile, new served after"

mv live live.prev
mkdir live
install_pair old live
expect_serving old 20
expect_reloads $((r0 + 2))
t_pass "directory swapped by rename: followed by name, old served"

# Start without the directory: ready, quiet, and it picks the files up later.
stop_watcher
rm -rf live live.prev
c0=$(wlog_count 'still unusable after')
start_watcher
t_wait_for 20 wlog_more 'still unusable after' "$c0" ||
	t_fail "the watcher never reported the missing files"
sleep 1
w0=$(wakeups "$WATCHER_PID")
sleep 3
w1=$(wakeups "$WATCHER_PID")
[ $((w1 - w0)) -le 2 ] || t_fail "the watcher woke $((w1 - w0)) times in 3 s while waiting for the directory"
[ "$(wlog_count 'still unusable after')" -eq $((c0 + 1)) ] || t_fail "the missing files were reported more than once"
mkdir live
install_pair new live
expect_serving new 20
t_pass "started without the directory: one warning, $((w1 - w0)) wake-ups in 3 s, new served when it appeared"
