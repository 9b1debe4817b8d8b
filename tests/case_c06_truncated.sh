#!/bin/bash
# C06: the certificate file truncated and rewritten in place in steps
# (empty, cut inside the leaf, cut exactly after the leaf, cut inside the
# last END line, complete), then the key. No intermediate state may reach
# the server; one import follows the complete pair. A complete pair whose
# chain is shorter than the served one is held with a warning.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
r0=$(reloads)
n=$(wc -c <new.fullchain.pem)
leaf=$(wc -c <new.crt)

step() {
	sleep 1
	serving old || t_fail "after '$1' the server serves '$(served)'"
	[ "$(reloads)" -eq "$r0" ] || t_fail "after '$1' a reload happened"
}
: >live/tls.crt
step "empty file"
head -c 300 new.fullchain.pem >live/tls.crt
step "cut inside the leaf"
head -c "$leaf" new.fullchain.pem >live/tls.crt
step "cut exactly after the leaf"
head -c $((n - 10)) new.fullchain.pem >live/tls.crt
step "cut inside the last END line"
cat new.fullchain.pem >live/tls.crt
step "complete certificate, old key"
cat new.key >live/tls.key
expect_serving new 20
expect_reloads $((r0 + 1))
[ "$(rejections)" -eq 0 ] || t_fail "the server rejected $(rejections) reloads: a partial file was sent"
t_pass "in-place rewrite: every partial state held, one import of the complete pair"

# Leaf only with its key while a two-certificate chain is served.
mkleaf short
cat short.crt >live/tls.crt
cat short.key >live/tls.key
expect_wlog 'warning: watch: not replacing served serial .*chain' 20
expect_wlog 'warning: watch: .*live/tls.crt: chain holds only the leaf certificate; its issuer \(.*Example Test Issuing CA.*\) is missing' 5
expect_still new 2
expect_reloads $((r0 + 1))
t_pass "shorter chain held with a warning: $(grep -m 1 'not replacing' "$W/watcher.log" | sed 's/.*warning: //')"

# An encrypted key with no password configured needs an operator, not
# more writes: one warning at once, well before mismatch_grace (30 s).
cat new.fullchain.pem >live/tls.crt
T_KEY_PASS=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n') \
	openssl pkcs8 -topk8 -in new.key -out live/tls.key -passout env:T_KEY_PASS ||
	t_fail "openssl could not encrypt the key"
expect_wlog 'warning: watch: rejected .*live/tls.key \(password_missing' 15
expect_still new 1
[ "$(wlog_count 'password_missing')" -eq 1 ] || t_fail "password_missing was logged $(wlog_count password_missing) times"
t_pass "encrypted key without a password: one warning at once, naming the key"

# A UTF-16 certificate cannot be read for its serial and dates: the
# rejection leaves them out instead of printing "?".
cat new.key >live/tls.key
iconv -f UTF-8 -t UTF-16 new.fullchain.pem >live/tls.crt || t_fail "iconv could not write UTF-16"
expect_wlog 'warning: watch: rejected .*live/tls.crt \(utf16_encoded: .*\); keeping the served certificate' 15
wlog_has 'serial \?' && t_fail "unknown fields were printed: $(grep -m 1 'serial ?' "$W/watcher.log")"
expect_still new 1
t_pass "UTF-16 certificate: rejected without unknown serial and dates"
