#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang, ASan + UBSan) in build-fuzz and runs each target for
# SECONDS (default 30) on a scratch copy of its seed corpus fuzz/corpus/<target>/ (the committed
# corpus is never written), with its dictionary fuzz/<target>.dict.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: safetensors audio preset dataset_csv osc http (default: all)
# Prints executions, exec/s, coverage (cov: edges, ft: features) and corpus size per target, and the
# input of any crash, leak, sanitizer report, timeout or out-of-memory. Exits 1 if there was one.
# Each run's corpus and artifacts stay in build-fuzz/run/<target>/ until the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-30}
[ $# -gt 0 ] && shift
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;; esac
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors audio preset dataset_csv osc http)
for t in "${targets[@]}"; do
  t=${t#fuzz_}
  [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: unknown target '$t'" >&2; exit 2; }
done

scripts/install-deps.sh --fuzz
CC=clang cmake -S . -B build-fuzz -DADVINST_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
failed=0
printf '%-12s %8s %12s %9s %7s %7s %14s  %s\n' target seconds executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
  t=${t#fuzz_}
  run=$root/build-fuzz/run/$t
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp "fuzz/corpus/$t/." "$run/corpus/" -r
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="$root/fuzz/$t.dict")
  rc=0
  (cd "$run" && "$root/build-fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=60 \
     -rss_limit_mb=2048 -artifact_prefix="$run/artifacts/" "${dict[@]}" corpus >log 2>&1) || rc=$?
  log=$run/log
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[bKM]*\).*/\1/p' <<<"$done_line")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  artifact=$(find "$run/artifacts" -type f | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$artifact" ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    failed=1
    result="FAILED: ${artifact:-see $log}"
  else
    result=ok
  fi
  printf '%-12s %8s %12s %9s %7s %7s %14s  %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$result"
  if [ "$result" != ok ]; then
    grep -E 'invariant broken|ERROR:|runtime error:|SUMMARY' "$log" | head -5 | sed 's/^/    /' || true
  fi
done
exit $failed
