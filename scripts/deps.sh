# Sourced by ./test.sh and ./run.sh: installs the Debian packages the project needs that are
# missing, with one `apt-get update` first.  Root uses apt-get directly, others go through sudo.

# Build and run time.
LS11_PKGS_BUILD="gcc pkg-config meson ninja-build libssl-dev openssl libengine-gost-openssl libsqlite3-dev libp11-kit-dev libevent-dev libsecret-1-dev"
# What ./run.sh shows a user with (pkcs11-tool, PyKCS11 for the public-key export).
LS11_PKGS_RUN="opensc python3-pykcs11"
# Tests, sanitizers and the fuzz build; SoftHSMv2 and p11-kit are the third-party modules the
# tools are tested against and the benchmarks compare with; systemd for systemd-analyze and
# systemd-sysusers (the unit's test; container images of Debian 12 come without it);
# python3-dbus locks and unlocks the test keyring.
LS11_PKGS_TEST="libcriterion-dev clang libclang-rt-14-dev llvm python3 opensc python3-pykcs11 gnome-keyring libsecret-tools dbus python3-dbus softhsm2 p11-kit systemd"
# Translations, man pages and bash completion (docs/i18n.md): msgfmt/xgettext, the ru_RU.UTF-8
# locale the translation test runs in, man and groff to check the pages, bash_completion.
LS11_PKGS_BUILD="$LS11_PKGS_BUILD gettext"
LS11_PKGS_TEST="$LS11_PKGS_TEST locales man-db groff-base bash-completion"
# The real clients of tests/cloud/test-clients.py: NSS's modutil/certutil (what Firefox's
# "load a security device" does) and GnuTLS's p11tool/certtool.
LS11_PKGS_TEST="$LS11_PKGS_TEST libnss3-tools gnutls-bin"

ls11_missing_packages() {
    local p missing=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    echo "$missing"
}

ls11_ensure_packages() {
    local missing sudo=""
    missing=$(ls11_missing_packages "$@")
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "error: missing packages:$missing (run as root or install sudo)" >&2
            return 1
        }
        sudo="sudo"
    fi
    echo "== installing:$missing"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

# Generates the locale $1 (e.g. ru_RU.UTF-8) when it is missing and we are root: the tools'
# translation test runs in it (without it the test falls back to C.UTF-8 with LANGUAGE).
ls11_ensure_locale() {
    local want=$1 norm
    norm=$(echo "$want" | tr 'A-Z' 'a-z' | sed 's/utf-8/utf8/')
    locale -a 2>/dev/null | tr 'A-Z' 'a-z' | grep -qx "$norm" && return 0
    [ "$(id -u)" -eq 0 ] || { echo "note: locale $want missing (run as root to generate it)" >&2; return 0; }
    [ -f /etc/locale.gen ] && command -v locale-gen >/dev/null 2>&1 || return 0
    echo "== generating the $want locale"
    sed -i "s/^# *\($want .*\)$/\1/" /etc/locale.gen
    grep -q "^$want " /etc/locale.gen || echo "$want ${want#*.}" >> /etc/locale.gen
    locale-gen >/dev/null
}

# meson setup that also works on an already configured directory.
ls11_meson_setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@"
    fi
}
