#!/bin/sh
# Runs one libFuzzer binary for $LS11_FUZZ_SECONDS (default 10) seconds over a scratch copy of its
# seed corpus; used by ./test.sh through `meson test --suite fuzz-smoke`.  Any crash, leak or
# sanitizer report makes libFuzzer exit non-zero, and so this script.
set -eu
fuzzer=$1
corpus=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
exec "$fuzzer" -max_total_time="${LS11_FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$scratch" "$corpus"
