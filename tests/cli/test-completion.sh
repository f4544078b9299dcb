#!/usr/bin/env bash
# The bash completions of data/bash-completion/, loaded with Debian's bash_completion and called
# the way bash calls them (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT): commands, options,
# option values, account ids from $LS11CLOUD_CONFIG_DIR and $XDG_CONFIG_HOME, PKCS#11 modules
# (*.so) for p11conf -A, p11conf's options read from its -h, ls11cloud-admin's subcommands and
# the nicknames of a real store.
#
# usage: test-completion.sh SOURCE_ROOT TOOLS_BUILD_DIR
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u

src=$1
tools=$(cd "$2" && pwd) || exit 1
passed=0
failed=0
export PATH="$tools:$PATH"
export LANG=C LC_ALL=C
unset LANGUAGE

if [[ ! -r /usr/share/bash-completion/bash_completion ]]; then
    echo "FAIL /usr/share/bash-completion/bash_completion is missing (package bash-completion)"
    echo "0 passed, 1 failed"
    exit 1
fi
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion
for f in ls11cloud_config p11conf ls11cloud-admin; do
    # shellcheck disable=SC1090
    . "$src/data/bash-completion/$f"
done

tmp=$(mktemp -d /tmp/ls11-completion.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# complete WORD... : the words of the command line, the last one being completed (may be "").
complete_words() {
    local fn line="" w prev=""
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    # As bash sees the line: "=" is a word of its own in COMP_WORDS but has no blanks around it.
    for w in "$@"; do
        if [[ -z $line ]]; then
            line=$w
        elif [[ $w == "=" || $prev == "=" ]]; then
            line+=$w
        else
            line+=" $w"
        fi
        prev=$w
    done
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    fn=$(complete -p "$1" 2>/dev/null | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
    if [[ -z $fn ]]; then
        echo "no completion function for $1"
        return 1
    fi
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

# check "WHAT" "EXPECTED (sorted, space-separated)" WORD...: COMPREPLY is exactly that.
check() {
    local what=$1 want=$2 got
    shift 2
    complete_words "$@"
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
    if [[ $got == "$want" ]]; then
        echo "ok   $what"
        ((passed++))
    else
        echo "FAIL $what: got [$got], want [$want]"
        ((failed++))
    fi
}

# has "WHAT" "W1 W2 ..." WORD...: COMPREPLY includes each of them.
has() {
    local what=$1 want=$2 w missing=""
    shift 2
    complete_words "$@"
    for w in $want; do
        printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$w" || missing+=" $w"
    done
    if [[ -z $missing ]]; then
        echo "ok   $what"
        ((passed++))
    else
        echo "FAIL $what: missing$missing in [${COMPREPLY[*]}]"
        ((failed++))
    fi
}

# -- ls11cloud_config ----------------------------------------------------------------------
check "ls11cloud_config re<TAB>" "recreate register" ls11cloud_config re
check "ls11cloud_config <TAB>: the seven commands" \
    "change_pswd duplicate log recreate register status unregister" ls11cloud_config ""
check "ls11cloud_config status --acc<TAB>" "--account=" ls11cloud_config status --acc
has "ls11cloud_config --<TAB>: long options" "--password --new-password --fingerprint --code
    --account --yes --help" ls11cloud_config --
check "ls11cloud_config register --store <TAB>" "file keyring" ls11cloud_config register --store ""
check "ls11cloud_config register --store=k<TAB>" "keyring" ls11cloud_config register --store = k
check "ls11cloud_config register -p <TAB>: nothing (a password)" "" ls11cloud_config register -p ""
check "ls11cloud_config status <TAB>: no argument" "" ls11cloud_config status ""

mkdir -p cfg/accounts xdg/ls11cloud/accounts
: >cfg/accounts/alice.conf
: >cfg/accounts/alfred.conf
: >cfg/accounts/bob.conf
: >cfg/accounts/alice.password
: >xdg/ls11cloud/accounts/xavier.conf
export LS11CLOUD_CONFIG_DIR=$tmp/cfg
check "--account al<TAB> from \$LS11CLOUD_CONFIG_DIR" "alfred alice" ls11cloud_config status --account al
check "--account <TAB>: only *.conf" "alfred alice bob" ls11cloud_config log --account ""
unset LS11CLOUD_CONFIG_DIR
export XDG_CONFIG_HOME=$tmp/xdg
check "--account <TAB> from \$XDG_CONFIG_HOME/ls11cloud" "xavier" ls11cloud_config status --account ""
export HOME=$tmp/nohome
unset XDG_CONFIG_HOME
check "--account <TAB> with no configuration: nothing" "" ls11cloud_config status --account ""

# -- p11conf -------------------------------------------------------------------------------
mkdir -p mods/sub
: >mods/libone.so
: >mods/libtwo.so
: >mods/readme.txt
check "p11conf -A mods/<TAB>: .so files and directories" "mods/libone.so mods/libtwo.so mods/sub" \
    p11conf -A mods/
check "p11conf -A mods/libt<TAB>" "mods/libtwo.so" p11conf -t -A mods/libt
has "p11conf -<TAB>: the seed's letters" "-h -i -t -s -m -I -u -p -P -e -d -r -f -A -c -U -S -n -L" \
    p11conf -
# Every option p11conf -h prints is offered (read from the program, not a copy).
help_opts=$(p11conf -h | grep -oE '(^|[ ,[])(--[A-Za-z0-9][A-Za-z0-9-]*|-[A-Za-z0-9])([^A-Za-z0-9]|$)' |
    sed 's/^[ ,[]//; s/[^A-Za-z0-9]$//' | sort -u | tr '\n' ' ')
if [[ $help_opts == *-A* && $help_opts == *-h* ]]; then
    has "p11conf -<TAB>: everything p11conf -h lists ($help_opts)" "$help_opts" p11conf -
else
    echo "FAIL p11conf -h printed no options: [$help_opts]"
    ((failed++))
fi
check "p11conf -c <TAB>: nothing (a slot number)" "" p11conf -c ""
check "p11conf --generate-key tc26-512<TAB>: the parameter sets" \
    "tc26-512-A tc26-512-B tc26-512-C" p11conf -c 1 --generate-key tc26-512
check "p11conf --request <TAB>: nothing (a subject, not a file)" "" p11conf -c 1 --request ""
check "p11conf --import-p12 mods/libo<TAB>: files" "mods/libone.so" p11conf --import-p12 mods/libo

# -- ls11cloud-admin -----------------------------------------------------------------------
check "ls11cloud-admin <TAB>" "fingerprint registration server-key token user" ls11cloud-admin ""
has "ls11cloud-admin user <TAB>" "add import list show log lock unlock delete password
    reset-counters" ls11cloud-admin user ""
check "ls11cloud-admin user re<TAB>" "reset-counters" ls11cloud-admin user re
check "ls11cloud-admin registration <TAB>" "closed code open" ls11cloud-admin registration ""
check "ls11cloud-admin server-key <TAB>" "rotate show" ls11cloud-admin server-key ""
check "ls11cloud-admin token <TAB>" "wipe" ls11cloud-admin --state-dir /x token ""
check "ls11cloud-admin user add bob --<TAB>" "--active --generate --help --password-file --state-dir --version" \
    ls11cloud-admin user add bob --
check "ls11cloud-admin user add bob --pass<TAB>" "--password-file=" ls11cloud-admin user add bob --pass
check "ls11cloud_config register --st<TAB>" "--store=" ls11cloud_config register --st
: >staff.csv
check "ls11cloud-admin user import st<TAB>" "staff.csv" ls11cloud-admin user import st
check "ls11cloud-admin user add x --password-file st<TAB>" "staff.csv" \
    ls11cloud-admin user add x --password-file st
mkdir -p statedir
check "ls11cloud-admin --state-dir sta<TAB>: directories" "statedir" ls11cloud-admin --state-dir sta

# Nicknames from a real store that we own.
printf 'Initial-pw1\n' >pw
ok_store=1
for n in alice alfred bob; do
    ls11cloud-admin --state-dir "$tmp/state" user add "$n" --password-file pw >/dev/null || ok_store=0
done
if ((ok_store)); then
    check "ls11cloud-admin --state-dir DIR user show al<TAB>: nicknames of the store" \
        "alfred alice" ls11cloud-admin --state-dir "$tmp/state" user show al
    check "ls11cloud-admin --state-dir=DIR token wipe <TAB>" "alfred alice bob" \
        ls11cloud-admin --state-dir="$tmp/state" token wipe ""
else
    echo "FAIL ls11cloud-admin user add could not make a store in $tmp/state"
    ((failed++))
fi
check "ls11cloud-admin user show <TAB> with no store: nothing" "" \
    ls11cloud-admin --state-dir "$tmp/nostate" user show ""
[[ ! -e $tmp/nostate ]] && echo "ok   completion created no state directory" && ((passed++)) ||
    { echo "FAIL completion created $tmp/nostate"; ((failed++)); }

echo "$passed passed, $failed failed"
((failed == 0))
