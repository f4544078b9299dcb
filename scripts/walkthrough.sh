#!/usr/bin/env bash
# The command-line walkthrough ./run.sh shows a new user: a local LS11CLOUD cloud on 127.0.0.1
# with a SQLite store (registration open), an account registered with ls11cloud_config against the
# server key fingerprint the operator reads with ls11cloud-admin, the account's token initialised
# with p11conf through the client module libls11cloud.so, a GOST key pair generated on the token
# with p11conf and a PKCS#10 request for it signed there, a signature made there and checked by
# OpenSSL with the gost engine.  Private keys never leave the server.
#
#   scripts/walkthrough.sh [BUILD_DIR]
#
# Everything lives in a fresh directory under run-state/ ($LS11_RUN_DIR if set), printed at the
# start.  With a
# terminal on standard input the cloud keeps running at the end until Enter is pressed, so you
# can try pkcs11-tool yourself; without one it stops at once.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
root=$PWD
case $build in /*) ;; *) build=$root/$build ;; esac

server=$build/server/ls11cloudd
admin=$build/tools/ls11cloud-admin
config=$build/tools/ls11cloud_config
p11conf=$build/tools/p11conf
module=$build/pkcs11/libls11cloud.so
for f in "$server" "$admin" "$config" "$p11conf" "$module"; do
    [ -e "$f" ] || { echo "walkthrough: $f is missing: build first (ninja -C $build)" >&2; exit 1; }
done

base=${LS11_RUN_DIR:-$root/run-state}
mkdir -p "$base"
dir=$(mktemp -d "$base/cloud-XXXXXX")
chmod 700 "$dir"
export LS11CLOUD_CONFIG_DIR=$dir/client
mkdir -p "$dir/server" "$LS11CLOUD_CONFIG_DIR/accounts"
nick=demo
password=Walk$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-10)7
so_pin=87654321
new_so_pin=11223344
user_pin=24682468
export OPENSSL_CONF=$root/tests/data/gost-engine.cnf

step=0
say() {
    step=$((step + 1))
    printf '\n\033[1m== %d. %s\033[0m\n' "$step" "$*"
}
run() {
    local shown="$*"
    printf '$ %s\n' "${shown//$password/********}" >&2
    "$@"
}
p11() {
    run pkcs11-tool --module "$module" "$@"
}

server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

echo "LS11CLOUD walkthrough; everything lives in $dir"

say "Start the cloud server ls11cloudd on 127.0.0.1 (SQLite store in $dir/server)"
coproc SERVER { exec "$server" --listen 127.0.0.1:0 --state-dir "$dir/server" --registration open 2>"$dir/server.log"; }
server_pid=$SERVER_PID
port=
while IFS= read -r -t 30 line <&"${SERVER[0]}"; do
    echo "ls11cloudd: $line"
    if [[ $line =~ listening\ on\ .*:([0-9]+) ]]; then
        port=${BASH_REMATCH[1]}
        break
    fi
done
[ -n "$port" ] || { echo "walkthrough: the server did not start; its log:" >&2; cat "$dir/server.log" >&2; exit 1; }

say "The operator reads the server key's fingerprint, to give to users out of band"
fingerprint=$("$admin" --state-dir "$dir/server" fingerprint | grep -Eo '[0-9a-f]{64}' | head -n 1)
echo "fingerprint: $fingerprint"

say "Register the account '$nick' (SESPAKE: only a verifier of the password leaves this machine)"
run "$config" register 127.0.0.1 "$port" "$nick" -p "$password" --fingerprint "$fingerprint" --store=file
run cat "$LS11CLOUD_CONFIG_DIR/accounts/$nick.conf"

say "What the client and the server know of the account"
run "$config" status

say "The module shows one slot per account; the token lives in the cloud"
run "$p11conf" -A "$module" -s
slot=$("$p11conf" -A "$module" -s | sed -n 's/^Slot \([0-9][0-9]*\) .*/\1/p' | head -n 1)
[ -n "$slot" ] || { echo "walkthrough: p11conf shows no slot" >&2; exit 1; }

say "Initialise the token with p11conf and the default SO PIN $so_pin (the seed article's)"
run "$p11conf" -A "$module" -c "$slot" -I -S "$so_pin" -L "$nick token"

say "Set the user PIN, then change the SO PIN (a fresh token's default must be changed)"
run "$p11conf" -A "$module" -c "$slot" -u -S "$so_pin" -n "$user_pin"
run "$p11conf" -A "$module" -c "$slot" -P -S "$so_pin" -n "$new_so_pin"
run "$p11conf" -A "$module" -c "$slot" -t

say "Generate a GOST R 34.10-2012 key pair (tc26 256-bit set A) on the token with p11conf"
run "$p11conf" -A "$module" -c "$slot" -U "$user_pin" --generate-key tc26-256-A --label signing-key --id 01

say "A PKCS#10 certificate request for that key, signed on the token, checked by OpenSSL"
run "$p11conf" -A "$module" -c "$slot" -U "$user_pin" --request "/CN=$nick/O=LS11CLOUD walkthrough" \
    --label signing-key --out "$dir/request.pem"
# (openssl req -verify exits 0 even on a bad signature: its words are what counts.)
verdict=$(run openssl req -in "$dir/request.pem" -noout -verify -subject 2>&1)
echo "$verdict"
[[ $verdict == *"verify OK"* ]] || { echo "walkthrough: the request does not verify" >&2; exit 1; }

say "Sign a document on the token (Streebog-256 hash and GOST R 34.10-2012 signature)"
printf 'LS11CLOUD walkthrough document\n' >"$dir/document.txt"
p11 --login --pin "$user_pin" --sign --id 01 -m GOSTR3410-WITH-GOSTR3411-12-256 \
    --input-file "$dir/document.txt" --output-file "$dir/document.sig"
run od -An -tx1 -v "$dir/document.sig"

say "Check the signature with OpenSSL and the gost engine, against the token's public key"
run /usr/bin/python3 tests/module/gost-spki.py "$module" 01 "$user_pin" >"$dir/key.der"
run openssl pkey -pubin -inform DER -in "$dir/key.der" -out "$dir/key.pem"
run openssl dgst -md_gost12_256 -verify "$dir/key.pem" -signature "$dir/document.sig" "$dir/document.txt"

say "The private key is marked sensitive and never leaves the server"
p11 --login --pin "$user_pin" --list-objects --type privkey

echo
echo "Done.  The cloud runs at 127.0.0.1:$port; its state is in $dir."
if [ -t 0 ]; then
    echo "Try it:  LS11CLOUD_CONFIG_DIR=$LS11CLOUD_CONFIG_DIR pkcs11-tool --module $module -O -l"
    read -r -p "Press Enter to stop the cloud... " _ || true
fi
