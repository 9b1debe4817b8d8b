#!/bin/bash
# C21: the mTLS client-CA bundle rotates like the certificate: by rename
# (overlap bundle), in place (new CA only), and broken (not a certificate,
# then empty). New handshakes follow the valid bundles; a broken bundle is
# refused with a log line naming the file and the previous trust list stays.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
T_GRACE_S=2
mkpki
mkleaf new
mkca ca2 "Example Test Root CA 2"
mkclient client-a ca
mkclient client-b ca2
install_pair new live
cp ca.crt live/clients-ca.pem
w_config "$W/live/tls.crt" "$W/live/tls.key" "client_required = true
client_ca_path = \"$W/live/clients-ca.pem\""
make_control_key
start_server
start_watcher

# accepted NAME: a new connection with NAME's client certificate gets 200.
accepted() {
	local r rc code ser
	r=$(https_request "https://127.0.0.1:$PORT/healthz" --cacert "$W/ca.crt" \
		--cert "$W/$1.crt" --key "$W/$1.key")
	read -r rc code ser <<<"$r"
	[ "$rc" = 0 ] && [ "$code" = 200 ]
}
rejected() { ! accepted "$1"; }
# state A B: expects client-a to be A and client-b to be B (accepted|rejected).
state() {
	t_wait_for 20 "$1" client-a || t_fail "$3: client-a is not $1"
	t_wait_for 20 "$2" client-b || t_fail "$3: client-b is not $2"
	"$1" client-a || t_fail "$3: client-a flipped back"
}

state accepted rejected "start"
r0=$(reloads)

cat ca.crt ca2.crt >both.pem
cp both.pem live/.b && mv -f live/.b live/clients-ca.pem
state accepted accepted "overlap bundle by rename"
expect_reloads $((r0 + 1))
t_pass "overlap bundle renamed in: both clients accepted"

cp ca2.crt live/clients-ca.pem
state rejected accepted "new CA only, copied in place"
expect_reloads $((r0 + 2))
t_pass "in-place copy of the new CA: client-a rejected, client-b accepted"

echo 'not a certificate' >live/clients-ca.pem
expect_wlog "(warning|error): watch: .*clients-ca.pem" 20
state rejected accepted "broken bundle"
: >live/clients-ca.pem
sleep 3
state rejected accepted "empty bundle"
expect_reloads $((r0 + 2))
alive "$SERVER_PID" server
t_pass "broken and empty bundles refused with a log line; trust list unchanged"

cp ca.crt live/clients-ca.pem
state accepted rejected "first CA back"
expect_reloads $((r0 + 3))
t_pass "a valid bundle after the broken ones is picked up"
