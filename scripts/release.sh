#!/usr/bin/env bash
# Builds the installable plugin for Plugins -> Add New -> Upload:
#   dist/crmhooks-<version>.zip           the libraries for linux x86_64 and aarch64 (about 3 MB)
#   dist/crmhooks-<version>-<arch>.zip    one architecture's library only (about 1.6 MB): below
#                                         PHP's default upload_max_filesize (2 MB), which refuses
#                                         the full zip on hosts that keep the default
# Each holds one folder, crmhooks/, with
#   the plugin          the files of php-shim/ that git does not ignore (no .so, preload header, stack dir)
#   readme.txt          WordPress's plugin readme (php-shim/readme.txt)
#   languages/crmhooks.pot   every translatable string of the PHP sources (xgettext)
#   lib/<arch>/libcrmhooks-<version>.so   the library for linux on that architecture, linked by
#                       Zig against glibc 2.17 (cargo-zigbuild), so it loads on old hosts too
#
#   scripts/release.sh          (its tools come from: scripts/stack.sh install)
#
# Fails when Cargo.toml, the plugin header, CRMHOOKS_VERSION and readme.txt disagree on the
# version, when a library needs a glibc symbol newer than 2.17 or is not the expected ELF
# machine, or when the zip would hold test files, stack directories or the preload header.
# The release test suite (tests/phpunit/release/) checks that each one-architecture zip stays
# below the limit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO/scripts/lib/common.sh"
. "$REPO/scripts/lib/install.sh"

GLIBC_BASELINE=2.17
# Rust target -> the plugin's lib/<arch>/ folder (CrmHooks_Native::RELEASE_ARCHES) and the
# machine readelf must report for it.
declare -A ARCH_DIR=([x86_64-unknown-linux-gnu]=x86_64 [aarch64-unknown-linux-gnu]=aarch64)
declare -A ELF_MACHINE=([x86_64-unknown-linux-gnu]="Advanced Micro Devices X86-64" [aarch64-unknown-linux-gnu]=AArch64)

DIST="$REPO/dist"
SHIM="$REPO/php-shim"

# WordPress's translation functions, as xgettext keywords (msgid, plural, context positions).
POT_KEYWORDS=(__ _e _x:1,2c _ex:1,2c _n:1,2 _nx:1,2,4c esc_html__ esc_html_e esc_html_x:1,2c
    esc_attr__ esc_attr_e esc_attr_x:1,2c _n_noop:1,2 _nx_noop:1,2,3c)

# Every place that states the version must say the same; a release of mixed versions would
# refuse to load its own library (CrmHooks_Native checks crmh_abi_version()).
check_versions() {
    local version="$1" name found bad=""
    local -A stated=(
        ["php-shim/crmhooks.php Version:"]="$(sed -n 's/^ \* Version: *\([^ ]*\) *$/\1/p' "$SHIM/crmhooks.php")"
        ["php-shim/crmhooks.php CRMHOOKS_VERSION"]="$(sed -n "s/^define( 'CRMHOOKS_VERSION', '\([^']*\)' );/\1/p" "$SHIM/crmhooks.php")"
        ["CrmHooks_Native::VERSION"]="$(sed -n "s/^\tpublic const VERSION = '\([^']*\)';/\1/p" "$SHIM/includes/class-crmhooks-native.php")"
        ["php-shim/readme.txt Stable tag:"]="$(sed -n 's/^Stable tag: *\([^ ]*\) *$/\1/p' "$SHIM/readme.txt")"
    )
    for name in "${!stated[@]}"; do
        found="${stated[$name]}"
        [ "$found" = "$version" ] || bad="$bad
    $name says '${found:-nothing}'"
    done
    [ -z "$bad" ] || die "Cargo.toml says version $version, but:$bad"
    grep -qx "= $version =" "$SHIM/readme.txt" || die "php-shim/readme.txt has no changelog entry '= $version ='"
}

# Both libraries in one cargo run: the targets share the build scripts and the host dependencies.
build_libraries() {
    local args=() target
    for target in "${RELEASE_TARGETS[@]}"; do
        args+=(--target "$target.$GLIBC_BASELINE")
    done
    zig_installed || die "Zig $ZIGLANG_VERSION is not in $ZIG_VENV: run scripts/stack.sh install"
    zigbuild_installed || die "cargo-zigbuild $ZIGBUILD_VERSION is not installed: run scripts/stack.sh install"
    step "cargo zigbuild --release ${args[*]}"
    local started=$SECONDS
    (cd "$REPO" && CARGO_ZIGBUILD_PYTHON_PATH="$ZIG_VENV/bin/python" "$CARGO" zigbuild --release "${args[@]}") \
        || die "cargo zigbuild failed"
    say "built ${RELEASE_TARGETS[*]} in $((SECONDS - started)) s"
}

# The newest GLIBC_x.y symbol version the library needs (from its dynamic symbol table).
max_glibc() {
    readelf --dyn-syms --wide "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -Vu | tail -n 1
}

check_library() {
    local lib="$1" target="$2" machine glibc
    machine="$(readelf --file-header "$lib" | sed -n 's/^ *Machine: *//p')"
    [ "$machine" = "${ELF_MACHINE[$target]}" ] \
        || die "$lib is built for '$machine', not '${ELF_MACHINE[$target]}' ($target)"
    glibc="$(max_glibc "$lib")"
    [ -n "$glibc" ] || die "$lib needs no GLIBC_ symbol version at all: not a glibc build?"
    [ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_BASELINE" | sort -V | tail -n 1)" = "$GLIBC_BASELINE" ] \
        || die "$lib needs GLIBC_$glibc, newer than the $GLIBC_BASELINE baseline"
    say "$(basename "$(dirname "$lib")")/$(basename "$lib"): $machine, needs GLIBC_$glibc at most"
}

# The files of php-shim/ that git does not ignore (committed or not): nothing generated or local
# (lib/*.so, the preload header with this machine's absolute paths, .stack-* directories) slips in.
copy_plugin() {
    local dest="$1" file
    command -v git >/dev/null && git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 \
        || die "scripts/release.sh needs git and a git checkout (it asks git which files of php-shim/ to ship)"
    while IFS= read -r file; do
        [ -f "$SHIM/$file" ] || continue # deleted, not yet committed
        mkdir -p "$dest/$(dirname "$file")"
        cp "$SHIM/$file" "$dest/$file"
    done < <(git -C "$SHIM" ls-files --cached --others --exclude-standard --deduplicate)
}

make_pot() {
    local dest="$1" version="$2" args=() keyword
    for keyword in "${POT_KEYWORDS[@]}"; do
        args+=("--keyword=$keyword")
    done
    mkdir -p "$dest/languages"
    (cd "$dest" && find . -name '*.php' -not -path './languages/*' | LC_ALL=C sort | sed 's|^\./||' \
        | xgettext --files-from=- --language=PHP --from-code=UTF-8 --add-comments=translators: \
            --sort-by-file --copyright-holder='the crmhooks authors' --package-name=crmhooks --package-version="$version" \
            --msgid-bugs-address='https://wordpress.org/support/plugin/crmhooks' \
            "${args[@]}" --output=languages/crmhooks.pot) || die "xgettext failed"
    # xgettext leaves placeholders in the header: name the file and the charset (UTF-8 sources).
    sed -i -e '1s/.*/# Translatable strings of the crmhooks WordPress plugin./' \
        -e 's/charset=CHARSET/charset=UTF-8/' "$dest/languages/crmhooks.pot"
    local strings
    strings="$(grep -c '^msgid "[^"]' "$dest/languages/crmhooks.pot" || true)"
    [ "$strings" -gt 0 ] || die "languages/crmhooks.pot holds no string: are the keywords right?"
    say "languages/crmhooks.pot: $strings strings"
}

# What must ship, and what must never ship, checked on the staged tree (whatever put it there).
check_contents() {
    local root="$1" bad file
    for file in crmhooks.php readme.txt languages/crmhooks.pot includes/crmhooks-cdef.h; do
        [ -s "$root/$file" ] || die "the package lacks $file"
    done
    bad="$(cd "$root" && find . \( -name '.stack*' -o -name 'tests' -o -name '*Test.php' -o -name 'crmhooks-preload.h' \
        -o -name '.git*' \) -print)"
    [ -z "$bad" ] || die "the package would hold files that must not ship:
$bad"
}

# One installable zip: the plugin, its .pot and the libraries of the given Rust targets.
package() {
    local zip="$1" version="$2" stage plugin target arch built
    shift 2
    stage="$DIST/stage"
    plugin="$stage/crmhooks"
    rm -rf "$stage"
    mkdir -p "$plugin"
    copy_plugin "$plugin"
    for target in "$@"; do
        arch="${ARCH_DIR[$target]}"
        built="${CARGO_TARGET_DIR:-$REPO/target}/$target/release/libcrmhooks.so"
        [ -f "$built" ] || die "$built was not produced"
        mkdir -p "$plugin/lib/$arch"
        cp "$built" "$plugin/lib/$arch/libcrmhooks-$version.so"
        check_library "$plugin/lib/$arch/libcrmhooks-$version.so" "$target"
    done
    make_pot "$plugin" "$version"
    check_contents "$plugin"
    # Read by the web server's user, whatever this shell's umask was.
    chmod -R a+rX "$plugin"

    rm -f "$zip"
    # -X: no uid/gid or other extra attributes of the build machine in the zip.
    (cd "$stage" && zip -q -9 -r -X "$zip" crmhooks) || die "zip failed"
    rm -rf "$stage"
    say "built $zip ($(stat -c %s "$zip") bytes; PHP's default upload limit is 2097152)"
}

main() {
    require_cargo
    local version target
    version="$(crate_version)"
    [ -n "$version" ] || die "cannot read the version from $REPO/Cargo.toml"
    check_versions "$version"

    build_libraries
    package "$DIST/crmhooks-$version.zip" "$version" "${RELEASE_TARGETS[@]}"
    for target in "${RELEASE_TARGETS[@]}"; do
        package "$DIST/crmhooks-$version-${ARCH_DIR[$target]}.zip" "$version" "$target"
    done
}

main "$@"
