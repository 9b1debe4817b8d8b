#!/bin/sh
# Five-second libFuzzer smoke run of the config.toml reader (see fuzz_run.sh).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
exec "$top_srcdir/tests/fuzz_run.sh" config fuzz_config_smoke
