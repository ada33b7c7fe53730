# `stack.sh install`: Debian packages and a Rust toolchain check. Sourced by stack.sh.

APT_PACKAGES=(
    php8.2-cli php8.2-fpm php8.2-opcache php8.2-mysql php8.2-curl php8.2-mbstring php8.2-xml
    mariadb-server nginx wordpress wordpress-theme-twentytwentythree phpunit
    curl ca-certificates python3 git gcc g++ clang libclang-rt-14-dev valgrind
    # The browser test of the admin screens (tests/browser/admin_screens.py, run by PHPUnit):
    # headless Chromium driven by Debian's Selenium, with a font to render the text.
    chromium chromium-driver python3-selenium fonts-liberation
)

missing_apt_packages() {
    local pkg status
    for pkg in "${APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
        case "$status" in ii*) ;; *) printf '%s\n' "$pkg" ;; esac
    done
}

find_cargo() {
    command -v cargo 2>/dev/null && return 0
    [ -x "$HOME/.cargo/bin/cargo" ] && { printf '%s\n' "$HOME/.cargo/bin/cargo"; return 0; }
    return 1
}

require_cargo() {
    CARGO="$(find_cargo)" && return 0
    cat >&2 <<'MSG'
ERROR: cargo (Rust) is not installed.
Install the Rust toolchain with rustup, then open a new shell (or `. "$HOME/.cargo/env"`):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
(Debian's own `apt-get install cargo` is too old for this crate: it needs Rust 1.80 or newer.)
MSG
    exit 1
}

cmd_install() {
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian 12 (bookworm) only"
    local missing
    missing="$(missing_apt_packages | tr '\n' ' ')"
    if [ -z "${missing// /}" ]; then
        say "apt packages: all ${#APT_PACKAGES[@]} present"
    else
        step "installing apt packages: $missing"
        [ "$(id -u)" = 0 ] || die "installing packages needs root (try: sudo $0 install)"
        # Packages must not start their system services: the stack runs private instances.
        local policy=/usr/sbin/policy-rc.d created_policy=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created_policy=1
        fi
        local ok=1
        DEBIAN_FRONTEND=noninteractive apt-get update -q || ok=""
        # shellcheck disable=SC2086
        [ -n "$ok" ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing || ok=""; }
        [ -n "$created_policy" ] && rm -f "$policy"
        [ -n "$ok" ] || die "apt-get failed while installing: $missing
Check the network access to the Debian mirrors and /etc/apt/sources.list, then rerun: $0 install"
        missing="$(missing_apt_packages | tr '\n' ' ')"
        [ -z "${missing// /}" ] || die "still missing after apt-get install: $missing"
    fi
    require_cargo
    say "cargo: $("$CARGO" --version)"
}
