#!/bin/bash
# C03: certbot's live/ links re-pointed one at a time (cert, privkey,
# chain, fullchain), each by unlink then symlink, with a visible gap. In
# between, a link is missing or the new key sits beside the old full
# chain. The watcher must not import until the pair is complete and
# matching, then import once. A deploy hook (notify with RENEWED_LINEAGE)
# reloads at once.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
mkpki
mkleaf old
mkleaf new
mkleaf third
L=le/live/example.test
A=le/archive/example.test
mkdir -p "$L" "$A"
v=1
for s in old new third; do
	cp "$s.crt" "$A/cert$v.pem"
	cp int.crt "$A/chain$v.pem"
	cp "$s.fullchain.pem" "$A/fullchain$v.pem"
	install -m 600 "$s.key" "$A/privkey$v.pem"
	v=$((v + 1))
done
for k in cert chain fullchain privkey; do
	ln -s "../../archive/example.test/${k}1.pem" "$L/$k.pem"
done
w_config "$W/$L/fullchain.pem" "$W/$L/privkey.pem"
make_control_key
start_server
expect_serving old 15
start_watcher
r0=$(reloads)

# relink VERSION SERVED: certbot's order, with a gap between unlink and
# symlink; SERVED must stay served until the last link moves.
relink() {
	local k
	for k in cert privkey chain fullchain; do
		rm "$L/$k.pem"
		sleep 0.3
		[ "$k" = fullchain ] || serving "$2" || t_fail "after unlinking $k.pem the server serves '$(served)'"
		ln -s "../../archive/example.test/${k}$1.pem" "$L/$k.pem"
		sleep 0.3
		[ "$k" = fullchain ] || serving "$2" || t_fail "after relinking $k.pem the server serves '$(served)'"
	done
}

relink 2 old
expect_serving new 20
expect_reloads $((r0 + 1))
[ "$(rejections)" -eq 0 ] || t_fail "the watcher sent an incomplete pair: $(rejections) rejections"
[ "$(wlog_count ' (warning|error): ')" -eq 0 ] ||
	t_fail "a transient mismatch was logged above debug: $(grep -m 1 -E ' (warning|error): ' "$W/watcher.log")"
wlog_has 'debug: watch: set not complete yet' || t_fail "the transient states were not logged at debug level"
t_pass "links re-pointed one at a time: one import, after the last link; transients at debug only"

# The links point to "../../archive/...": that directory is listed once, resolved.
[ "$(wlog_count 'watching directory .*/archive/example.test ')" -eq 1 ] ||
	t_fail "the archive directory was listed $(wlog_count 'watching directory .*/archive/example.test ') times"
wlog_has 'watching directory .*/\.\./' && t_fail "a directory was listed unresolved: $(grep -m 1 'watching directory .*/\.\./' "$W/watcher.log")"
t_pass "archive directory listed once, under its resolved name"

# The deploy hook, with the watcher stopped: RENEWED_LINEAGE means complete.
stop_watcher
relink 3 new
out=$(RENEWED_LINEAGE="$W/$L" RENEWED_DOMAINS=api.example.test \
	"$CERTWATCH" notify --config "$W/config.toml" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || t_fail "notify with RENEWED_LINEAGE exited $rc: $out"
[ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] || t_fail "notify printed more than one line: $out"
case $out in
"reloaded: serving serial $(serial third.crt)"*) ;;
*) t_fail "notify printed '$out', expected the served serial of third" ;;
esac
expect_serving third 10
expect_reloads $((r0 + 2))
t_pass "deploy hook with RENEWED_LINEAGE: one reload, one line: $out"
