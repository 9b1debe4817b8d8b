#!/bin/sh
# Five-second libFuzzer smoke run of the control-frame decoder (see fuzz_run.sh).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
exec "$top_srcdir/tests/fuzz_run.sh" frame fuzz_smoke
