#!/usr/bin/env bash
# LS11CLOUD: install what is missing, build, and run every test.
#
#   ./test.sh            the whole suite: build/ (warnings are errors), build-san/ (ASan+UBSan),
#                        the server and cloud tests once more against a ThreadSanitizer build of
#                        ls11cloudd, and most cloud tests with a TSan libls11cloud.so
#                        (build-tsan/), and a short libFuzzer smoke run in build-fuzz/
#   FUZZ_SECONDS=N       seconds each fuzz target runs in the smoke run (default 10; 0 skips it)
#
# Exits non-zero on any failure; the last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh

ls11_ensure_packages $LS11_PKGS_BUILD $LS11_PKGS_TEST
ls11_ensure_locale ru_RU.UTF-8

jobs=$(nproc 2>/dev/null || echo 2)
logs=()
status=0

run_suite() {
    local dir=$1
    shift
    echo "== meson test -C $dir $*"
    if ! meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@"; then
        status=1
    fi
    logs+=("$dir/meson-logs/testlog.json")
}

echo "== build/ (warnings are errors)"
ls11_meson_setup build -Dwerror=true -Dtests=enabled
ninja -C build
run_suite build

echo "== build-san/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
ls11_meson_setup build-san -Dwerror=true -Dtests=enabled -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debug
ninja -C build-san
run_suite build-san --timeout-multiplier 4

# The server is the multi-threaded program whose races would hurt everyone at once: its
# ThreadSanitizer build runs under the normal build's tests of it (Criterion's own runner does
# not run under TSan, so the test programs stay those of build/).  Any report is a failure.
# The client module's threads (the reader role, the outbox, futex wake-ups, resumption) are
# checked the same way: the module built with TSan under the cloud tests, the Python ones with
# the TSan runtime preloaded (tests/cloud/meson.build).  Left out: those that go through shell
# scripts (bash and dash crash with the runtime preloaded).
echo "== build-tsan/ (ThreadSanitizer: ls11cloudd under the server, cloud and tool tests;"
echo "   libls11cloud.so under the cloud tests)"
ls11_meson_setup build-tsan -Dwerror=true -Dtests=enabled -Db_sanitize=thread \
    -Dbuildtype=debugoptimized
ninja -C build-tsan server/ls11cloudd tools/ls11cloud-admin tools/p11conf pkcs11/libls11cloud.so \
    token/libls11token.so tests/cloud/test-cloud-threads tests/cloud/test-cloud-stall
tsan_reports=$(mktemp -d)
tsan_run() {
    local base=$1
    shift
    if ! LS11_TEST_SERVER="$PWD/build-tsan/server/ls11cloudd" \
        TSAN_OPTIONS="log_path=$tsan_reports/report halt_on_error=0" \
        meson test -C build --no-rebuild --logbase "$base" --print-errorlogs \
            --num-processes "$jobs" --timeout-multiplier 4 "$@"; then
        status=1
    fi
    logs+=("build/meson-logs/$base.json")
}
tsan_run tsan --suite server --suite cloud
tsan_run tsan-tools tools/ls11cloud_config tools/ls11cloud-admin tools/ls11cloud_config-interactive
if ! TSAN_OPTIONS="log_path=$tsan_reports/report halt_on_error=0" \
    meson test -C build-tsan --no-rebuild --logbase tsan-client --print-errorlogs \
        --num-processes "$jobs" --timeout-multiplier 4 cloud/threads cloud/stall \
        cloud/isolation cloud/basics cloud/resume cloud/budget cloud/large cloud/clients \
        cloud/pykcs11-mechanisms cloud/pykcs11-objects cloud/pykcs11-pin-policy; then
    status=1
fi
logs+=("build-tsan/meson-logs/tsan-client.json")
tsan_args=(--reports "$tsan_reports")

if [ "${FUZZ_SECONDS:-10}" != 0 ]; then
    echo "== build-fuzz/ (libFuzzer smoke run, ${FUZZ_SECONDS:-10} s per target)"
    CC=clang ls11_meson_setup build-fuzz -Dfuzzing=true -Dtests=disabled -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-fuzz $(sed -n "/^fuzz_targets = \[/,/^\]/s/^  '\([a-z0-9-]*\)',$/fuzz\/fuzz-\1/p" fuzz/meson.build)
    LS11_FUZZ_SECONDS=${FUZZ_SECONDS:-10} run_suite build-fuzz --suite fuzz-smoke --no-rebuild
fi

echo "== summary"
scripts/test-summary.py "${tsan_args[@]}" "${logs[@]}" || status=1
rm -rf "$tsan_reports"
exit $status
