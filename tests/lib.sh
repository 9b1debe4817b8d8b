# Shared helpers for the end-to-end tests. Source it from a test script:
#   . "$top_srcdir/tests/lib.sh"; t_init
# Automake's harness sets top_srcdir, top_builddir, IVICLI and CERTWATCH.
# Exit statuses follow Automake: 0 pass, 1 fail, 77 skip, 99 hard error.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
: "${IVICLI:=$top_builddir/server/ivicli}"
: "${CERTWATCH:=$top_builddir/watcher/ivicli-certwatch}"

T_PIDS=""
T_NAME=$(basename "$0" .sh)

# Creates the private scratch directory $W and the cleanup trap.
t_init() {
	command -v certtool >/dev/null || t_skip "certtool not found (Debian package gnutls-bin)"
	command -v gnutls-cli >/dev/null || t_skip "gnutls-cli not found (Debian package gnutls-bin)"
	W=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-$T_NAME.XXXXXX")
	trap 't_cleanup' EXIT
	trap 'exit 99' INT TERM
	cd "$W" || exit 99
}

# Stops every process this test started (by pid) and removes $W.
t_cleanup() {
	status=$?
	for pid in $T_PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $T_PIDS; do
		wait "$pid" 2>/dev/null
	done
	if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
		for f in "$W"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f") (last 40 lines)"
			tail -n 40 "$f"
		done
	fi
	[ -n "${T_KEEP:-}" ] || rm -rf "$W"
	exit "$status"
}

t_log() { echo "[$T_NAME] $*"; }
t_fail() { echo "FAIL [$T_NAME]: $*"; exit 1; }
t_skip() { echo "SKIP [$T_NAME]: $*"; exit 77; }
t_pass() { echo "ok [$T_NAME]: $*"; }

# Remembers a background pid so t_cleanup stops it.
t_track() { T_PIDS="$T_PIDS $1"; }

# t_wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
t_wait_for() {
	limit=$(($1 * 20))
	shift
	i=0
	while [ "$i" -lt "$limit" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# ---- certificates, made per run with dates relative to now -------------

q() { "$@" >/dev/null 2>&1; }

# mkca NAME "CN": self-signed ECDSA P-256 CA -> NAME.key NAME.crt
mkca() {
	q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1.key"
	printf 'cn = "%s"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n' "$2" >"$1.tmpl"
	q certtool --no-text --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" --outfile "$1.crt"
}

# mkpki: root CA "ca" and issuing CA "int" signed by it.
mkpki() {
	mkca ca "Example Test Root CA"
	q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile int.key
	printf 'cn = "Example Test Issuing CA"\nca\npath_len = 0\ncert_signing_key\ncrl_signing_key\nexpiration_days = 1825\n' >int.tmpl
	q certtool --no-text --generate-certificate --load-privkey int.key --load-ca-certificate ca.crt \
		--load-ca-privkey ca.key --template int.tmpl --outfile int.crt
}

# mkleaf NAME [ecdsa|rsa|ed25519|ed448] [extra template lines, \n separated]
#   -> NAME.key, NAME.crt (leaf only), NAME.fullchain.pem (leaf + int)
mkleaf() {
	n=$1
	kt=${2:-ecdsa}
	extra=${3:-}
	days="expiration_days = 90"
	case $kt in
	rsa) q certtool --no-text --generate-privkey --key-type=rsa --bits=2048 --outfile "$n.key" ;;
	ecdsa) q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$n.key" ;;
	*) q certtool --no-text --generate-privkey --key-type="$kt" --outfile "$n.key" ;;
	esac
	case $extra in *expiration_date*) days="" ;; esac
	printf 'cn = "api.example.test"\ndns_name = "api.example.test"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\n%s\n%b\n' \
		"$days" "$extra" >"$n.tmpl"
	q certtool --no-text --generate-certificate --load-privkey "$n.key" --load-ca-certificate int.crt \
		--load-ca-privkey int.key --template "$n.tmpl" --outfile "$n.crt"
	cat "$n.crt" int.crt >"$n.fullchain.pem"
}

# mkclient NAME CA: TLS client certificate signed by CA.key/CA.crt
mkclient() {
	q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1.key"
	printf 'cn = "%s.example.test"\ntls_www_client\nsigning_key\nexpiration_days = 30\n' "$1" >"$1.tmpl"
	q certtool --no-text --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$2.crt" \
		--load-ca-privkey "$2.key" --template "$1.tmpl" --outfile "$1.crt"
}

# install_pair NAME DIR: certificate then key, each renamed over DIR/tls.crt, DIR/tls.key
install_pair() {
	mkdir -p "$2"
	cp "$1.fullchain.pem" "$2/.tls.crt.tmp" && mv -f "$2/.tls.crt.tmp" "$2/tls.crt"
	cp "$1.key" "$2/.tls.key.tmp" && mv -f "$2/.tls.key.tmp" "$2/tls.key"
	chmod 600 "$2/tls.key"
}

# serial FILE: serial of the first certificate in FILE, lowercase hex
serial() {
	certtool -i --infile "$1" 2>/dev/null | sed -n 's/.*Serial Number (hex): //p' | head -n 1 |
		tr 'A-F' 'a-f'
}

# ---- the product ------------------------------------------------------

# write_config [EXTRA_TLS_LINES]: $W/config.toml for live/tls.crt + live/tls.key
write_config() {
	cat >"$W/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0
pid_file = "$W/server.pid"

[api.tls]
enabled = true
cert_path = "$W/live/tls.crt"
key_path = "$W/live/tls.key"
${1:-}

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"

[certwatch]
poll_interval_ms = ${T_POLL_MS:-1000}
settle_ms = ${T_SETTLE_MS:-50}
CFG
}

# make_control_key: the shared HMAC key, made by the product itself
make_control_key() {
	"$CERTWATCH" keygen --config "$W/config.toml" >"$W/keygen.log" 2>&1 ||
		t_fail "ivicli-certwatch keygen failed"
}

# start_server [ARGS...]: starts the server; sets SERVER_PID and PORT
start_server() {
	rm -f "$W/server.addr"
	"$IVICLI" api start --config "$W/config.toml" --address-file "$W/server.addr" \
		--log-level debug "$@" >>"$W/server.log" 2>&1 &
	SERVER_PID=$!
	t_track "$SERVER_PID"
	t_wait_for 15 test -s "$W/server.addr" || t_fail "server did not write its address within 15 s"
	PORT=$(awk '{print $2; exit}' "$W/server.addr")
}

# start_watcher [ARGS...]: starts the watcher; sets WATCHER_PID
start_watcher() {
	rm -f "$W/watcher.ready"
	"$CERTWATCH" watch --config "$W/config.toml" --ready-file "$W/watcher.ready" \
		--log-level debug "$@" >>"$W/watcher.log" 2>&1 &
	WATCHER_PID=$!
	t_track "$WATCHER_PID"
	t_wait_for 15 test -e "$W/watcher.ready" || t_fail "watcher did not become ready within 15 s"
}

# stop_pid PID: SIGTERM, then wait for it to exit
stop_pid() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# served: serial the server presents now on a fresh handshake (no resumption)
served() {
	gnutls-cli --no-ca-verification --print-cert -p "$PORT" 127.0.0.1 </dev/null 2>/dev/null |
		certtool -i 2>/dev/null | sed -n 's/.*Serial Number (hex): //p' | head -n 1 | tr 'A-F' 'a-f'
}

# serving NAME: true when the served certificate is NAME.crt
serving() { [ "$(served)" = "$(serial "$1.crt")" ]; }

# expect_serving NAME [SECONDS]: waits (bounded) until NAME is served, else fails
expect_serving() {
	t_wait_for "${2:-10}" serving "$1" || t_fail "expected $1 ($(serial "$1.crt")) to be served, got '$(served)'"
}

# expect_still NAME [SECONDS]: NAME stays served for SECONDS (default 1)
expect_still() {
	end=$(($(date +%s) + ${2:-1}))
	while [ "$(date +%s)" -lt "$end" ]; do
		serving "$1" || t_fail "expected $1 to stay served, got '$(served)'"
		sleep 0.2
	done
}

# count_lines PATTERN FILE: lines in FILE matching the extended regex
count_lines() { grep -cE "$1" "$2" 2>/dev/null || true; }
