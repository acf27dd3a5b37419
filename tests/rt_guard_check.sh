#!/usr/bin/env bash
# Runs a command with tests/rt_guard.c preloaded and judges its report.
#   rt_guard_check.sh clean|violation RT_GUARD_SO REPORT MIN_PERIODS -- COMMAND...
# clean: the command succeeds, at least MIN_PERIODS audio-thread sections were guarded and none
# called a forbidden function. violation: at least one call was caught (the fixtures that show
# the check can fail). The report is printed either way.
set -uo pipefail
expect=$1 guard=$2 report=$3 min_periods=$4
shift 4; [ "$1" = "--" ] && shift
rm -f "$report"
LD_PRELOAD="$guard" RT_GUARD_REPORT="$report" "$@"; rc=$?
[ -f "$report" ] || { echo "rt_guard_check: FAIL: no report (was rt_guard preloaded?)"; exit 1; }
cat "$report"
read -r periods violations < <(sed -n 's/^rt_guard: periods \([0-9]*\), violations \([0-9]*\)$/\1 \2/p' "$report")
[ -n "${periods:-}" ] || { echo "rt_guard_check: FAIL: unreadable report"; exit 1; }
[ "$periods" -ge "$min_periods" ] || { echo "rt_guard_check: FAIL: only $periods guarded periods (< $min_periods)"; exit 1; }
case $expect in
  clean)
    [ "$rc" -eq 0 ] || { echo "rt_guard_check: FAIL: the command exited with $rc"; exit 1; }
    [ "$violations" -eq 0 ] || { echo "rt_guard_check: FAIL: $violations forbidden calls in the audio thread"; exit 1; } ;;
  violation)
    [ "$violations" -gt 0 ] || { echo "rt_guard_check: FAIL: the deliberate violation was not caught"; exit 1; } ;;
  *) echo "rt_guard_check: unknown expectation $expect"; exit 2 ;;
esac
echo "rt_guard_check: OK ($expect: $periods periods, $violations violations)"
