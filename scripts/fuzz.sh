#!/usr/bin/env bash
# Fuzzes every target of fuzz/ (cargo-fuzz, libFuzzer) for SECONDS each:
#
#   scripts/fuzz.sh 10                  # CI smoke run: about a minute for all targets
#   scripts/fuzz.sh 900                 # a long run
#   scripts/fuzz.sh 60 aes_key tool_args
#
# For each target it first replays the checked-in inputs (fuzz/seeds/<target>/ and
# fuzz/regressions/<target>/: a crash once fixed stays fixed), then fuzzes from the working
# corpus fuzz/corpus/<target>/ (seeded from fuzz/seeds/, grown by every run, not in git).
# Exits non-zero if any target crashed, failed an invariant, leaked past -rss_limit_mb or timed
# out, and prints the input that did it (fuzz/artifacts/<target>/…). See fuzz/README.md.
#
# Environment: FUZZ_TARGET_DIR, the build directory (default: beside CARGO_TARGET_DIR when that
# is set, else fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_EACH=${1:-10}
shift || true
ALL_TARGETS=(ilink_updates aes_key cdn_params tool_args history_query wechaty_payload)
if (($#)); then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
case $SECONDS_EACH in '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
    ;;
esac

# Longest input per target (bytes): what a real input of that kind can need, no more.
max_len() {
    case $1 in
    ilink_updates) echo 65536 ;;   # a getupdates answer with a few messages
    aes_key) echo 4096 ;;          # a key text and a few blocks of data
    cdn_params) echo 16384 ;;      # a media item / upload answer as JSON
    tool_args) echo 8192 ;;        # one tool call's arguments
    history_query) echo 2048 ;;    # history filters (each runs several store queries)
    wechaty_payload) echo 8192 ;;  # one message payload
    *) echo 4096 ;;
    esac
}

# cargo-fuzz needs nightly flags (-Zsanitizer). Use the nightly toolchain when there is one;
# otherwise try to install it; a machine where neither works builds with the stable compiler
# in bootstrap mode (its rust-std ships the sanitizer runtimes too).
CARGO=(cargo +nightly)
if ! cargo +nightly --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null && rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
        echo "fuzz: installed the nightly toolchain" >&2
    else
        echo "fuzz: no nightly toolchain; building with stable and RUSTC_BOOTSTRAP=1" >&2
        export RUSTC_BOOTSTRAP=1
        CARGO=(cargo)
    fi
fi
if ! "${CARGO[@]}" fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [[ -z ${FUZZ_TARGET_DIR:-} ]]; then
    if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
        FUZZ_TARGET_DIR="$(dirname "$CARGO_TARGET_DIR")/fuzz-target"
    else
        FUZZ_TARGET_DIR="$ROOT/fuzz/target"
    fi
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR="$FUZZ_TARGET_DIR/$TRIPLE/release"

# One build for all targets: release, with ASan (the bundled SQLite is C) and, in the project's
# own crates, debug assertions and overflow checks (fuzz/Cargo.toml).
echo "fuzz: building ${TARGETS[*]}" >&2
build=("${CARGO[@]}" fuzz build -O --target-dir "$FUZZ_TARGET_DIR")
# `cargo fuzz build` takes one target, or builds them all.
((${#TARGETS[@]} == 1)) && build+=("${TARGETS[0]}")
(cd fuzz && "${build[@]}")

# As `cargo fuzz run` does: the bundled SQLite defines two file-static `aiOff` arrays, which
# ASan's one-definition-rule check reports as a violation before any input runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    bin="$BIN_DIR/$t"
    [[ -x $bin ]] || { echo "fuzz: no binary $bin" >&2; exit 1; }
    corpus="fuzz/corpus/$t"
    artifacts="fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    len=$(max_len "$t")

    # 1. The checked-in inputs, each run once.
    replay=()
    for dir in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
        [[ -d $dir ]] || continue
        while IFS= read -r -d '' f; do replay+=("$f"); done < <(find "$dir" -type f ! -name '.*' -print0 | sort -z)
    done
    if ((${#replay[@]})); then
        log="$artifacts/replay.log"
        if ! "$bin" -rss_limit_mb=2048 -timeout=30 "${replay[@]}" >"$log" 2>&1; then
            echo "fuzz: $t FAILED on a checked-in input:" >&2
            grep -E '^(Running: |==[0-9]+==|thread |SUMMARY)' "$log" | tail -n 20 >&2 || true
            tail -n 40 "$log" >&2
            failed+=("$t (replay)")
            continue
        fi
        echo "fuzz: $t: ${#replay[@]} checked-in inputs pass" >&2
    fi

    # 2. Fuzz from the working corpus (seeds copied in; what was grown before stays).
    cp -n "fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true
    if [[ -d fuzz/regressions/$t ]]; then cp -n "fuzz/regressions/$t"/* "$corpus"/ 2>/dev/null || true; fi
    log="$artifacts/fuzz.log"
    set +e
    "$bin" "$corpus" -max_total_time="$SECONDS_EACH" -max_len="$len" -rss_limit_mb=2048 \
        -timeout=30 -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    size=$(find "$corpus" -type f | wc -l)
    if ((rc != 0)); then
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "fuzz: $t CRASHED (exit $rc) after ${SECONDS_EACH}s; input: ${artifact:-see $log}" >&2
        grep -E '^(==[0-9]+==|thread |SUMMARY|panicked)' "$log" | head -n 5 >&2 || true
        tail -n 40 "$log" >&2
        echo "fuzz: reproduce with: cargo +nightly fuzz run $t ${artifact:-<input>}; minimize with cargo +nightly fuzz tmin $t <input>," >&2
        echo "      then keep the minimized input in fuzz/regressions/$t/" >&2
        failed+=("$t")
        summary+=("$t: CRASH, ${execs:-?} execs, corpus ${size}, input ${artifact:-?}")
    else
        summary+=("$t: ok, ${SECONDS_EACH}s, ${execs:-?} execs, corpus ${size}")
    fi
done

echo "fuzz: summary" >&2
for line in "${summary[@]}"; do echo "  $line" >&2; done
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
