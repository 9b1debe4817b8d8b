#!/bin/bash
# C08: event noise. (a) Identical content rewritten 20 times by rename, in
# place, touch and chmod: no import at all, "unchanged" at debug level.
# (b) One real change delivered as a burst of 64-byte appends and metadata
# changes: exactly one import once it settles.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
install_pair new live
expect_serving new 20
r0=$(reloads)
u0=$(wlog_count 'content unchanged')

for i in $(seq 20); do
	cp new.fullchain.pem live/.c && mv -f live/.c live/tls.crt
	cat new.key >live/tls.key
	touch live/tls.key
	chmod 600 live/tls.key
	sleep 0.2
done
sleep 1
expect_reloads "$r0"
[ "$(wlog_count 'content unchanged')" -gt "$u0" ] || t_fail "the no-op rewrites were not logged as unchanged"
[ "$(wlog_count 'notice: watch: new valid set')" -eq 1 ] || t_fail "the watcher treated a rewrite as a new set"
t_pass "20 identical rewrites: no import, logged as unchanged at debug"

: >live/tls.crt
split -b 64 old.fullchain.pem chunk.
for c in chunk.*; do
	cat "$c" >>live/tls.crt
	sleep 0.05
done
rm -f chunk.*
chmod 644 live/tls.crt
touch live/tls.crt
cp old.key live/.k && mv -f live/.k live/tls.key
expect_serving old 20
expect_reloads $((r0 + 1))
[ "$(rejections)" -eq 0 ] || t_fail "a partial state reached the server"
t_pass "burst of $(($(wc -c <old.fullchain.pem) / 64 + 1)) appends: exactly one import"
