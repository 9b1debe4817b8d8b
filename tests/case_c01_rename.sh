#!/bin/bash
# C01: a certificate and key replaced by rename while a hard-linked backup
# keeps the old inodes alive. A watch bound to the old inode would only see
# ATTRIB; the watcher watches the directory, so the new pair is served, and
# a second rotation (backups removed) is served too.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
r0=$(reloads)

# Back up by hard link, then rename the new files over the names.
ln -f live/tls.crt live/tls.crt.bak
ln -f live/tls.key live/tls.key.bak
install_pair new live
expect_serving new 20
expect_reloads $((r0 + 1))
expect_wlog "server now serves serial $(serial new.crt) \\(was $(serial old.crt)\\)"
t_pass "rename with hard-linked backups: new served, one reload, old and new serial logged"

# Second rotation: the watch must still be armed.
rm -f live/*.bak
install_pair old live
expect_serving old 20
expect_reloads $((r0 + 2))
[ "$(rejections)" -eq 0 ] || t_fail "the server rejected $(rejections) reloads"
alive "$WATCHER_PID" watcher
alive "$SERVER_PID" server
t_pass "second rotation served: the directory watch survived the renames"
