#!/usr/bin/env bash
# Copies what build.rs generates into cargo's OUT_DIR (the C header, the PHP FFI cdef, the PHP
# result-code constants) over the checked-in copies:
#
#   scripts/regen-headers.sh          rewrite the checked-in files (then commit them)
#   scripts/regen-headers.sh --check  generate into a temporary directory and diff it with the
#                                     checked-in files; exit 1 when any differs (CI)
#
# The checked-in files let C hosts and the plugin use the ABI without Rust.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
CARGO="${CARGO:-cargo}"

# Generated name in OUT_DIR -> checked-in path.
FILES=(
    "crmhooks.h:include/crmhooks.h"
    "crmhooks-cdef.h:php-shim/includes/crmhooks-cdef.h"
    "crmhooks-result-codes.php:php-shim/includes/interface-crmhooks-result-codes.php"
)

check=""
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) printf 'usage: %s [--check]\n' "$0" >&2; exit 2 ;;
esac

# The OUT_DIR of this package's build script, from cargo's own report of the build.
package_id="$("$CARGO" metadata --no-deps --format-version 1 --manifest-path "$repo/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["id"])')"
out_dir="$("$CARGO" build --quiet --message-format=json --manifest-path "$repo/Cargo.toml" \
    | python3 -c '
import json, sys
package_id = sys.argv[1]
out_dirs = [m["out_dir"] for m in map(json.loads, sys.stdin)
            if m.get("reason") == "build-script-executed" and m.get("package_id") == package_id]
print(out_dirs[-1] if out_dirs else "")' "$package_id")"
[ -n "$out_dir" ] && [ -d "$out_dir" ] || { printf 'regen-headers: cargo reported no OUT_DIR for %s\n' "$package_id" >&2; exit 1; }

if [ -z "$check" ]; then
    for pair in "${FILES[@]}"; do
        generated="$out_dir/${pair%%:*}" target="${pair#*:}"
        mkdir -p "$(dirname "$target")"
        if cmp -s "$generated" "$target"; then
            printf 'unchanged %s\n' "$target"
        else
            cp "$generated" "$target"
            printf 'wrote     %s\n' "$target"
        fi
    done
    exit 0
fi

rc=0
for pair in "${FILES[@]}"; do
    generated="$out_dir/${pair%%:*}" target="${pair#*:}"
    if [ ! -f "$target" ]; then
        printf 'MISSING: %s (run scripts/regen-headers.sh)\n' "$target"
        rc=1
    elif ! diff -u --label "$target (checked in)" --label "$target (generated)" "$target" "$generated"; then
        rc=1
    fi
done
if [ "$rc" -ne 0 ]; then
    printf 'FAILED: the checked-in generated files differ from what the sources generate (run scripts/regen-headers.sh and commit)\n'
else
    printf 'generated files up to date\n'
fi
exit "$rc"
