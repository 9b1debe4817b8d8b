#!/bin/bash
# The audit log stays one JSON object per line when its file system fills
# up: a write cut short by ENOSPC must not leave half a line that the next
# event is glued to. Needs root to mount a small tmpfs; skips otherwise
# (/dev/full, the unprivileged stand-in, never cuts a write short).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require
[ "$(id -u)" -eq 0 ] || t_skip "mounting a tmpfs needs root"

mkdir "$W/full"
mount -t tmpfs -o size=64k tmpfs "$W/full" 2>"$W/mount.log" ||
	t_skip "cannot mount a tmpfs here: $(cat "$W/mount.log")"
F_MOUNTS="$W/full"

mkpki
mkleaf one
mkleaf two
install_pair one "$W/live"
srv_control_key
srv_config
sed -i "s|^path = \"$W/audit.log\"|path = \"$W/full/audit.log\"|" "$W/config.toml"
start_server
f_baseline_server
expect_serving one 15

# Fill the file system, then let events use up the audit file's last page
# until one of them no longer fits.
dd if=/dev/zero of="$W/full/fill" bs=4k >/dev/null 2>&1
for i in $(seq 60); do
	ctl --bad-mac >/dev/null 2>&1
	grep -q 'audit: cannot' "$W/server.log" && break
done
grep -q 'audit: cannot' "$W/server.log" || t_fail "60 events did not fill the audit file"
t_log "the audit write failed after $i events: $(grep 'audit: cannot' "$W/server.log" | head -n 1)"

# Space comes back; the next event must start on a line of its own.
rm -f "$W/full/fill"
install_pair two "$W/live"
f_expect_code ok --type reload --fingerprint "$(fingerprint two.crt)"
f_check_server two "a reload after the audit file system was full"
tail -n 1 "$W/full/audit.log" | grep -q '"action":"cert-reloaded"' ||
	t_fail "the reload is not the last audit line: $(tail -c 300 "$W/full/audit.log")"
f_audit_valid "$W/full/audit.log"
t_pass "audit log after ENOSPC: every line is one JSON object, the reload recorded"
srv_stop_check
