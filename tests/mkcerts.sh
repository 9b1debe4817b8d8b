#!/bin/sh
# Generates every certificate, key, PKCS#12, CA bundle and CRL variant that
# tests/check_bundle.c and bench/bundle_load.c read, into DIR.
#
#   tests/mkcerts.sh DIR          the unit test fixtures
#   tests/mkcerts.sh DIR --bench  also an RSA-4096 pair, for the benchmark
#
# Dates are relative to now, so nothing here expires in git. Needs certtool
# (gnutls-bin), openssl and iconv. The password of every encrypted key and
# PKCS#12 file is "s3cret" unless the file name says otherwise.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [--bench]" >&2
	exit 64
fi
dir=$1
bench=${2:-}
mkdir -p "$dir"
cd "$dir"

q() { "$@" >/dev/null 2>&1; }
when() { date -u -d "$1" '+%Y-%m-%d %H:%M:%S'; }

# genkey NAME ecdsa|rsa|rsa4096|ed25519|ed448
genkey() {
	case $2 in
	ecdsa) q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1.key" ;;
	rsa) q certtool --no-text --generate-privkey --key-type=rsa --bits=2048 --outfile "$1.key" ;;
	rsa4096) q certtool --no-text --generate-privkey --key-type=rsa --bits=4096 --outfile "$1.key" ;;
	*) q certtool --no-text --generate-privkey --key-type="$2" --outfile "$1.key" ;;
	esac
}

# mkca NAME "CN": self-signed ECDSA root CA
mkca() {
	genkey "$1" ecdsa
	printf 'cn = "%s"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n' "$2" >"$1.tmpl"
	q certtool --no-text --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" \
		--outfile "$1.crt"
}

# mkint NAME ISSUER "CN": issuing CA signed by ISSUER
mkint() {
	genkey "$1" ecdsa
	printf 'cn = "%s"\nca\npath_len = 0\ncert_signing_key\ncrl_signing_key\nexpiration_days = 1825\n' \
		"$3" >"$1.tmpl"
	q certtool --no-text --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$2.crt" \
		--load-ca-privkey "$2.key" --template "$1.tmpl" --outfile "$1.crt"
}

# mkleaf NAME KEYTYPE [TEMPLATE LINES]: server leaf signed by "int", with
# NAME.key, NAME.crt (leaf) and NAME.fullchain.pem (leaf + int). The
# template lines replace the default usage (tls_www_server, 90 days).
mkleaf() {
	genkey "$1" "$2"
	extra=${3:-'tls_www_server\nexpiration_days = 90'}
	printf 'cn = "api.example.test"\ndns_name = "api.example.test"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nip_address = "::1"\nsigning_key\nencryption_key\n%b\n' \
		"$extra" >"$1.tmpl"
	q certtool --no-text --generate-certificate --load-privkey "$1.key" --load-ca-certificate int.crt \
		--load-ca-privkey int.key --template "$1.tmpl" --outfile "$1.crt"
	cat "$1.crt" int.crt >"$1.fullchain.pem"
}

# ---- CAs -----------------------------------------------------------------
mkca ca "Example Test Root CA"
mkca ca2 "Example Test Other Root CA"
mkint int ca "Example Test Issuing CA"
# Same name as int but another key: its signature cannot verify the leaves.
mkint intfake ca "Example Test Issuing CA"

# ---- Leaves by key type ----------------------------------------------------
mkleaf ec ecdsa
mkleaf rsa rsa
mkleaf ed25519 ed25519
mkleaf ed448 ed448
genkey stray ecdsa

# Key encodings of the ec and rsa keys.
openssl pkey -in ec.key -out ec.p8.key
openssl pkey -in rsa.key -out rsa.p8.key
openssl ecparam -name prime256v1 -out ec.params
cat ec.params ec.key >ec.withparams.key
openssl pkcs8 -topk8 -in ec.key -v2 aes-256-cbc -passout pass:s3cret -out ec.p8enc.key
openssl ec -in ec.key -aes256 -passout pass:s3cret -out ec.legacyenc.key 2>/dev/null
openssl pkcs8 -topk8 -in rsa.key -v2 aes-256-cbc -passout pass:s3cret -out rsa.p8enc.key
# A key file that starts with certtool's readable dump of the key.
certtool -k --infile ec.key >ec.dump.key 2>/dev/null
# Key and chain in one file.
cat ec.key ec.fullchain.pem >ec.combined.pem

# ---- Validity ------------------------------------------------------------
mkleaf expired ecdsa "tls_www_server\nactivation_date = \"$(when '-100 days')\"\nexpiration_date = \"$(when '-10 days')\""
mkleaf future ecdsa "tls_www_server\nactivation_date = \"$(when '+2 hours')\"\nexpiration_date = \"$(when '+90 days')\""
mkleaf skewed ecdsa "tls_www_server\nactivation_date = \"$(when '+90 seconds')\"\nexpiration_date = \"$(when '+90 days')\""
mkleaf soon ecdsa "tls_www_server\nactivation_date = \"$(when '-80 days')\"\nexpiration_date = \"$(when '+5 days')\""
mkleaf older ecdsa "tls_www_server\nactivation_date = \"$(when '-30 days')\"\nexpiration_date = \"$(when '+60 days')\""

# ---- Key usage -----------------------------------------------------------
mkleaf clientonly ecdsa 'tls_www_client\nexpiration_days = 90'
mkleaf noeku ecdsa 'expiration_days = 90'

# ---- Chain order ---------------------------------------------------------
cat int.crt ec.crt >ec.shuffled.pem
cat ec.crt ca.crt int.crt >ec.withroot.pem
cat ec.crt rsa.crt int.crt int.crt >ec.extras.pem
cat ec.crt intfake.crt >ec.badissuer.pem

# ---- Text noise ----------------------------------------------------------
printf '\357\273\277' | cat - ec.fullchain.pem >ec.bom.pem
printf '\357\273\277' | cat - ec.key >ec.bom.key
sed 's/$/\r/' ec.fullchain.pem >ec.crlf.pem
sed 's/$/\r/' ec.key >ec.crlf.key
printf '\357\273\277' | cat - ec.crlf.pem >ec.bomcrlf.pem
{ certtool -i --infile ec.crt; cat int.crt; } >ec.textbefore.pem 2>/dev/null
{ cat ec.fullchain.pem; echo 'trailing text after the last END line'; } >ec.trailing.pem
iconv -f ascii -t utf-16 ec.fullchain.pem >ec.utf16.pem
iconv -f ascii -t utf-16le ec.fullchain.pem >ec.utf16le.pem

# ---- Damaged files -------------------------------------------------------
: >empty.pem
echo 'this file holds no PEM block' >nopem.txt
n=$(wc -c <ec.fullchain.pem)
head -c $((n - 10)) ec.fullchain.pem >ec.cut-end.pem
head -c 300 ec.fullchain.pem >ec.cut-body.pem
head -c 200 ec.key >ec.cut.key
certtool --certificate-info --infile ec.crt --outder --outfile ec.der >/dev/null 2>&1
printf -- '-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n' >garbage.pem

# ---- PKCS#12 ---------------------------------------------------------------
openssl pkcs12 -export -in ec.crt -certfile int.crt -inkey ec.key -name api.example.test \
	-passout pass:s3cret -out p-openssl-aes.p12
openssl pkcs12 -export -legacy -in ec.crt -certfile int.crt -inkey ec.key -name api.example.test \
	-passout pass:s3cret -out p-openssl-legacy.p12
openssl pkcs12 -export -in ec.crt -certfile int.crt -inkey ec.key -name api.example.test \
	-passout pass: -out p-empty.p12
openssl pkcs12 -export -in ed25519.crt -certfile int.crt -inkey ed25519.key -name api.example.test \
	-passout pass:s3cret -out p-ed25519.p12
openssl pkcs12 -export -in rsa.crt -certfile int.crt -inkey rsa.key -name api.example.test \
	-passout pass:s3cret -out p-rsa.p12
for c in aes-256 3des-pkcs12 rc2-40; do
	q certtool --to-p12 --load-certificate ec.fullchain.pem --load-privkey ec.key \
		--p12-name api.example.test --pkcs-cipher "$c" --password s3cret --outder \
		--outfile "p-certtool-$c.p12"
done
q certtool --to-p12 --load-certificate ec.fullchain.pem --load-privkey ec.key \
	--p12-name api.example.test --null-password --outder --outfile p-nopass.p12

# ---- Client CAs, client certificates, CRL ----------------------------------------
# mkclient NAME: TLS client certificate signed by the root CA "ca"
mkclient() {
	genkey "$1" ecdsa
	printf 'cn = "%s.example.test"\ntls_www_client\nsigning_key\nexpiration_days = 30\n' "$1" >"$1.tmpl"
	q certtool --no-text --generate-certificate --load-privkey "$1.key" --load-ca-certificate ca.crt \
		--load-ca-privkey ca.key --template "$1.tmpl" --outfile "$1.crt"
}
mkclient client-good
mkclient client-revoked
cat ca.crt ca2.crt >clientca.pem
cat ca.crt ec.crt >clientca-leaf.pem
printf 'crl_next_update = 30\ncrl_number = 1\n' >crl.tmpl
q certtool --generate-crl --load-ca-privkey ca.key --load-ca-certificate ca.crt \
	--load-certificate client-revoked.crt --template crl.tmpl --outfile crl.pem
certtool --crl-info --infile crl.pem --outder --outfile crl.der >/dev/null 2>&1
printf -- '-----BEGIN X509 CRL-----\nTm90IGEgQ1JMIGF0IGFsbA==\n-----END X509 CRL-----\n' >crl-garbage.pem

# ---- Expected values, computed without the code under test ---------------------
# serial and SHA-256 fingerprint of a leaf, lowercase hex without separators
for n in ec rsa ed25519 ed448; do
	certtool -i --infile "$n.crt" | sed -n 's/.*Serial Number (hex): //p' | head -n 1 |
		tr 'A-F' 'a-f' >"$n.serial"
	openssl x509 -in "$n.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
		tr 'A-F' 'a-f' >"$n.fingerprint"
done
# be64 N: N as 8 bytes, big-endian
be64() {
	i=7
	while [ "$i" -ge 0 ]; do
		# shellcheck disable=SC2059
		printf "\\$(printf %03o $(($1 >> (8 * i) & 255)))"
		i=$((i - 1))
	done
}
# framed FILE: the content-hash framing of one configured file
framed() { printf '\001'; be64 "$(wc -c <"$1")"; cat "$1"; }
{ framed ec.fullchain.pem; framed ec.key; printf '\000\000'; } | sha256sum | cut -d' ' -f1 >ec.pair.hash
{ framed ec.fullchain.pem; framed ec.key; framed clientca.pem; framed crl.pem; } |
	sha256sum | cut -d' ' -f1 >ec.all.hash
{ framed p-openssl-aes.p12; printf '\000\000\000'; } | sha256sum | cut -d' ' -f1 >p12.hash

# ---- Benchmark only ------------------------------------------------------------
if [ "$bench" = "--bench" ]; then
	mkleaf rsa4096 rsa4096
fi

# Every expected output must exist; a missing one means a tool failed.
for f in ec.fullchain.pem rsa.fullchain.pem ed25519.fullchain.pem ed448.fullchain.pem \
	ec.p8enc.key ec.legacyenc.key ec.der p-certtool-rc2-40.p12 p-nopass.p12 crl.der; do
	[ -s "$f" ] || { echo "$0: $f was not generated" >&2; exit 1; }
done
exit 0
