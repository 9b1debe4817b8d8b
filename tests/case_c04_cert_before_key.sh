#!/bin/bash
# C04: certificate and key renewed by two separate renames, in either
# order. While the pair does not match, the old one stays served and no
# reload is sent; exactly one reload follows when the matching half
# arrives. A mismatch that outlasts the grace period is logged once, at
# error level, naming both files and both public-key ids.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
T_GRACE_S=3
w_start_live
r0=$(reloads)

# Certificate first.
cp new.fullchain.pem live/.c && mv -f live/.c live/tls.crt
expect_still old 2
[ "$(reloads)" -eq "$r0" ] || t_fail "a reload was sent while the key was still the old one"
cp new.key live/.k && mv -f live/.k live/tls.key
expect_serving new 20
expect_reloads $((r0 + 1))
t_pass "certificate before key: old kept during the mismatch, one reload after the key"

# Key first (acme.sh --install-cert order), then the certificate.
cp old.key live/.k && mv -f live/.k live/tls.key
expect_still new 2
cp old.fullchain.pem live/.c && mv -f live/.c live/tls.crt
expect_serving old 20
expect_reloads $((r0 + 2))
[ "$(rejections)" -eq 0 ] || t_fail "the server rejected $(rejections) reloads: a mismatched pair was sent"
[ "$(wlog_count 'do not match')" -eq 0 ] || t_fail "a short mismatch was escalated before the grace period"
t_pass "key before certificate: old kept, one reload, nothing above debug"

# A mismatch that lasts past the 3 s grace period: one error line, both ids.
cp new.fullchain.pem live/.c && mv -f live/.c live/tls.crt
expect_wlog 'error: watch: .*live/tls.crt and .*live/tls.key do not match' 20
line=$(grep -m 1 'do not match' "$W/watcher.log")
case $line in *"$(keyid_cert new.crt)"*) ;; *) t_fail "the error does not name the certificate's key id: $line" ;; esac
case $line in *"$(keyid_key old.key)"*) ;; *) t_fail "the error does not name the private key's id: $line" ;; esac
sleep 2
[ "$(wlog_count 'do not match')" -eq 1 ] || t_fail "the mismatch was logged $(wlog_count 'do not match') times"
serving old || t_fail "the server serves '$(served)' during a lasting mismatch"
cp new.key live/.k && mv -f live/.k live/tls.key
expect_serving new 20
expect_reloads $((r0 + 3))
t_pass "lasting mismatch: one error naming both files and key ids, then healed by the key"
