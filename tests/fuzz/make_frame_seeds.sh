#!/bin/sh
# Rebuilds the seed corpus of fuzz_frame in tests/fuzz/frame/ with ctlprobe.
# Usage: tests/fuzz/make_frame_seeds.sh BUILD_DIR
#
# Each seed is one byte that fuzz_frame uses to draw chunk sizes, followed
# by the bytes a peer sends. Signed seeds use the fuzz target's fixed key,
# bytes 0x00 to 0x1f. Timestamps in the seeds are the time of the run; the
# fuzz target does not check them.
set -eu

build=${1:?usage: $0 BUILD_DIR}
probe=$build/tests/ctlprobe
src=$(cd "$(dirname "$0")" && pwd)
out=$src/frame
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

printf 'ivicli-control-key-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' >"$tmp/key"
chmod 600 "$tmp/key"
fp=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

# seed NAME CHUNK_BYTE CTLPROBE_ARGS...: writes $out/NAME
seed() {
	name=$1
	byte=$2
	shift 2
	"$probe" --key "$tmp/key" --output "$tmp/frame" "$@"
	{ printf %b "\\0$byte"; cat "$tmp/frame"; } >"$out/$name"
}

mkdir -p "$out"
seed ping 001 --type ping
seed status 002 --type status
seed reload 003 --type reload --fingerprint "$fp"
seed reload-unknown-target 004 --type reload --fingerprint "$fp" --target api.http
seed unknown-type 005 --type shutdown --extra-field future=1
seed version-2-payload 006 --extra-field version=2
seed response-ok 007 --payload '{"version":1,"id":"5f0c8e2a","ok":true,"result":{"pong":true,"server_version":"0.1.0"}}'
seed response-error 010 --payload '{"version":1,"id":null,"ok":false,"error":{"code":"bad_version","message":"unsupported protocol version","server_version":1}}'
seed not-json 011 --payload 'not json'
seed json-array 012 --payload '[1,2,3]'
seed empty-payload 013 --payload ''
seed bad-mac 014 --type ping --bad-mac
seed length-4gib 015 --length-header 4294967295
seed length-at-cap 016 --length-header 65536
seed bad-magic 017 --raw-hex 49564958010000000000000200
seed version-2-header 020 --raw-hex 4956494302000000000000027b7d
seed flags-set 021 --raw-hex 4956494301010000000000027b7d

# Payloads that fuzz_frame signs itself (mode byte with bit 7 set).
payload() {
	{ printf %b "\\0$2"; printf '%s' "$3"; } >"$out/$1"
}
payload signed-ping 201 '{"version":1,"type":"ping","id":"a1","timestamp":1796415600,"nonce":"3b9e0a6f4c2d8e71a5f0b3c9d2e4f6a8","body":{}}'
payload signed-reload 202 '{"version":1,"type":"reload","id":"a2","timestamp":1796415600,"nonce":"3b9e0a6f4c2d8e71a5f0b3c9d2e4f6a8","body":{"target":"api.tls","fingerprint":"'"$fp"'","reason":"renewed"}}'
payload signed-response 203 '{"version":1,"id":"a3","ok":false,"error":{"code":"key_mismatch","message":"tls.key: does not match","server_version":1}}'
payload signed-nested 204 '{"version":1,"type":"status","id":"a4","timestamp":-1.5e3,"nonce":[],"body":{"a":[{"b":null}],"s":"\u00e9\ud83d\ude00"}}'

# Two frames back to back, and a frame cut in the middle.
{ printf '\022'; tail -c +2 "$out/ping"; tail -c +2 "$out/status"; } >"$out/two-frames"
{ printf '\023'; tail -c +2 "$out/reload" | head -c 60; } >"$out/truncated"
ls "$out"
