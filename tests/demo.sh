#!/bin/bash
# The README demo: rotate a certificate under a running server and watch
# the next TLS connection pick it up, with no restart.
#
#   tests/demo.sh BUILD_DIR      (./quickstart demo runs it on build/)
#
# Everything lives in a temporary directory: a throwaway CA, two server
# certificates, the control key, the configuration, the logs. Nothing is
# read from /etc and nothing is left behind. The server and the watcher
# listen on 127.0.0.1 and on a Unix socket in that directory only.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -d "$BUILD" ]; then
	echo "usage: $0 BUILD_DIR (the directory where ivicli was built)" >&2
	exit 64
fi
BUILD=$(cd "$BUILD" && pwd)
IVICLI="$BUILD/server/ivicli"
CERTWATCH="$BUILD/watcher/ivicli-certwatch"
for prog in "$IVICLI" "$CERTWATCH"; do
	if [ ! -x "$prog" ]; then
		echo "demo: $prog not found; build first (./quickstart demo does)" >&2
		exit 69
	fi
done
for tool in certtool curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "demo: $tool not found; install the Debian packages gnutls-bin and curl" >&2
		exit 69
	fi
done

# The certificate helpers (mkpki, mkleaf, install_pair, serial) are the
# ones the test suite uses.
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=$BUILD
export top_srcdir top_builddir IVICLI CERTWATCH
. "$top_srcdir/tests/lib.sh"

STEPS=8
step=0
started=$(date +%s%N)
SERVER_PID=""
WATCHER_PID=""

say() { printf '%s\n' "$*"; }
show() { printf '      %-11s %s\n' "$1" "$2"; }
next_step() {
	step=$((step + 1))
	printf '\n[%d/%d] %s\n' "$step" "$STEPS" "$*"
}

# Stops what the demo started, by pid, and removes the directory.
cleanup() {
	status=$?
	for pid in $WATCHER_PID $SERVER_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$status" -ne 0 ] && [ -n "${W:-}" ]; then
		for f in "$W/server.log" "$W/watcher.log"; do
			[ -f "$f" ] || continue
			say "---- $(basename "$f") (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	[ -n "${W:-}" ] && rm -rf "$W"
	exit "$status"
}

die() {
	say "demo: $*" >&2
	exit 1
}

# peer_cert: what a TLS client sees on a new connection to the server,
# verifying the chain against the throwaway CA. Sets PEER_SERIAL and
# PEER_NOT_AFTER (RFC 3339, UTC).
peer_cert() {
	local out expire
	PEER_SERIAL=""
	PEER_NOT_AFTER=""
	out=$(curl -sS --max-time 10 --cacert "$W/ca.crt" -o /dev/null -w '%{certs}' \
		"https://127.0.0.1:$PORT/healthz" 2>/dev/null) || return 1
	PEER_SERIAL=$(printf '%s\n' "$out" | sed -n 's/^Serial Number: *//p' | head -n 1 |
		tr -d ':' | tr 'A-F' 'a-f' | sed 's/^0*//')
	expire=$(printf '%s\n' "$out" | sed -n 's/^Expire date: *//p' | head -n 1)
	PEER_NOT_AFTER=$(date -u -d "$expire" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null)
	[ -n "$PEER_SERIAL" ]
}

# wait_for SECONDS COMMAND...: polls COMMAND every 100 ms.
wait_for() {
	local limit=$(($1 * 10)) i=0
	shift
	while [ "$i" -lt "$limit" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

serving_serial() { peer_cert && [ "$PEER_SERIAL" = "$1" ]; }

W=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-demo.XXXXXX") || die "cannot create a temporary directory"
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$W" || exit 1
say "ivicli demo: certificate rotation without a restart"
say "working directory: $W (removed at the end)"

next_step "Making a throwaway CA, two server certificates (a and b) and a control key"
mkpki
mkleaf a
mkleaf b
install_pair a live
write_config
"$CERTWATCH" keygen --config "$W/config.toml" >"$W/keygen.log" 2>&1 ||
	die "ivicli-certwatch keygen failed: $(cat "$W/keygen.log")"
show "CA:" "$W/ca.crt (root) and $W/int.crt (issuing)"
show "served:" "$W/live/tls.crt and $W/live/tls.key (certificate a)"
show "config:" "$W/config.toml"

next_step "Starting the server: ivicli api start --config config.toml"
"$IVICLI" api start --config "$W/config.toml" --address-file "$W/server.addr" \
	>"$W/server.log" 2>&1 &
SERVER_PID=$!
wait_for 15 test -s "$W/server.addr" || die "the server did not start; see the log below"
PORT=$(awk '{print $2; exit}' "$W/server.addr")
show "pid:" "$SERVER_PID"
show "listens on:" "https://127.0.0.1:$PORT/"

next_step "Starting the watcher: ivicli-certwatch watch --config config.toml"
"$CERTWATCH" watch --config "$W/config.toml" --ready-file "$W/watcher.ready" \
	>"$W/watcher.log" 2>&1 &
WATCHER_PID=$!
wait_for 15 test -e "$W/watcher.ready" || die "the watcher did not become ready; see the log below"
show "pid:" "$WATCHER_PID"
show "watches:" "$W/live/"

next_step "Connecting with curl, which verifies the chain against the throwaway CA"
wait_for 15 peer_cert || die "curl could not connect to https://127.0.0.1:$PORT/"
first_serial=$PEER_SERIAL
show "serial:" "$PEER_SERIAL"
show "not_after:" "$PEER_NOT_AFTER"
show "server pid:" "$SERVER_PID"

next_step "Rotating: certificate b and its key are renamed over live/tls.crt and live/tls.key"
want=$(serial b.crt | sed 's/^0*//')
install_pair b live
show "new serial:" "$want"

next_step "Connecting again: the next handshake presents certificate b"
wait_for 20 serving_serial "$want" || die "the server still presents serial $PEER_SERIAL after 20 s"
show "serial:" "$PEER_SERIAL"
show "not_after:" "$PEER_NOT_AFTER"
kill -0 "$SERVER_PID" 2>/dev/null || die "the server process $SERVER_PID is gone"
show "server pid:" "$SERVER_PID (same process, no restart)"
[ "$PEER_SERIAL" != "$first_serial" ] || die "the serial did not change"

next_step "The server's audit log recorded the reload"
wait_for 10 grep -q '"cert-reloaded"' "$W/audit.log" || die "no cert-reloaded line in $W/audit.log"
grep '"cert-reloaded"' "$W/audit.log" | tail -n 1 | sed 's/^/      /'

next_step "Stopping the watcher and the server, removing $W"
for pid in $WATCHER_PID $SERVER_PID; do
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
WATCHER_PID=""
SERVER_PID=""
say ""
say "Done in $((($(date +%s%N) - started) / 1000000)) ms (after the build). Read docs/operations.md to set this up for real."
