# `stack.sh install`: Debian packages and a Rust toolchain check. Sourced by stack.sh.

APT_PACKAGES=(
    php8.2-cli php8.2-fpm php8.2-opcache php8.2-mysql php8.2-curl php8.2-mbstring php8.2-xml
    mariadb-server nginx wordpress wordpress-theme-twentytwentythree phpunit
    curl ca-certificates python3 git gcc g++ clang libclang-rt-14-dev valgrind
    binutils gettext zip unzip python3-venv
    # WordPress 6.8 from Debian 13 links to lodash (scripts/wordpress-trixie.sh); 6.1 bundles it.
    libjs-lodash
    # The browser test of the admin screens (tests/browser/admin_screens.py, run by PHPUnit):
    # headless Chromium driven by Debian's Selenium, with a font to render the text.
    chromium chromium-driver python3-selenium fonts-liberation
)

# scripts/release.sh: the library for both architectures against glibc 2.17, linked by Zig.
# Pinned, so a release builds the same way on every machine.
RELEASE_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
# Zig comes from PyPI into a venv in the ignored build dir (one per checkout, nothing global).
ZIG_VENV="$REPO/target/zig-venv"

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
    install_release_tools
}

# True when cargo-zigbuild is the pinned version; `cargo install` puts it next to cargo.
zigbuild_installed() {
    "$(dirname "$CARGO")/cargo-zigbuild" --version 2>/dev/null | grep -qx "cargo-zigbuild $ZIGBUILD_VERSION"
}

zig_installed() {
    [ "$("$ZIG_VENV/bin/python" -m ziglang version 2>/dev/null)" = "$ZIGLANG_VERSION" ]
}

# Rust targets (rustup), cargo-zigbuild (crates.io) and Zig (PyPI) for scripts/release.sh.
install_release_tools() {
    local rustup target missing=()
    rustup="$(dirname "$CARGO")/rustup"
    [ -x "$rustup" ] || rustup="$(command -v rustup)" || die "rustup not found: scripts/release.sh needs it to add the Rust targets ${RELEASE_TARGETS[*]}"
    for target in "${RELEASE_TARGETS[@]}"; do
        "$rustup" target list --installed | grep -qx "$target" || missing+=("$target")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "rustup target add ${missing[*]}"
        "$rustup" target add "${missing[@]}" || die "rustup target add ${missing[*]} failed"
    fi
    if ! zigbuild_installed; then
        step "cargo install cargo-zigbuild $ZIGBUILD_VERSION (compiles it: a few minutes)"
        "$CARGO" install --locked --quiet cargo-zigbuild --version "$ZIGBUILD_VERSION" \
            || die "cargo install cargo-zigbuild failed"
    fi
    if ! zig_installed; then
        step "pip install ziglang==$ZIGLANG_VERSION into $ZIG_VENV"
        rm -rf "$ZIG_VENV"
        python3 -m venv "$ZIG_VENV" || die "python3 -m venv $ZIG_VENV failed (Debian package python3-venv)"
        "$ZIG_VENV/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION" \
            || die "pip install ziglang==$ZIGLANG_VERSION failed"
    fi
    say "release tools: rust targets ${RELEASE_TARGETS[*]}, $("$(dirname "$CARGO")/cargo-zigbuild" --version), zig $("$ZIG_VENV/bin/python" -m ziglang version)"
}
