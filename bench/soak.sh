#!/usr/bin/env bash
# Soak test of `advinst live`: MINUTES of a looped demo clip with attacks running, the target and
# method changed over OSC every CHANGE_S seconds (cycling through C&W, MS-C&W, random targets, no
# target and bypass), on a private dummy JACK server (name advinst-bench) with an xrun observer.
# Samples VmRSS of advinst every SAMPLE_S seconds into rss.csv.
# Checks: xruns 0 (advinst's count, the observer's, the server log's), no ring overflow, segments
# attacked, RSS growth after the warm-up (WARMUP_S) below RSS_LIMIT_KB. Prints one JSON line
# (RSS after warm-up, peak, end, growth, slope per 10 minutes); exit 0 if all hold, 1 if not,
# 2 setup problem. Starts and stops only its own processes (by PID).
#
#   bench/soak.sh [MINUTES]                       default 30
# Environment: BUILD (build), PERIOD (256), CLIP (demo/harmonica.wav), OUT (out/soak),
#              WARMUP_S (60), SAMPLE_S (10), CHANGE_S (20), RSS_LIMIT_KB (1024)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${1:-30}
BUILD=${BUILD:-$ROOT/build} PERIOD=${PERIOD:-256} CLIP=${CLIP:-$ROOT/demo/harmonica.wav}
OUT=${OUT:-$ROOT/out/soak} WARMUP_S=${WARMUP_S:-60} SAMPLE_S=${SAMPLE_S:-10} CHANGE_S=${CHANGE_S:-20}
RSS_LIMIT_KB=${RSS_LIMIT_KB:-1024}
[[ "$MINUTES" =~ ^[0-9]+$ ]] && [ "$MINUTES" -ge 2 ] || { echo "soak: MINUTES must be a whole number >= 2" >&2; exit 2; }
command -v oscsend >/dev/null || { echo "soak: oscsend is missing (scripts/install-deps.sh installs liblo-tools)" >&2; exit 2; }
source "$ROOT/bench/live_common.sh"

live_setup "$OUT" "$PERIOD"
live_start "$OUT" "$CLIP" --target accordion --method cw
rss_sampler "$OUT/rss.csv" "$SAMPLE_S" &
SAMPLER_PID=$!

# The changes, in turn: each line is one or more OSC messages (address types value ...).
CHANGES=(
  "/advinst/method s mscw|/advinst/alpha f 10|/advinst/target s glockenspiel"
  "/advinst/target s random"
  "/advinst/method s cw|/advinst/alpha f 0.01|/advinst/target s electric_guitar"
  "/advinst/preset s mscw-accordion"
  "/advinst/target s none"
  "/advinst/method s cw|/advinst/alpha f 0.01|/advinst/target s accordion|/advinst/bypass i 1"
  "/advinst/bypass i 0"
)
send_change() {
  local msg
  IFS='|' read -ra msgs <<<"$1"
  for msg in "${msgs[@]}"; do
    read -r addr types value <<<"$msg"
    oscsend 127.0.0.1 "$OSC_PORT" "$addr" "$types" "$value"
  done
}

START=$(date +%s)
END=$((START + 60 * MINUTES))
k=0
next=$((START + CHANGE_S))
while [ "$(date +%s)" -lt "$END" ]; do
  kill -0 "$LIVE_PID" 2>/dev/null || break
  if [ "$(date +%s)" -ge "$next" ]; then
    send_change "${CHANGES[$((k % ${#CHANGES[@]}))]}"
    k=$((k + 1))
    next=$((next + CHANGE_S))
  fi
  sleep 1
done
RSS_END=$(rss_kb "$LIVE_PID")
live_stop "$OUT"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true

rss_summary "$OUT/rss.csv" "$WARMUP_S"
# RSS at the end of the warm-up, and the least-squares slope after it (kB per 10 minutes)
read -r RSS_WARM SLOPE < <(awk -F, -v w="$WARMUP_S" 'NR > 1 && $1 >= w {
    if (!n) warm = $2; n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
  END { d = n * sxx - sx * sx; printf "%d %.1f\n", warm, (d > 0 ? 600 * (n * sxy - sx * sy) / d : 0) }' "$OUT/rss.csv")
[ "$RSS_END" -gt 0 ] || RSS_END=$(awk -F, 'END {print $2}' "$OUT/rss.csv")
GROWTH=$((RSS_END - RSS_WARM))
FAIL=()
[ "$LIVE_XRUNS" = 0 ] || FAIL+=("advinst counted $LIVE_XRUNS xruns")
[ "$OBSERVER_XRUNS" = 0 ] || FAIL+=("the observer counted $OBSERVER_XRUNS xruns")
[ "$SERVER_XRUNS" = 0 ] || FAIL+=("the server logged $SERVER_XRUNS xruns")
[ "$LIVE_OVERFLOWS" = 0 ] || FAIL+=("$LIVE_OVERFLOWS ring overflows")
[ $((LIVE_OK + LIVE_FAILED)) -gt 0 ] || FAIL+=("no segment was attacked")
[ "$GROWTH" -lt "$RSS_LIMIT_KB" ] || FAIL+=("RSS grew by $GROWTH kB after the warm-up")
[ "$LIVE_CODE" = 0 ] || FAIL+=("advinst live exited with $LIVE_CODE")

printf '{"test": "soak", "minutes": %s, "period": %s, "changes": %s, "xruns_advinst": %s, "xruns_observer": %s, "xruns_server_log": %s, %s, "ring_overflows": %s, "segments_ok": %s, "segments_failed": %s, "segments_missed": %s, "segments_clean": %s, "iterations": %s, "rss_start_kb": %s, "rss_warm_kb": %s, "rss_peak_kb": %s, "rss_end_kb": %s, "rss_growth_kb": %s, "rss_slope_kb_per_10min": %s, "rss_csv": "%s", "pass": %s}\n' \
  "$MINUTES" "$PERIOD" "$k" "$LIVE_XRUNS" "$OBSERVER_XRUNS" "$SERVER_XRUNS" "$(xrun_kinds_json "$OUT/jackd.log")" \
  "$LIVE_OVERFLOWS" "$LIVE_OK" "$LIVE_FAILED" "$LIVE_MISSED" "$LIVE_CLEAN" "$LIVE_ITERATIONS" "$RSS_FIRST" "$RSS_WARM" "$RSS_PEAK" "$RSS_END" \
  "$GROWTH" "$SLOPE" "$OUT/rss.csv" "$([ ${#FAIL[@]} -eq 0 ] && echo true || echo false)" | tee "$OUT/result.json"
if [ ${#FAIL[@]} -gt 0 ]; then
  printf 'soak: FAIL: %s\n' "${FAIL[@]}" >&2
  exit 1
fi
