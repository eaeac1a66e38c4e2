#!/usr/bin/env bash
# Fuzz every parser target (fuzz/fuzz_targets) for a while each: `scripts/fuzz.sh [SECONDS]`
# (default 600 per target). Needs the nightly toolchain and cargo-fuzz, installed here when
# missing. New inputs go to a scratch directory; copy any that failed into fuzz/corpus/TARGET
# once fixed, so that `cargo test` (tests/fuzz_corpus.rs) replays them from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
    mkdir -p "$scratch/$target"
    echo "== $target: $seconds s"
    log="$scratch/$target.log"
    if ! (cd fuzz && cargo +nightly fuzz run -O "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096) >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed: the input is above (and in fuzz/artifacts/$target)" >&2
        exit 1
    fi
    grep -E '^Done [0-9]+ runs' "$log"
done
