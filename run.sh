#!/usr/bin/env bash
# LS11CLOUD: install what is missing, build, and show the system working.
#
# The cloud server, the client module and the registration tools are still being built (see
# docs/status.md).  Until they exist this runs the crypto core's self-check walkthrough: every
# GOST primitive against its published known answer, then a SESPAKE exchange between a client
# and a server that holds only a verifier, then a secure-channel round trip keyed by it.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh

ls11_ensure_packages $LS11_PKGS_BUILD
ls11_meson_setup build -Dtests=auto
ninja -C build

exec ./build/tools/ls11cloud-selfcheck "$@"
