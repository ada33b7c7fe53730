#!/usr/bin/env bash
# Debian 13 (trixie)'s WordPress as a self-contained tree, for running the stack on a newer
# WordPress than the host's (Debian 12: 6.1). Downloads the `wordpress` and
# `wordpress-theme-twentytwentythree` packages once, checks them against trixie's package index,
# unpacks them (dpkg-deb -x) and replaces every symlink by the file it names: in the unpacked
# packages if it is there, else on this machine (the libjs-* and php-getid3 files the package
# only links to). Prints the tree's path, to be used as the stack's WordPress source:
#
#   CRMHOOKS_WP_SOURCE="$(scripts/wordpress-trixie.sh)" scripts/stack.sh up
#
# Lives in $CRMHOOKS_STACK_DIR/wp-source-trixie (so `stack.sh reset` removes it too); a second
# run only prints the path.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO/scripts/lib/common.sh"

MIRROR=http://deb.debian.org/debian
PACKAGES=(wordpress wordpress-theme-twentytwentythree)
OUT="$STACK_DIR/wp-source-trixie"
TREE="$OUT/wordpress"

if [ -f "$TREE/wp-settings.php" ]; then
    printf '%s\n' "$TREE"
    exit 0
fi

command -v dpkg-deb >/dev/null && command -v xz >/dev/null && command -v curl >/dev/null \
    || die "needs dpkg-deb, xz and curl"
rm -rf "$OUT"
mkdir -p "$OUT/debs" "$OUT/pkg"

# Filename and SHA256 of each package, from trixie's index of architecture-independent packages.
curl -fsS "$MIRROR/dists/trixie/main/binary-all/Packages.xz" | xz -dc > "$OUT/Packages" \
    || die "could not download trixie's package index from $MIRROR"
for name in "${PACKAGES[@]}"; do
    read -r file sum < <(awk -v want="$name" '
        /^Package: / { pkg = $2 } /^Filename: / { file = $2 } /^SHA256: / { sum = $2 }
        /^$/ { if (pkg == want) { print file, sum; exit } pkg = "" }' "$OUT/Packages") \
        || die "$name is not in trixie's package index"
    deb="$OUT/debs/$(basename "$file")"
    step "wordpress-trixie: downloading $file" >&2
    curl -fsS -o "$deb" "$MIRROR/$file" || die "could not download $MIRROR/$file"
    printf '%s  %s\n' "$sum" "$deb" | sha256sum --quiet -c - || die "$deb does not match trixie's SHA256"
    dpkg-deb -x "$deb" "$OUT/pkg"
done

# Each link resolved against the unpacked packages first (absolute targets too), else the host.
pkg="$OUT/pkg"
while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    case "$target" in
        /*) inside="$pkg$target" ;;
        *) inside="$(realpath -m -s "$(dirname "$link")/$target")" ;;
    esac
    if [ -e "$inside" ]; then
        source="$inside"
    elif [ -e "${inside#"$pkg"}" ]; then
        source="${inside#"$pkg"}"
    else
        die "$link -> $target: found neither in the packages nor on this machine (apt-get install the package that has it)"
    fi
    rm "$link"
    cp -rL "$source" "$link"
done < <(find "$pkg/usr/share/wordpress" -type l -print0)

# Debian's dispatcher wp-config.php is replaced by the stack's own (scripts/lib/wordpress.sh).
rm -f "$pkg/usr/share/wordpress/wp-config.php"
mv "$pkg/usr/share/wordpress" "$TREE.tmp"
mv "$TREE.tmp" "$TREE"
rm -rf "$pkg"
step "wordpress-trixie: $(sed -n "s/^\$wp_version = '\(.*\)';/WordPress \1/p" "$TREE/wp-includes/version.php") in $TREE" >&2
printf '%s\n' "$TREE"
