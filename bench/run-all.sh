#!/bin/sh
# Builds and runs every benchmark; prints one JSON object per line (one per program).
# Each figure comes with the baseline measured in the same run and their ratio.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
ninja -C build $(sed -n "s/^  '\([a-z0-9-]*\)',$/bench\/bench-\1/p" bench/meson.build) >/dev/null
for b in $(sed -n "s/^  '\([a-z0-9-]*\)',$/\1/p" bench/meson.build); do
    ./build/bench/bench-"$b" | tr -d '\n'
    echo
done
