#!/bin/bash
# A rotation that happened while the watcher was down is not lost: at start
# the watcher asks the server what it serves and reloads when that differs
# from the valid set on disk; when it matches, nothing is sent.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
r0=$(reloads)
stop_watcher
install_pair new live
expect_still old 1
start_watcher
expect_serving new 10
expect_reloads $((r0 + 1))
t_pass "rotation missed while stopped: reloaded at start"

stop_watcher
start_watcher
sleep 1
expect_reloads $((r0 + 1))
expect_wlog 'server already serves these files' 5
t_pass "restart with nothing missed: no reload"
