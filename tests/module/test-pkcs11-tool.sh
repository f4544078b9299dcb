#!/usr/bin/env bash
# OpenSC pkcs11-tool 0.23 against libls11token.so, and every signature checked by the openssl
# command with the gost engine (OPENSSL_CONF = tests/data/gost-engine.cnf):
#
#   token initialisation with the default SO PIN, --init-pin, --change-pin of the user and of
#   the SO, the token flags pkcs11-tool prints; key pairs of every GOST R 34.10-2012 type
#   pkcs11-tool knows (256 A-D, 512 A-C) with --id and --label; hash-and-sign signatures
#   (GOSTR3410-WITH-GOSTR3411-12-256/-512) of a file, raw signatures (GOSTR3410,
#   GOSTR3410_512) of a Streebog digest made by `openssl dgst`, the public key exported as a
#   DER SubjectPublicKeyInfo, and `openssl dgst -verify` / `openssl pkeyutl -verify` on each,
#   plus a damaged signature that openssl must refuse.
#
# pkcs11-tool 0.23 cannot export a GOST public key: --read-object --type pubkey answers
# "Reading public keys of type 0x30 (0xD4321003) not (yet) supported".  The SubjectPublicKeyInfo
# is then built from CKA_VALUE and the parameter OIDs by gost-spki.py (PyKCS11); the test still
# tries pkcs11-tool first and says which way the key came.
#
# Byte orders, as found here: pkcs11-tool writes the token's signature as it is, s || r
# big-endian; the gost engine's `openssl dgst -verify` and `pkeyutl -verify` take exactly that
# (no reversal).  The digest given to the raw mechanisms is the byte string Streebog outputs,
# as `openssl dgst -binary` writes it (gost-pkcs11.md 1.3).
#
# The same script checks the cloud module libls11cloud.so when it runs under
# tests/cloud/cloudenv.py (LS11CLOUD_CONFIG_DIR set): the token is then on a real ls11cloudd, and
# only the slot line and the interfaces differ.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
module=${1:?usage: [cloudenv.py --] test-pkcs11-tool.sh MODULE}
here=$(cd "$(dirname "$0")" && pwd)
conf=${OPENSSL_CONF:-$here/../data/gost-engine.cnf}
export OPENSSL_CONF=$conf

passed=0
failed=0
tmp=$(mktemp -d /tmp/ls11-pkcs11-tool-XXXXXX)
if [ -n "${LS11CLOUD_CONFIG_DIR:-}" ]; then
    name=cloud/pkcs11-tool
    slot_desc="the account's slot (its stable number 10)"
    slot_line='Slot 0 (0xa): LS11CLOUD alice@127.0.0.1'
    vendor_interface=yes
else
    name=module/pkcs11-tool
    slot_desc="the one slot"
    slot_line='Slot 0 (0x1)'
    vendor_interface=
    export LS11TOKEN_DB=$tmp/token.db
    unset LS11TOKEN_CONF
fi

ok() {
    echo "ok   $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $1"
    failed=$((failed + 1))
}

# check WHAT COMMAND...: the command's output goes to $tmp/out.
check() {
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        ok "$what"
    else
        fail "$what"
        sed 's/^/     | /' "$tmp/out" | head -20
    fi
}

# check_not WHAT COMMAND...: the command must fail.
check_not() {
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        fail "$what (it succeeded)"
        sed 's/^/     | /' "$tmp/out" | head -20
    else
        ok "$what"
    fi
}

finish() {
    if [ "$failed" -eq 0 ]; then
        rm -rf "$tmp"
    else
        echo "(files kept in $tmp)"
    fi
    echo "$name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

for prog in pkcs11-tool openssl /usr/bin/python3; do
    if ! command -v "$prog" >/dev/null; then
        fail "$prog is installed (scripts/deps.sh: opensc, openssl, python3)"
        finish
    fi
done

p11() {
    pkcs11-tool --module "$module" "$@"
}

SO_PIN=87654321
NEW_SO_PIN=so-pin-2
PIN=123456
NEW_PIN=654321

# ---------------------------------------------------------------------------------------------
# Library, slot, token
# ---------------------------------------------------------------------------------------------

check "--show-info names LS11CLOUD" bash -c "pkcs11-tool --module '$module' --show-info | grep -q LS11CLOUD"
check "--list-slots shows $slot_desc" bash -c "pkcs11-tool --module '$module' --list-slots | grep -qF '$slot_line'"
check "--list-mechanisms lists GOST key generation" \
    bash -c "pkcs11-tool --module '$module' --list-mechanisms | grep -q GOSTR3410-KEY-PAIR-GEN"
check "--list-mechanisms lists the 512-bit GOST signature" \
    bash -c "pkcs11-tool --module '$module' --list-mechanisms | grep -q GOSTR3410-WITH-GOSTR3411-12-512"

check_not "--init-token refuses an SO PIN that is not the default" \
    p11 --init-token --so-pin 11111111 --label "ls11 pkcs11-tool"
check "--init-token with the default SO PIN 87654321" \
    p11 --init-token --so-pin "$SO_PIN" --label "ls11 pkcs11-tool"
check "the token label" bash -c "pkcs11-tool --module '$module' --list-token-slots | grep -q 'ls11 pkcs11-tool'"
check "the fresh SO PIN is flagged to be changed" \
    bash -c "pkcs11-tool --module '$module' --list-token-slots | grep -qi 'SO PIN to be changed'"
check "--init-pin" p11 --init-pin --so-pin "$SO_PIN" --pin "$PIN"
check "--change-pin of the user" p11 --change-pin --pin "$PIN" --new-pin "$NEW_PIN"
check_not "the old user PIN is refused" p11 --login --pin "$PIN" --list-objects
check "the new user PIN works" p11 --login --pin "$NEW_PIN" --list-objects
# pkcs11-tool 0.23 changes the SO PIN only in an SO session: --login --login-type so (without
# --login it calls C_SetPIN in a public session, which is the user's PIN by the specification).
check "--change-pin of the SO (--login --login-type so)" \
    p11 --login --login-type so --so-pin "$SO_PIN" --change-pin --new-pin "$NEW_SO_PIN"
check "the SO PIN is no longer flagged" \
    bash -c "! pkcs11-tool --module '$module' --list-token-slots | grep -qi 'SO PIN to be changed'"
# The SO logs in only with read/write sessions open (CKR_SESSION_READ_ONLY_EXISTS otherwise).
check_not "the old SO PIN is refused" \
    p11 --login --login-type so --so-pin "$SO_PIN" --session-rw --list-objects
check "the new SO PIN works" \
    p11 --login --login-type so --so-pin "$NEW_SO_PIN" --session-rw --list-objects
check "--list-interfaces: PKCS 11 3.0 and 2.40${vendor_interface:+, the vendor one}, not fork-safe" bash -c "
    out=\$(pkcs11-tool --module '$module' --list-interfaces) &&
    echo \"\$out\" | grep -q 'version: 3.0' && echo \"\$out\" | grep -q 'version: 2.40' &&
    { [ -z '$vendor_interface' ] || echo \"\$out\" | grep -q 'Vendor LS11CLOUD'; } &&
    ! echo \"\$out\" | grep -q 'flags=0x1'"
check "--test-fork: the child of a fork calls C_Initialize" p11 --test-fork
check "--use-locking --test-threads: C_Initialize, C_GetInfo, C_GetSlotList on three threads" \
    p11 --use-locking --test-threads IN --test-threads GI --test-threads SL

# ---------------------------------------------------------------------------------------------
# Key pairs, signatures, openssl verification
# ---------------------------------------------------------------------------------------------

head -c 3000 /dev/urandom >"$tmp/data.bin"       # > 1024 bytes: pkcs11-tool signs multi-part
printf 'short message\n' >"$tmp/short.bin"        # < 1025 bytes: C_Sign in one part

# export_pub ID OUT.pem: the public key of object ID as PEM, from --read-object if pkcs11-tool
# can, else built from its CKA_VALUE and parameter OIDs (gost-spki.py reads them with PyKCS11).
export_pub() {
    local id=$1 pem=$2
    if p11 --read-object --type pubkey --id "$id" -o "$tmp/pub-$id.der" >"$tmp/read.log" 2>&1 &&
        openssl pkey -pubin -inform DER -in "$tmp/pub-$id.der" -out "$pem" 2>>"$tmp/read.log"; then
        echo "pkcs11-tool"
        return 0
    fi
    /usr/bin/python3 "$here/gost-spki.py" "$module" "$id" "$NEW_PIN" >"$tmp/pub-$id.der" &&
        openssl pkey -pubin -inform DER -in "$tmp/pub-$id.der" -out "$pem" && echo "gost-spki.py"
}

n=0
for spec in GOSTR3410-2012-256:A GOSTR3410-2012-256:B GOSTR3410-2012-256:C GOSTR3410-2012-256:D \
    GOSTR3410-2012-512:A GOSTR3410-2012-512:B GOSTR3410-2012-512:C; do
    n=$((n + 1))
    id=$(printf '%02x' "$n")
    label="key-$spec"
    case $spec in
    *-512:*) bits=512 hashmech=GOSTR3410-WITH-GOSTR3411-12-512 rawmech=GOSTR3410_512 md=md_gost12_512 ;;
    *) bits=256 hashmech=GOSTR3410-WITH-GOSTR3411-12-256 rawmech=GOSTR3410 md=md_gost12_256 ;;
    esac

    if ! check "--keypairgen --key-type $spec --id $id --label $label" \
        p11 --login --pin "$NEW_PIN" --keypairgen --key-type "$spec" --id "$id" --label "$label"; then
        continue
    fi
    check "$spec: --list-objects shows the key by label" \
        bash -c "pkcs11-tool --module '$module' --login --pin '$NEW_PIN' --list-objects | grep -q '$label'"

    how=$(export_pub "$id" "$tmp/pub-$id.pem")
    if [ -s "$tmp/pub-$id.pem" ]; then
        ok "$spec: public key exported (by $how)"
    else
        fail "$spec: public key exported"
        sed 's/^/     | /' "$tmp/read.log" | head -5
        continue
    fi
    check "$spec: openssl reads a $bits-bit GOST key" \
        bash -c "openssl pkey -pubin -in '$tmp/pub-$id.pem' -noout &&
                 openssl asn1parse -in '$tmp/pub-$id.pem' | grep -q 'GOST R 34.10-2012 with $bits bit'"

    for input in data short; do
        sig=$tmp/$input-$id.sig
        check "$spec: --sign -m $hashmech of $input.bin" \
            p11 --login --pin "$NEW_PIN" --sign -m "$hashmech" --id "$id" -i "$tmp/$input.bin" -o "$sig"
        check "$spec: openssl dgst -$md -verify accepts it ($input.bin)" \
            openssl dgst "-$md" -verify "$tmp/pub-$id.pem" -signature "$sig" "$tmp/$input.bin"
    done
    bad=$tmp/bad-$id.sig
    /usr/bin/python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[7] ^= 1; open(sys.argv[2], "wb").write(b)' \
        "$tmp/data-$id.sig" "$bad"
    check_not "$spec: openssl refuses a changed signature" \
        openssl dgst "-$md" -verify "$tmp/pub-$id.pem" -signature "$bad" "$tmp/data.bin"
    check_not "$spec: openssl refuses changed data" \
        openssl dgst "-$md" -verify "$tmp/pub-$id.pem" -signature "$tmp/data-$id.sig" "$tmp/short.bin"

    # Raw: the digest from openssl's provider, signed by the token, verified by the engine.
    OPENSSL_CONF=/dev/null openssl dgst -provider gostprov -provider default "-$md" -binary \
        "$tmp/data.bin" >"$tmp/digest-$id.bin"
    check "$spec: --sign -m $rawmech of the Streebog digest" \
        p11 --login --pin "$NEW_PIN" --sign -m "$rawmech" --id "$id" -i "$tmp/digest-$id.bin" \
        -o "$tmp/raw-$id.sig"
    check "$spec: openssl pkeyutl -verify accepts the raw signature" \
        openssl pkeyutl -verify -pubin -inkey "$tmp/pub-$id.pem" -in "$tmp/digest-$id.bin" \
        -sigfile "$tmp/raw-$id.sig"
    check "$spec: ... and it is a signature of data.bin as openssl dgst sees it" \
        openssl dgst "-$md" -verify "$tmp/pub-$id.pem" -signature "$tmp/raw-$id.sig" "$tmp/data.bin"
    /usr/bin/python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(b[::-1])' \
        "$tmp/raw-$id.sig" "$tmp/raw-rev-$id.sig"
    check_not "$spec: the engine does not want the signature reversed" \
        openssl pkeyutl -verify -pubin -inkey "$tmp/pub-$id.pem" -in "$tmp/digest-$id.bin" \
        -sigfile "$tmp/raw-rev-$id.sig"
done

check "--delete-object of a private key" p11 --login --pin "$NEW_PIN" --delete-object --type privkey --id 01
check "the private key is gone, the public one is not" bash -c "
    out=\$(pkcs11-tool --module '$module' --login --pin '$NEW_PIN' --list-objects --type privkey)
    ! echo \"\$out\" | grep -q 'key-GOSTR3410-2012-256:A' &&
    pkcs11-tool --module '$module' --login --pin '$NEW_PIN' --list-objects --type pubkey | grep -q 'key-GOSTR3410-2012-256:A'"

finish
