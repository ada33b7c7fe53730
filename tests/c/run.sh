#!/usr/bin/env bash
# Builds tests/c/abi_test.c against include/crmhooks.h and the release cdylib, then runs it
# three ways: plain, under AddressSanitizer + UndefinedBehaviorSanitizer, and under valgrind.
# The test drives the test-only exports too: the library is built with the `test-exports`
# feature and the header is read with CRMHOOKS_TEST_EXPORTS defined.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build="$repo/tests/c/build"
lib_dir="${CARGO_TARGET_DIR:-$repo/target}/release"
mkdir -p "$build"
cd "$repo"
cargo build --release --quiet --features test-exports
for tool in gcc valgrind; do
  command -v "$tool" >/dev/null || { echo "tests/c: $tool is missing (scripts/stack.sh install)"; exit 1; }
done
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I"$repo/include" -DCRMHOOKS_TEST_EXPORTS)
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -lcrmhooks)

gcc "${cflags[@]}" -o "$build/abi_test" tests/c/abi_test.c "${link[@]}"
gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
  -o "$build/abi_test_san" tests/c/abi_test.c "${link[@]}"

echo "== plain"
"$build/abi_test"
echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  RUST_BACKTRACE=0 "$build/abi_test_san"
echo "== valgrind (no definite or indirect leaks, no errors)"
RUST_BACKTRACE=0 valgrind --quiet --error-exitcode=3 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "$build/abi_test"
echo "tests/c: all runs clean"
