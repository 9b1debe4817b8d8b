#!/bin/bash
# C05: a new key beside the old certificate that will never match. The
# watcher refuses it (one error line naming both files and both public-key
# ids after the grace period) and the old certificate stays served. A
# reload sent straight to the control socket for that state is rejected by
# the server, which stays up with its credentials.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
T_GRACE_S=1
w_start_live
mkleaf stray
r0=$(reloads)

cp stray.key live/.k && mv -f live/.k live/tls.key
expect_wlog 'error: watch: .* do not match' 20
line=$(grep -m 1 'do not match' "$W/watcher.log")
case $line in *"$(keyid_cert old.crt)"*"$(keyid_key stray.key)"*) ;;
*) t_fail "the error does not name both key ids ($(keyid_cert old.crt), $(keyid_key stray.key)): $line" ;;
esac
expect_still old 2
[ "$(reloads)" -eq "$r0" ] || t_fail "a reload happened with a mismatched pair on disk"
[ "$(rejections)" -eq 0 ] || t_fail "the watcher sent the mismatched pair to the server"
t_pass "wrong key refused by the watcher: error with both key ids, old served"

# Server-side variant: a reload request sent directly, bypassing the watcher.
stop_watcher
out=$("$CERTWATCH" notify --config "$W/config.toml" 2>&1)
rc=$?
[ "$rc" -eq 65 ] || t_fail "notify on a mismatched pair exited $rc, expected 65: $out"
[ -x "${CTLPROBE:-}" ] || t_fail "tests/ctlprobe not built (CTLPROBE=${CTLPROBE:-unset})"
fp_old=$(certtool --fingerprint --hash=sha256 --infile old.crt 2>/dev/null | tr -d ':' | tr 'A-F' 'a-f')
for fp in "$fp_old" "$(printf '%064d' 0)"; do
	"$CTLPROBE" --socket "$W/run/control.sock" --key "$W/control.key" --type reload \
		--fingerprint "$fp" >>"$W/probe.log" 2>&1
	alive "$SERVER_PID" server
done
t_wait_for 10 grep -q 'cert-reload-rejected' "$W/audit.log" ||
	t_fail "the server did not reject a direct reload of the mismatched pair"
grep 'cert-reload-rejected' "$W/audit.log" | grep -q 'key_mismatch' ||
	t_fail "the rejection does not carry key_mismatch: $(grep cert-reload-rejected "$W/audit.log")"
expect_still old 1
alive "$SERVER_PID" server
[ "$(reloads)" -eq "$r0" ] || t_fail "the server reloaded a mismatched pair"
t_pass "direct reload rejected; server up and still serving old"
