#!/usr/bin/env bash
# Load test of `advinst live`: an OSC flood while attacks run.
#   - a private JACK server (dummy backend, 48 kHz, PERIOD frames; name advinst-bench) and an
#     observer client counting the xruns the server reports (build/jack_xruns);
#   - `advinst live` on a looped demo clip (on JACK's clock) with a target and MS-C&W;
#   - after WARMUP s, build/osc_flood sends RATE messages/s for SECONDS s (realistic setting
#     changes, 5 % bad messages), then a final known set of values, and asks /advinst/query;
#   - VmRSS of advinst every second (rss.csv).
# Checks: the final state equals the final values sent and the engine runs it; every bad message
# refused; xruns 0 (advinst's count, the observer's and the server log's); no ring overflow;
# segments attacked; RSS flat (end - value after warm-up < RSS_LIMIT_KB). Prints one JSON line;
# exit 0 if all hold, 1 if not, 2 setup problem. Starts and stops only its own processes (by PID).
#
#   bench/live_load.sh [RATE] [SECONDS]           default 10000 30
# Environment: BUILD (build), PERIOD (256), CLIP (demo/harmonica.wav), OUT (out/live-load),
#              WARMUP (15), RSS_LIMIT_KB (1024)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${1:-10000} SECONDS_FLOOD=${2:-30}
BUILD=${BUILD:-$ROOT/build} PERIOD=${PERIOD:-256} CLIP=${CLIP:-$ROOT/demo/harmonica.wav}
OUT=${OUT:-$ROOT/out/live-load} WARMUP=${WARMUP:-15} RSS_LIMIT_KB=${RSS_LIMIT_KB:-1024}
source "$ROOT/bench/live_common.sh"

live_setup "$OUT" "$PERIOD"
live_start "$OUT" "$CLIP" --target accordion --method mscw --alpha 10
rss_sampler "$OUT/rss.csv" 1 &
SAMPLER_PID=$!

sleep "$WARMUP"
RSS_WARM=$(rss_kb "$LIVE_PID")
# CPU of advinst's control (OSC) thread = its main thread, in clock ticks
ticks() { awk '{print $14 + $15}' "/proc/$LIVE_PID/task/$LIVE_PID/stat"; }
TICKS0=$(ticks) T0=$(date +%s.%N)
FLOOD_JSON=$("$BUILD/osc_flood" --port "$OSC_PORT" --rate "$RATE" --seconds "$SECONDS_FLOOD" 2>"$OUT/flood.log") || true
CONTROL_CPU=$(awk -v a="$(ticks)" -v b="$TICKS0" -v t="$(date +%s.%N)" -v t0="$T0" -v hz="$(getconf CLK_TCK)" \
  'BEGIN {printf "%.0f", 100 * (a - b) / hz / (t - t0)}')
echo "$FLOOD_JSON" >"$OUT/flood.json"
cat "$OUT/flood.log" >&2
[ -n "$FLOOD_JSON" ] || { echo "live_load: osc_flood gave no result (see $OUT/flood.log)" >&2; exit 1; }
sleep 5   # the final settings at work: segments attacked with them play
RSS_END=$(rss_kb "$LIVE_PID")
live_stop "$OUT"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true

rss_summary "$OUT/rss.csv" "$WARMUP"
j() { json_field "$FLOOD_JSON" "$1"; }
GROWTH=$((RSS_END - RSS_WARM))
FAIL=()
[ "$(j final_state_ok)" = true ] || FAIL+=("final state $(j final_state)")
[ "$(j engine_version_ok)" = true ] || FAIL+=("engine runs another settings version")
if [ "$(j lost)" = 0 ]; then
  [ "$(j changed)" = "$(j expected_changed)" ] || FAIL+=("changed $(j changed), expected $(j expected_changed)")
  [ "$(j rejected)" = "$(j sent_bad)" ] || FAIL+=("rejected $(j rejected) of $(j sent_bad) bad messages")
  [ "$(j malformed)" = "$(j sent_garbage)" ] || FAIL+=("malformed $(j malformed) of $(j sent_garbage) garbage datagrams")
fi
[ "$LIVE_XRUNS" = 0 ] || FAIL+=("advinst counted $LIVE_XRUNS xruns")
[ "$OBSERVER_XRUNS" = 0 ] || FAIL+=("the observer counted $OBSERVER_XRUNS xruns")
[ "$SERVER_XRUNS" = 0 ] || FAIL+=("the server logged $SERVER_XRUNS xruns")
[ "$LIVE_OVERFLOWS" = 0 ] || FAIL+=("$LIVE_OVERFLOWS ring overflows")
[ $((LIVE_OK + LIVE_FAILED)) -gt 0 ] || FAIL+=("no segment was attacked")
[ "$GROWTH" -lt "$RSS_LIMIT_KB" ] || FAIL+=("RSS grew by $GROWTH kB after warm-up")
[ "$LIVE_CODE" = 0 ] || FAIL+=("advinst live exited with $LIVE_CODE")

printf '{"test": "live_load", "period": %s, "requested_rate": %s, "seconds": %s, "sent": %s, "rate": %s, "received": %s, "lost": %s, "changed": %s, "rejected": %s, "sent_bad": %s, "malformed": %s, "sent_garbage": %s, "state_replies": %s, "error_replies": %s, "answer_ms": %s, "control_thread_cpu_percent": %s, "final_state_ok": %s, "xruns_advinst": %s, "xruns_observer": %s, "xruns_server_log": %s, %s, "ring_overflows": %s, "segments_ok": %s, "segments_failed": %s, "segments_missed": %s, "segments_clean": %s, "iterations": %s, "rss_start_kb": %s, "rss_warm_kb": %s, "rss_peak_kb": %s, "rss_end_kb": %s, "rss_growth_kb": %s, "osc_receive_buffer": %s, "pass": %s}\n' \
  "$PERIOD" "$RATE" "$(j seconds)" "$(j sent)" "$(j rate)" "$(j received)" "$(j lost)" "$(j changed)" "$(j rejected)" \
  "$(j sent_bad)" "$(j malformed)" "$(j sent_garbage)" "$(j state_replies)" "$(j error_replies)" "$(j answer_ms)" "$CONTROL_CPU" "$(j final_state_ok)" \
  "$LIVE_XRUNS" "$OBSERVER_XRUNS" "$SERVER_XRUNS" "$(xrun_kinds_json "$OUT/jackd.log")" "$LIVE_OVERFLOWS" "$LIVE_OK" "$LIVE_FAILED" "$LIVE_MISSED" "$LIVE_CLEAN" "$LIVE_ITERATIONS" \
  "$RSS_FIRST" "$RSS_WARM" "$RSS_PEAK" "$RSS_END" "$GROWTH" "${OSC_RCVBUF:-0}" "$([ ${#FAIL[@]} -eq 0 ] && echo true || echo false)" \
  | tee "$OUT/result.json"
if [ ${#FAIL[@]} -gt 0 ]; then
  printf 'live_load: FAIL: %s\n' "${FAIL[@]}" >&2
  exit 1
fi
