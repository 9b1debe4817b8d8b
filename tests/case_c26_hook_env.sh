#!/bin/bash
# C26: the deploy-hook environment is wrong or missing. notify checks every
# path an ACME client passes before it signals the server: a variable set
# but empty, a path that does not exist (lego once dropped the dot before
# the extension) or a pair that does not match fails with a sysexits status
# and one line naming the variable and value, and the server is not
# contacted. Correct values reload exactly once and exit 0; usable paths
# that are not the configured files are warned about by name.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

HOOK_VARS="RENEWED_LINEAGE RENEWED_DOMAINS LEGO_CERT_DOMAIN LEGO_CERT_PATH LEGO_CERT_KEY_PATH
CERT_PATH CERT_KEY_PATH CA_CERT_PATH CERT_FULLCHAIN_PATH Le_Domain"

t_init
mkpki
mkleaf old
mkleaf new
mkleaf stray
D="$W/lego/certificates"
N=api.example.test
mkdir -p "$D"
cp old.fullchain.pem "$D/$N.crt"
install -m 600 old.key "$D/$N.key"
w_config "$D/$N.crt" "$D/$N.key"
make_control_key
start_server
expect_serving old 15
cp new.fullchain.pem "$D/$N.crt"
install -m 600 new.key "$D/$N.key"

# hook VAR=VALUE...: notify with only these hook variables set.
hook() {
	local args=() v
	for v in $HOOK_VARS; do args+=(-u "$v"); done
	env "${args[@]}" "$@" "$CERTWATCH" notify --config "$W/config.toml" >"$W/hook.out" 2>&1
	HOOK_RC=$?
	HOOK_OUT=$(cat "$W/hook.out")
}

# rejected CASE VAR VALUE VAR=VALUE...: one line naming VAR and VALUE, a
# sysexits status, and no audit line (the server was not contacted).
rejected() {
	local case=$1 var=$2 value=$3 a0
	shift 3
	a0=$(grep -c . "$W/audit.log")
	hook "$@"
	[ "$HOOK_RC" -ge 64 ] && [ "$HOOK_RC" -le 78 ] || t_fail "$case: exit $HOOK_RC: $HOOK_OUT"
	[ "$(printf '%s\n' "$HOOK_OUT" | grep -c .)" -eq 1 ] || t_fail "$case: more than one line: $HOOK_OUT"
	case $HOOK_OUT in *"$var"*) ;; *) t_fail "$case: $var not named: $HOOK_OUT" ;; esac
	case $HOOK_OUT in *"$value"*) ;; *) t_fail "$case: value '$value' not named: $HOOK_OUT" ;; esac
	[ "$(grep -c . "$W/audit.log")" -eq "$a0" ] || t_fail "$case: the server was contacted"
	serving old || t_fail "$case: the server no longer serves old"
	t_pass "$case: exit $HOOK_RC: $HOOK_OUT"
}

rejected "lego, no dot before the extension" LEGO_CERT_PATH "$D/${N}crt" \
	LEGO_CERT_DOMAIN=$N LEGO_CERT_PATH="$D/${N}crt" LEGO_CERT_KEY_PATH="$D/${N}key"
rejected "lego, key of another certificate" LEGO_CERT_KEY_PATH "$W/stray.key" \
	LEGO_CERT_DOMAIN=$N LEGO_CERT_PATH="$D/$N.crt" LEGO_CERT_KEY_PATH="$W/stray.key"
rejected "certbot, empty lineage" RENEWED_LINEAGE "" RENEWED_LINEAGE= RENEWED_DOMAINS=$N
rejected "certbot, missing lineage" RENEWED_LINEAGE "$W/le/live/$N" \
	RENEWED_LINEAGE="$W/le/live/$N" RENEWED_DOMAINS=$N
rejected "acme.sh, empty full-chain path" CERT_FULLCHAIN_PATH "" \
	CERT_KEY_PATH="$D/$N.key" CERT_FULLCHAIN_PATH= Le_Domain=$N

r0=$(reloads)
hook LEGO_CERT_DOMAIN=$N LEGO_CERT_PATH="$D/$N.crt" LEGO_CERT_KEY_PATH="$D/$N.key"
[ "$HOOK_RC" -eq 0 ] || t_fail "lego, correct paths: exit $HOOK_RC: $HOOK_OUT"
case $HOOK_OUT in
"reloaded: serving serial $(serial new.crt), not after "*", generation "*) ;;
*) t_fail "lego, correct paths: unexpected output: $HOOK_OUT" ;;
esac
expect_serving new 10
expect_reloads $((r0 + 1))
first=$HOOK_OUT
hook LEGO_CERT_DOMAIN=$N LEGO_CERT_PATH="$D/$N.crt" LEGO_CERT_KEY_PATH="$D/$N.key"
[ "$HOOK_RC" -eq 0 ] || t_fail "lego, repeated: exit $HOOK_RC: $HOOK_OUT"
case $HOOK_OUT in "unchanged: serving serial $(serial new.crt)"*) ;; *) t_fail "lego, repeated: $HOOK_OUT" ;; esac
expect_reloads $((r0 + 1))
t_pass "lego, correct paths: exactly one reload, one line: $first; then: $HOOK_OUT"

# Usable files that are not the configured ones: a warning naming them.
mkdir -p "$W/elsewhere"
cp new.fullchain.pem "$W/elsewhere/cert.pem"
install -m 600 new.key "$W/elsewhere/key.pem"
hook CERT_FULLCHAIN_PATH="$W/elsewhere/cert.pem" CERT_KEY_PATH="$W/elsewhere/key.pem" Le_Domain=$N
[ "$HOOK_RC" -eq 0 ] || t_fail "acme.sh, other files: exit $HOOK_RC: $HOOK_OUT"
printf '%s\n' "$HOOK_OUT" | grep -q "warning: notify: CERT_FULLCHAIN_PATH=$W/elsewhere/cert.pem is not the configured certificate" ||
	t_fail "acme.sh, other files: no warning naming CERT_FULLCHAIN_PATH: $HOOK_OUT"
printf '%s\n' "$HOOK_OUT" | grep -q "warning: notify: CERT_KEY_PATH=$W/elsewhere/key.pem is not the configured key" ||
	t_fail "acme.sh, other files: no warning naming CERT_KEY_PATH: $HOOK_OUT"
expect_reloads $((r0 + 1))
t_pass "acme.sh paths outside the config: warned by name, configured files used"
