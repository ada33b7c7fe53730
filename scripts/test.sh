#!/usr/bin/env bash
# Every test layer of crmhooks, one after the other; each layer's outcome is printed and counted.
# Ends with one line `summary: N passed, N failed` and exits non-zero when any layer failed.
# A layer whose script or tool is missing counts as failed: nothing is skipped silently.
#
#   scripts/test.sh            (on a fresh Debian 12 machine: installs what it needs first)
#
# The PHPUnit layer brings up its own stack in <repo>/.stack-test on ports 18080.. (override the
# base with CRMHOOKS_TEST_PORT_BASE) and always takes it down again.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
. "$REPO/scripts/lib/common.sh"
. "$REPO/scripts/lib/install.sh"

TEST_STACK_DIR="$REPO/.stack-test"
TEST_PORT_BASE="${CRMHOOKS_TEST_PORT_BASE:-18080}"

PASSED=0
FAILED=0
RESULTS=()

# Run one layer: `layer NAME COMMAND...`; its output streams through as it runs.
layer() {
    local name="$1" started=$SECONDS rc
    shift
    printf '\n======== layer: %s ========\n' "$name"
    "$@"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        RESULTS+=("PASSED  $name ($((SECONDS - started)) s)")
        printf -- '-------- PASSED: %s\n' "$name"
    else
        FAILED=$((FAILED + 1))
        RESULTS+=("FAILED  $name ($((SECONDS - started)) s, exit $rc)")
        printf -- '-------- FAILED: %s (exit %s)\n' "$name" "$rc"
    fi
}

# A layer script written by someone else: run it, or fail the layer when it does not exist yet.
run_script() {
    local script="$1"
    if [ ! -f "$script" ]; then
        printf 'FAILED: %s is missing\n' "$script"
        return 1
    fi
    bash "$script"
}

# With the test-only exports: tests/ffi_abi.rs needs them (required-features in Cargo.toml).
rust_tests() {
    require_cargo || return 1
    "$CARGO" test --all-targets --features test-exports
}

release_build() {
    scripts/stack.sh build
}

# build.rs generates the headers (and the PHP result codes) into OUT_DIR; the checked-in copies
# must equal what the current sources generate, and must be committed.
generated_headers() {
    require_cargo || return 1
    command -v git >/dev/null && [ -e "$REPO/.git" ] || { printf 'FAILED: needs git and a git checkout\n'; return 1; }
    CARGO="$CARGO" scripts/regen-headers.sh --check || return 1
    git diff --exit-code -- include/ php-shim/includes/crmhooks-cdef.h php-shim/includes/interface-crmhooks-result-codes.php || {
        printf 'FAILED: regenerated files are not committed\n'
        return 1
    }
}

# Lints fail the run like tests do: rustfmt, clippy with warnings as errors, php -l on every PHP
# file, and PHP_CodeSniffer (WordPress-Extra, Security, DB, PHPCompatibility 8.1+; phpcs.xml.dist).
PHPCS="${CRMHOOKS_PHPCS:-$REPO/../shared/tools/phpcs/run}"
lints() {
    require_cargo || return 1
    local rc=0 file
    "$CARGO" fmt --check || { printf 'FAILED: cargo fmt --check\n'; rc=1; }
    "$CARGO" clippy --all-targets --quiet -- -D warnings || { printf 'FAILED: cargo clippy\n'; rc=1; }
    "$CARGO" clippy --all-targets --all-features --quiet -- -D warnings || { printf 'FAILED: cargo clippy --all-features\n'; rc=1; }
    while IFS= read -r file; do
        php -l "$file" >/dev/null || { printf 'FAILED: php -l %s\n' "$file"; rc=1; }
    done < <(git ls-files '*.php')
    if [ -x "$PHPCS" ]; then
        "$PHPCS" -q || { printf 'FAILED: phpcs (phpcs.xml.dist)\n'; rc=1; }
    else
        printf 'FAILED: PHP_CodeSniffer not found at %s (set CRMHOOKS_PHPCS)\n' "$PHPCS"
        rc=1
    fi
    [ "$rc" -eq 0 ] && printf 'lints clean\n'
    return "$rc"
}

standin_tests() {
    [ -d tests/standin ] || { printf 'FAILED: tests/standin is missing\n'; return 1; }
    python3 -m unittest discover -v -s tests/standin -p 'test_*.py'
}

stop_test_stack() {
    [ -d "$TEST_STACK_DIR" ] || return 0
    CRMHOOKS_STACK_DIR="$TEST_STACK_DIR" CRMHOOKS_PORT_BASE="$TEST_PORT_BASE" scripts/stack.sh down >/dev/null 2>&1 || true
}
# The test stack goes down whatever happens: failure, Ctrl-C, or a normal end.
trap stop_test_stack EXIT
trap 'exit 130' INT TERM

stack_and_phpunit() {
    command -v phpunit >/dev/null || { printf 'FAILED: phpunit is not installed\n'; return 1; }
    export CRMHOOKS_STACK_DIR="$TEST_STACK_DIR" CRMHOOKS_PORT_BASE="$TEST_PORT_BASE"
    # a fresh stack every run: no state left over from an earlier run
    scripts/stack.sh reset || return 1
    scripts/stack.sh up || { stop_test_stack; return 1; }
    eval "$(scripts/stack.sh env)"
    local rc=0
    phpunit -c tests/phpunit/phpunit.xml || rc=$?
    stop_test_stack
    return "$rc"
}

# The same checks on Debian 13's WordPress (6.8, scripts/wordpress-trixie.sh), for the suites
# where WordPress versions differ: activation and upgrade, translations, webhooks, admin HTML and
# the browser, the upload path. The queue, reconcile and security suites do not depend on the
# version and run once, on 6.1, above.
phpunit_on_newer_wordpress() {
    export CRMHOOKS_STACK_DIR="$TEST_STACK_DIR" CRMHOOKS_PORT_BASE="$TEST_PORT_BASE"
    scripts/stack.sh reset || return 1
    local source rc=0
    source="$(scripts/wordpress-trixie.sh)" || return 1
    CRMHOOKS_WP_SOURCE="$source" scripts/stack.sh up || { stop_test_stack; return 1; }
    eval "$(scripts/stack.sh env)"
    phpunit -c tests/phpunit/phpunit.xml --testsuite stack,plugin,admin,release || rc=$?
    stop_test_stack
    return "$rc"
}

started=$SECONDS
layer "install (apt packages, cargo)" scripts/stack.sh install
# Later layers and the scripts they call find cargo even when ~/.cargo/bin is not on PATH.
if CARGO="$(find_cargo)"; then PATH="$(dirname "$CARGO"):$PATH"; export PATH; fi
layer "release build of the library" release_build
layer "generated headers up to date" generated_headers
layer "lints (rustfmt, clippy, php -l, phpcs)" lints
layer "Rust tests (cargo test --all-targets --features test-exports)" rust_tests
layer "C ABI tests (tests/c/run.sh)" run_script tests/c/run.sh
layer "fuzz smoke (fuzz/run.sh)" run_script fuzz/run.sh
layer "stand-in self-tests" standin_tests
layer "stack + PHPUnit (all suites)" stack_and_phpunit
layer "PHPUnit on WordPress 6.8 (stack, plugin, admin, release)" phpunit_on_newer_wordpress

printf '\n======== results (%s s) ========\n' "$((SECONDS - started))"
printf '%s\n' "${RESULTS[@]}"
printf 'summary: %s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
