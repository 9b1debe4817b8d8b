#!/bin/sh
# Five-second libFuzzer smoke run of the HTTP request path (see fuzz_run.sh).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
exec "$top_srcdir/tests/fuzz_run.sh" http server_fuzz_http
