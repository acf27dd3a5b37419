#!/usr/bin/env bash
# What an audience hears from `advinst live`, measured in real time on a private dummy JACK server:
#   - jackd -d dummy -r 48000 -p PERIOD (name advinst-bench) and an xrun observer (build/jack_xruns);
#   - `advinst live` plays CLIP (looped, on JACK's clock) with TARGET and METHOD set from the start
#     and records its output;
#   - the recording is judged as a listener hears it: `advinst listen` slides a 3.7 s window every
#     0.1 s over the output after the look-ahead has filled (from the latency on), each window
#     classified on its own; SNR of the output against the input over the same span (the input is
#     CLIP resampled to 48 kHz exactly as advinst does, looped, delayed by the latency).
# Prints one JSON line: hit rate, SNR, latency, segments ok/failed/missed, iterations per second,
# xruns (advinst's, the observer's, the server log's by kind), load average. Exit 0, or 2 on a
# setup problem. Starts and stops only its own processes (by PID).
#
#   bench/live_stream.sh [CLIP] [-- extra advinst live options]
# Environment: TARGET (accordion), METHOD (cw), LATENCY (2.0), DURATION (40 s), PERIOD (256),
#              BUILD (build), OUT (out/live-stream), MODEL (the shipped one)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIP=${1:-$ROOT/demo/electric_guitar.wav}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
BUILD=${BUILD:-$ROOT/build} PERIOD=${PERIOD:-256} OUT=${OUT:-$ROOT/out/live-stream}
TARGET=${TARGET:-accordion} METHOD=${METHOD:-cw} LATENCY=${LATENCY:-2.0} SECONDS_RUN=${DURATION:-40}
MODEL_ARGS=()
[ -n "${MODEL:-}" ] && MODEL_ARGS=(--model "$MODEL")
source "$ROOT/bench/live_common.sh"
[ -f "$CLIP" ] || { echo "live_stream: no clip $CLIP" >&2; exit 2; }

live_setup "$OUT" "$PERIOD"
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
live_start "$OUT" "$CLIP" "${MODEL_ARGS[@]}" --target "$TARGET" --method "$METHOD" --latency "$LATENCY" \
  --record "$OUT/output.wav" --duration "$SECONDS_RUN" "$@"
wait "$LIVE_PID" || true   # --duration ends it; live_stop reads its summary
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
kill -0 "$LIVE_PID" 2>/dev/null || true
SUMMARY=$(grep "^advinst live: .* processed" "$OUT/live.log" | tail -1 || true)
LIVE_PID=""
live_stop_server() {
  kill -TERM "$OBSERVER_PID" 2>/dev/null || true
  wait "$OBSERVER_PID" 2>/dev/null || true
  OBSERVER_PID=""
  kill -TERM "$JACKD_PID" 2>/dev/null || true
  wait "$JACKD_PID" 2>/dev/null || true
  JACKD_PID=""
}
live_stop_server
[ -n "$SUMMARY" ] || { echo "live_stream: advinst live gave no summary (see $OUT/live.log)" >&2; exit 2; }
field() { sed -n "s/.*$1 \([0-9]*\).*/\1/p" <<<"$SUMMARY" | head -1; }
jf() { sed -n "s/.*\"$2\": *\([^,}]*\).*/\1/p" <<<"$1" | head -1; }   # a number in compact JSON
OBS=$(json_field "$(cat "$OUT/observer.json" 2>/dev/null)" xruns)
LISTEN=$("$BUILD/advinst" listen "${MODEL_ARGS[@]}" --json --target "$TARGET" --reference "$CLIP" --loop \
  --latency "$LATENCY" --from "$LATENCY" "$OUT/output.wav")
INPUT=$("$BUILD/advinst" listen "${MODEL_ARGS[@]}" --json --target "$TARGET" "$CLIP" 2>/dev/null || echo '{}')
printf '{"clip": "%s", "method": "%s", "target": "%s", "latency_s": %s, "period": %s, "seconds": %s, ' \
  "$(basename "$CLIP")" "$METHOD" "$TARGET" "$LATENCY" "$PERIOD" "$SECONDS_RUN"
printf '"hit_rate": %s, "snr_db": %s, "windows": %s, "input_hit_rate": %s, ' \
  "$(jf "$LISTEN" hit_rate)" "$(jf "$LISTEN" snr_db)" "$(jf "$LISTEN" windows)" "$(jf "$INPUT" hit_rate)"
printf '"segments_ok": %s, "segments_failed": %s, "segments_missed": %s, "iterations": %s, ' \
  "$(field "segments ok")" "$(field ", failed")" "$(field "missed")" "$(sed -n 's/.*; \([0-9]*\) iterations.*/\1/p' <<<"$SUMMARY")"
printf '"xruns_advinst": %s, "xruns_observer": %s, "xruns_server": %s, %s, ' \
  "$(field "xruns")" "${OBS:--1}" "$(grep -c "XRun" "$OUT/jackd.log" || true)" "$(xrun_kinds_json "$OUT/jackd.log")"
printf '"load_before": %s, "load_after": %s, "extra": "%s"}\n' "$LOAD0" "$LOAD1" "$*"
