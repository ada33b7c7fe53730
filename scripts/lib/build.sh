# `stack.sh build`: release build of the Rust library, installed for the plugin. Sourced by stack.sh.

cmd_build() {
    require_cargo
    local version lib_dir target tmp built
    version="$(crate_version)"
    [ -n "$version" ] || die "cannot read the version from $REPO/Cargo.toml"
    step "cargo build --release (crmhooks $version)"
    (cd "$REPO" && "$CARGO" build --release) || die "cargo build --release failed"
    built="${CARGO_TARGET_DIR:-$REPO/target}/release/libcrmhooks.so"
    [ -f "$built" ] || die "$built was not produced"
    lib_dir="$REPO/php-shim/lib"
    target="$lib_dir/libcrmhooks-$version.so"
    mkdir -p "$lib_dir"
    # Copy to a temp file, then rename: running php-fpm workers keep the old inode mapped.
    tmp="$(mktemp "$lib_dir/.libcrmhooks-$version.so.XXXXXX")"
    cp "$built" "$tmp"
    chmod a+r "$tmp"
    mv -f "$tmp" "$target"
    chmod a+rx "$lib_dir"
    say "installed $target"
    write_preload_header "$target"
}

# ffi.preload needs FFI_SCOPE and an absolute FFI_LIB (dlopen resolves a relative one against
# the worker's cwd), so this header is made here, per install, from the committed cdef copy.
write_preload_header() {
    local lib="$1" header="$REPO/php-shim/lib/crmhooks-preload.h" tmp
    tmp="$(mktemp "$header.XXXXXX")"
    {
        printf '#define FFI_SCOPE "CRMH"\n'
        printf '#define FFI_LIB "%s"\n' "$lib"
        cat "$REPO/php-shim/includes/crmhooks-cdef.h"
    } > "$tmp"
    chmod a+r "$tmp"
    mv -f "$tmp" "$header"
    say "wrote $header"
}
