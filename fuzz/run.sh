#!/usr/bin/env bash
# Builds the libFuzzer targets with SanitizerCoverage (the flags cargo-fuzz passes) on the
# stable toolchain and runs each for a bounded time. Any crash fails the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${CRMHOOKS_FUZZ_SECONDS:-30}
cd "$here"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts (they must not need libFuzzer).
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --quiet --target "$triple" --target-dir "$here/target" --bins
mkdir -p corpus/fuzz_request corpus/fuzz_diff artifacts
# Seed the request corpus with the protocol fixtures so the fuzzer starts from real shapes.
for f in ../tests/fixtures/*; do
  [ -f "$f" ] || continue
  { printf 'POST\nwpf_action=update&contact_id=42\nf\n'; cat "$f"; } > "corpus/fuzz_request/$(basename "$f")"
done
for target in fuzz_request fuzz_diff; do
  echo "== $target for ${seconds}s"
  "$here/target/$triple/release/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$here/artifacts/" -print_final_stats=1 "corpus/$target" 2>&1 | tail -n 12
done
echo "fuzz: no crash"
