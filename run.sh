#!/usr/bin/env bash
# LS11CLOUD: install what is missing, build, and walk a new user through the system.
#
#   ./run.sh
#
# 1. ls11cloud-selfcheck: every GOST primitive against its published known answer, a SESPAKE
#    exchange and a secure-channel round trip;
# 2. scripts/walkthrough.sh: a local cloud (ls11cloudd on 127.0.0.1, SQLite store), an account
#    registered with ls11cloud_config (SESPAKE verifier, pinned server key),
#    its token initialised through the client module libls11cloud.so with pkcs11-tool, a GOST key
#    pair generated in the cloud and a signature checked by OpenSSL.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh

ls11_ensure_packages $LS11_PKGS_BUILD $LS11_PKGS_RUN
ls11_meson_setup build -Dtests=auto
ninja -C build

./build/tools/ls11cloud-selfcheck
exec scripts/walkthrough.sh build
