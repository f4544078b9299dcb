#!/usr/bin/env bash
# libls11token.so exports exactly C_GetFunctionList, C_GetInterface and C_GetInterfaceList
# (STYLE.md 2), and loads with every symbol resolved (RTLD_NOW), so no engine function is
# missing from the link.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
module=${1:?usage: test-exports.sh MODULE}
passed=0
failed=0

check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok   $what"
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        failed=$((failed + 1))
    fi
}

exported=$(nm -D --defined-only "$module" | awk '$2 ~ /^[TtDdBbRrVvWwiu]$/ {print $3}' | sort)
echo "exported: $(echo $exported)"
check "exactly the three PKCS#11 entry points are exported" \
    test "$(echo $exported)" = "C_GetFunctionList C_GetInterface C_GetInterfaceList"

undefined=$(nm -D --undefined-only "$module" | awk '{print $2}' | grep -E '^ls_' || true)
check "no ls_ symbol is left undefined (the engine is linked in): $(echo ${undefined:-none})" \
    test -z "$undefined"

check "dlopen(RTLD_NOW) resolves every symbol" \
    /usr/bin/python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1], mode=2)' "$module"

check "the shared object has a version script (no global ls_ symbols)" \
    test -z "$(nm -D --defined-only "$module" | awk '{print $3}' | grep -E '^(ls_|sqlite3_|EVP_)' || true)"

echo "module/exports: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
