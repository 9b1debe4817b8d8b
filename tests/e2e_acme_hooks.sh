#!/bin/bash
# ACME client hooks, offline: `ivicli-certwatch notify` run with the
# environment that lego (--renew-hook), acme.sh (--reloadcmd) and certbot
# (--deploy-hook) set, right and wrong. Wrong input is an empty or missing
# variable, a path without the dot before the extension (as a lego release
# of 2020 sent), or a path that does not exist. It must fail with a
# sysexits status and one line naming the variable, without contacting the
# server. Right input reloads
# the server exactly once. The watcher is not running, so only the hook can
# cause a reload.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"

NAME=api.example.test
HOOK_VARS="RENEWED_LINEAGE RENEWED_DOMAINS LEGO_CERT_DOMAIN LEGO_CERT_PATH LEGO_CERT_KEY_PATH
LEGO_CERT_PEM_PATH LEGO_CERT_PFX_PATH CERT_PATH CERT_KEY_PATH CA_CERT_PATH CERT_FULLCHAIN_PATH Le_Domain"

t_init
command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
e2e_require_programs

mkpki
mkleaf old
mkleaf new

# generation: the credentials generation the server reports in /metrics.
generation() {
	curl -sf --max-time 10 --cacert "$W/ca.crt" "https://127.0.0.1:$PORT/metrics" |
		awk '$1 == "ivicli_tls_credentials_generation" { print $2 }'
}

# server_for CERT KEY: (re)starts the server on CERT and KEY, which start
# out holding the old pair.
server_for() {
	[ -n "${SERVER_PID:-}" ] && stop_pid "$SERVER_PID"
	mkdir -p "$(dirname "$1")" "$(dirname "$2")"
	cp old.fullchain.pem "$1"
	install -m 600 old.key "$2"
	cat >"$W/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0
pid_file = "$W/server.pid"

[api.tls]
enabled = true
cert_path = "$1"
key_path = "$2"

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"
CFG
	[ -f "$W/control.key" ] || make_control_key
	start_server
	expect_serving old 15
	# The new pair is on disk from here on: a hook that wrongly contacted the
	# server would make it reload, which the checks below would see.
	cp new.fullchain.pem "$1"
	install -m 600 new.key "$2"
}

# hook VAR=VALUE...: runs notify with exactly these hook variables set (all
# others of HOOK_VARS removed). Sets HOOK_RC and HOOK_OUT (stdout+stderr).
hook() {
	local unset_args=() v
	for v in $HOOK_VARS; do
		unset_args+=(-u "$v")
	done
	env "${unset_args[@]}" "$@" "$CERTWATCH" notify --config "$W/config.toml" >"$W/hook.out" 2>&1
	HOOK_RC=$?
	HOOK_OUT=$(cat "$W/hook.out")
	printf '%s\n' "$HOOK_OUT" >>"$W/hooks.log"
}

# expect_rejected CASE VARIABLE VAR=VALUE...: the hook must fail with a
# sysexits status and one line naming VARIABLE, and leave the server alone.
expect_rejected() {
	local case=$1 var=$2 gen0 audit0 lines
	shift 2
	gen0=$(generation)
	[ -n "$gen0" ] || t_fail "$case: cannot read the generation from /metrics"
	audit0=$(grep -c . "$W/audit.log" 2>/dev/null || true)
	hook "$@"
	if [ "$HOOK_RC" -lt 64 ] || [ "$HOOK_RC" -gt 78 ]; then
		t_fail "$case: notify exited $HOOK_RC, expected a sysexits status (64-78): $HOOK_OUT"
	fi
	lines=$(printf '%s\n' "$HOOK_OUT" | grep -c .)
	[ "$lines" -eq 1 ] || t_fail "$case: notify printed $lines lines, expected one: $HOOK_OUT"
	case $HOOK_OUT in
	*"$var"*) ;;
	*) t_fail "$case: the message does not name $var: $HOOK_OUT" ;;
	esac
	[ "$(grep -c . "$W/audit.log" 2>/dev/null || true)" -eq "$audit0" ] ||
		t_fail "$case: the server wrote an audit line, so the hook contacted it: $(tail -n 1 "$W/audit.log")"
	[ "$(generation)" = "$gen0" ] || t_fail "$case: the server's generation changed from $gen0"
	serving old || t_fail "$case: the server no longer serves the old certificate"
	t_pass "$case: exit $HOOK_RC, \"$HOOK_OUT\""
}

# expect_reloaded CASE VAR=VALUE...: the hook must succeed with one line and
# make the server reload exactly once, to the new certificate.
expect_reloaded() {
	local case=$1 gen0 reloads lines first_out
	shift
	gen0=$(generation)
	[ -n "$gen0" ] || t_fail "$case: cannot read the generation from /metrics"
	reloads=$(audit_count cert-reloaded)
	hook "$@"
	[ "$HOOK_RC" -eq 0 ] || t_fail "$case: notify exited $HOOK_RC: $HOOK_OUT"
	lines=$(printf '%s\n' "$HOOK_OUT" | grep -c .)
	[ "$lines" -eq 1 ] || t_fail "$case: notify printed $lines lines, expected one: $HOOK_OUT"
	serving new || t_fail "$case: after notify the server serves '$(served)', expected new"
	expect_audit_count cert-reloaded $((reloads + 1))
	[ "$(generation)" -eq $((gen0 + 1)) ] || t_fail "$case: generation went from $gen0 to $(generation)"
	first_out=$HOOK_OUT

	# Running the hook again with nothing changed on disk reloads nothing.
	hook "$@"
	[ "$HOOK_RC" -eq 0 ] || t_fail "$case, repeated: notify exited $HOOK_RC: $HOOK_OUT"
	expect_audit_count cert-reloaded $((reloads + 1))
	[ "$(generation)" -eq $((gen0 + 1)) ] || t_fail "$case, repeated: the generation changed again"
	t_pass "$case: exit 0, one reload, \"$first_out\""
}

# ---- lego: --renew-hook ---------------------------------------------------

D="$W/lego/certificates"
server_for "$D/$NAME.crt" "$D/$NAME.key"
expect_rejected "lego, no dot before the extension" LEGO_CERT_PATH \
	LEGO_CERT_DOMAIN=$NAME LEGO_CERT_PATH="$D/${NAME}crt" LEGO_CERT_KEY_PATH="$D/${NAME}key"
expect_rejected "lego, empty certificate path" LEGO_CERT_PATH \
	LEGO_CERT_DOMAIN=$NAME LEGO_CERT_PATH= LEGO_CERT_KEY_PATH="$D/$NAME.key"
expect_rejected "lego, key path missing" LEGO_CERT_KEY_PATH \
	LEGO_CERT_DOMAIN=$NAME LEGO_CERT_PATH="$D/$NAME.crt"
expect_rejected "lego, key path does not exist" LEGO_CERT_KEY_PATH \
	LEGO_CERT_DOMAIN=$NAME LEGO_CERT_PATH="$D/$NAME.crt" LEGO_CERT_KEY_PATH="$W/nowhere/$NAME.key"
expect_reloaded "lego, correct paths" \
	LEGO_CERT_DOMAIN=$NAME LEGO_CERT_PATH="$D/$NAME.crt" LEGO_CERT_KEY_PATH="$D/$NAME.key"

# ---- acme.sh: --reloadcmd -------------------------------------------------

D="$W/acme/$NAME"
server_for "$D/fullchain.cer" "$D/$NAME.key"
cp new.crt "$D/$NAME.cer"
cp int.crt "$D/ca.cer"
expect_rejected "acme.sh, empty full-chain path" CERT_FULLCHAIN_PATH \
	Le_Domain=$NAME CERT_PATH="$D/$NAME.cer" CERT_KEY_PATH="$D/$NAME.key" \
	CA_CERT_PATH="$D/ca.cer" CERT_FULLCHAIN_PATH=
expect_rejected "acme.sh, key path does not exist" CERT_KEY_PATH \
	Le_Domain=$NAME CERT_PATH="$D/$NAME.cer" CERT_KEY_PATH="$D/missing.key" \
	CA_CERT_PATH="$D/ca.cer" CERT_FULLCHAIN_PATH="$D/fullchain.cer"
expect_rejected "acme.sh, full-chain path does not exist" CERT_FULLCHAIN_PATH \
	Le_Domain=$NAME CERT_PATH="$D/$NAME.cer" CERT_KEY_PATH="$D/$NAME.key" \
	CA_CERT_PATH="$D/ca.cer" CERT_FULLCHAIN_PATH="$D/fullchaincer"

# ---- certbot: --deploy-hook, wrong forms only (e2e_acme.sh runs the real one)

expect_rejected "certbot, empty lineage" RENEWED_LINEAGE \
	RENEWED_LINEAGE= RENEWED_DOMAINS=$NAME
expect_rejected "certbot, lineage does not exist" RENEWED_LINEAGE \
	RENEWED_LINEAGE="$W/le/live/$NAME" RENEWED_DOMAINS=$NAME

expect_reloaded "acme.sh, correct paths" \
	Le_Domain=$NAME CERT_PATH="$D/$NAME.cer" CERT_KEY_PATH="$D/$NAME.key" \
	CA_CERT_PATH="$D/ca.cer" CERT_FULLCHAIN_PATH="$D/fullchain.cer"
