#!/usr/bin/env bash
# Builds the unit, integration and conformance suites with a sanitizer and runs them.
#   scripts/sanitize.sh thread    ThreadSanitizer, in build-tsan/
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
# Exits non-zero when a build fails, a test fails, a suite overruns its time limit, or any
# sanitizer report appears, also one from a child process (the chat sample test runs
# wharf-chat, whose exit status no test looks at). See docs/sanitizers.md.
# Overrides: WHARF_JOBS (build jobs, default 2), WHARF_SANITIZE_TIMEOUT (seconds per suite
# run, default 1800), WHARF_SANITIZE_SUITES (default "unit integration conformance"),
# WHARF_SANITIZE_RUNS (runs of each suite, default 1: races depend on timing, and another
# run may take another interleaving), WHARF_SANITIZE_BUILD=0 (run what is built).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kind=${1:-}
# The build directories and options are CMakePresets.json's tsan and asan-ubsan presets.
case "$kind" in
    thread)  buildDir=build-tsan preset=tsan ;;
    address) buildDir=build-asan preset=asan-ubsan ;;
    *) echo "usage: scripts/sanitize.sh thread|address" >&2; exit 2 ;;
esac
jobs=${WHARF_JOBS:-2}
limit=${WHARF_SANITIZE_TIMEOUT:-1800}
suites=${WHARF_SANITIZE_SUITES:-unit integration conformance}
runs=${WHARF_SANITIZE_RUNS:-1}

# halt_on_error: the first report ends the run with a non-zero status.
# The suppressions file names, for each entry, the uninstrumented library it is about.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan-suppressions.txt ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Per-connection info lines add nothing here and slow instrumented runs down.
export WHARF_LOG=${WHARF_LOG:-warn}
# The conformance suite's servers run one thread unless told otherwise; the integration
# tests' run two already (TestServer).
export WHARF_TEST_THREADS=${WHARF_TEST_THREADS:-2}

# UBSan checks a vtable only after testing that its memory is readable, by writing it to a
# pipe(): while the EMFILE test holds every descriptor that fails, and any virtual call is
# reported as "invalid vptr" (seen in Asio's scheduler and shared_ptr's control block). Its
# type suppressions cannot match such a report, so the case runs under TSan only.
skip=()
[[ $kind == address ]] && skip=(-tce='out of descriptors*')

targets=()
for s in $suites; do targets+=("wharf_${s}_tests"); done

if [[ ${WHARF_SANITIZE_BUILD:-1} != 0 ]]; then
    echo "sanitize: configuring $buildDir/ (preset $preset) ..."
    launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake --preset "$preset" "${launcher[@]}" --log-level=WARNING || exit 1
    echo "sanitize: building ${targets[*]} ..."
    start=$SECONDS
    cmake --build "$buildDir" -j"$jobs" --target "${targets[@]}" || exit 1
    echo "sanitize: built in $((SECONDS - start)) s"
fi

status=0
for ((run = 1; run <= runs; ++run)); do
    for s in $suites; do
        log="$buildDir/sanitize-$s-$run.log"
        echo "sanitize: running $s tests, run $run of $runs (log: $log) ..."
        start=$SECONDS
        timeout --kill-after=30 "$limit" "$buildDir/tests/wharf_${s}_tests" "${skip[@]}" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        echo "sanitize: $s tests took $((SECONDS - start)) s, exit status $rc"
        if [[ $rc -eq 124 || $rc -eq 137 ]]; then
            echo "sanitize: $s tests overran ${limit} s" >&2
        fi
        if grep -qE '(Thread|Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$log"; then
            echo "sanitize: $s tests: sanitizer report in $log" >&2
            [[ $rc -eq 0 ]] && rc=1
        fi
        [[ $rc -ne 0 ]] && status=1
    done
done
if [[ $status -eq 0 ]]; then echo "sanitize: $kind: clean"; else echo "sanitize: $kind: FAILED" >&2; fi
exit $status
