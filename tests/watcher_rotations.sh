#!/bin/bash
# 20 rotations back to back, each one served, with exactly one reload per
# rotation and no rejected reload.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
r0=$(reloads)
for i in $(seq 1 20); do
	if [ $((i % 2)) -eq 1 ]; then next=new; else next=old; fi
	install_pair "$next" live
	expect_serving "$next" 20
done
expect_reloads $((r0 + 20))
[ "$(rejections)" -eq 0 ] || t_fail "$(rejections) reloads were rejected"
t_pass "20 rotations: each served, 20 reloads, none rejected"
