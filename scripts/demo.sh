#!/usr/bin/env bash
# The live demo on a machine without a sound card:
#   - a private JACK server with the dummy backend (name advinst-demo; reused if already running,
#     stopped at the end only if this script started it, by PID)
#   - `advinst live` fed from a demo clip (looped, on JACK's clock), recording its output
#   - OSC (oscsend): first no target (the classifier hears the instrument), then a target with C&W,
#     then Multi-Scale C&W (the live-mscw preset) toward another target, then bypass
#   - prints what the classifier heard on both streams every two seconds, then judges the recorded
#     output as a listener hears it (`advinst listen`: a 3.7 s window every 0.1 s, each classified on
#     its own) per phase: the share of windows heard as the target once the look-ahead has filled,
#     how long after the OSC command the output was heard as the target for good, the SNR, and the
#     latency
#
#   scripts/demo.sh [CLIP.wav]        default: demo/harmonica.wav
# Environment: ADVINST (the program), OSC_PORT (9000), OUT (out/demo-live), LATENCY (the default).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIP=${1:-$ROOT/demo/harmonica.wav}
OUT=${OUT:-$ROOT/out/demo-live}
OSC_PORT=${OSC_PORT:-9000}
FEEDBACK_PORT=$((OSC_PORT + 1))
SERVER=advinst-demo
export JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1

ADV=${ADVINST:-}
if [ -z "$ADV" ]; then
  # set up: dependencies and the build (quick when already done)
  "$ROOT/scripts/install-deps.sh"
  cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$ROOT/build" -j"$(nproc)" --target advinst >/dev/null
  ADV=$ROOT/build/advinst
fi
"$ADV" live --help >/dev/null 2>&1 || { echo "demo: $ADV has no 'live' command" >&2; exit 2; }
for tool in jackd oscsend oscdump jack_lsp; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
done
[ -f "$CLIP" ] || { echo "demo: no clip $CLIP (give a WAV file as argument)" >&2; exit 2; }
mkdir -p "$OUT"

# The shipped model, else an untrained stand-in.
LATENCY_ARGS=()
[ -n "${LATENCY:-}" ] && LATENCY_ARGS=(--latency "$LATENCY")
if [ -f "$ROOT/models/default.safetensors" ] || [ -n "${ADVINST_MODEL:-}" ]; then
  MODEL_ARGS=()
  TARGET1=accordion TARGET2=female_singing
else
  echo "demo: models/default.safetensors does not exist yet: using an UNTRAINED random model"
  echo "      (--random-model 1); its predictions mean nothing, the plumbing is real."
  MODEL_ARGS=(--random-model 1)
  TARGET1=glockenspiel TARGET2=electric_guitar
fi
# phases (seconds after advinst starts): clean, C&W to TARGET1, MS-C&W to TARGET2, bypass
T_CW=8 T_MSCW=28 T_BYPASS=48 DURATION=52

JACKD_PID="" LIVE_PID="" DUMP_PID=""
cleanup() {
  for pid in $LIVE_PID $DUMP_PID $JACKD_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if jack_lsp -s "$SERVER" >/dev/null 2>&1; then
  echo "demo: using the running JACK server '$SERVER'"
else
  jackd -n "$SERVER" -d dummy -r 48000 -p 256 >"$OUT/jackd.log" 2>&1 &
  JACKD_PID=$!
  for _ in $(seq 50); do jack_lsp -s "$SERVER" >/dev/null 2>&1 && break; sleep 0.1; done
  jack_lsp -s "$SERVER" >/dev/null 2>&1 || { echo "demo: jackd did not start (see $OUT/jackd.log)" >&2; exit 5; }
  echo "demo: started a private JACK server '$SERVER' (dummy backend, 48 kHz, 256 frames; PID $JACKD_PID)"
fi

oscdump -L "$FEEDBACK_PORT" >"$OUT/osc.log" 2>&1 &
DUMP_PID=$!

"$ADV" live "${MODEL_ARGS[@]}" "${LATENCY_ARGS[@]}" --server "$SERVER" --osc-port "$OSC_PORT" \
  --osc-feedback "127.0.0.1:$FEEDBACK_PORT" --input-file "$CLIP" --loop \
  --record "$OUT/output.wav" --duration "$DURATION" >"$OUT/live.log" 2>&1 &
LIVE_PID=$!
for _ in $(seq 200); do grep -q "OSC on UDP port" "$OUT/live.log" 2>/dev/null && break; sleep 0.05; done
grep -q "OSC on UDP port" "$OUT/live.log" || { cat "$OUT/live.log" >&2; exit 1; }
head -1 "$OUT/live.log"
LAT=$(sed -n 's/.*latency [0-9]* frames (\([0-9.]*\) s).*/\1/p' "$OUT/live.log" | head -1)
START=$(date +%s.%N)
at() { sleep "$(awk -v a="$1" -v n="$(date +%s.%N)" -v s="$START" 'BEGIN { d = a - (n - s); print (d > 0 ? d : 0) }')"; }
send() { echo "  OSC $*"; oscsend localhost "$OSC_PORT" "$@"; }

echo "demo: $(date +%T) no target: the classifier hears the instrument"
at "$T_CW"
echo "demo: $(date +%T) target $TARGET1 with C&W"
send /advinst/target s "$TARGET1"
at "$T_MSCW"
echo "demo: $(date +%T) Multi-Scale C&W (preset live-mscw) and target $TARGET2"
send /advinst/preset s live-mscw
send /advinst/target s "$TARGET2"
send /advinst/bogus i 1     # answered with /advinst/error
at "$T_BYPASS"
echo "demo: $(date +%T) bypass"
send /advinst/bypass i 1
set +e
wait "$LIVE_PID"
CODE=$?
set -e
LIVE_PID=""

echo
echo "== what the classifier heard (every two seconds: input and output streams) =="
grep -E "^[0-9.]+ s  in:" "$OUT/live.log" | awk 'NR % 2 == 1' || true
echo
grep -E "^advinst live: .* processed" "$OUT/live.log" || true

# The engine's time of each change (from its "settings N at T s" lines): the phases' input times.
change_at() { grep -E "^settings [0-9]+ at .*$1" "$OUT/live.log" | head -1 | sed -n 's/^settings [0-9]* at \([0-9.]*\) s.*/\1/p'; }
C1=$(change_at "target $TARGET1") C2=$(change_at "target $TARGET2") C3=$(change_at "bypass 1")
echo
echo "== what a listener hears in the recorded output (3.7 s windows every 0.1 s, latency $LAT s) =="
judge() {   # judge NAME TARGET FROM_INPUT_TIME TO_INPUT_TIME
  local name=$1 target=$2 from to lines
  [ -n "$3" ] && [ -n "$4" ] || { echo "  $name: not reached"; return; }
  from=$(awk -v a="$3" -v l="$LAT" 'BEGIN {print a + l}') to=$(awk -v a="$4" -v l="$LAT" 'BEGIN {print a + l}')
  lines=$("$ADV" listen "${MODEL_ARGS[@]}" --windows --target "$target" --from "$(awk -v a="$3" -v l="$LAT" 'BEGIN {print (a + l - 3.7 > 0 ? a + l - 3.7 : 0)}')" --to "$to" \
          "$OUT/output.wav" 2>/dev/null | grep -E "^[0-9.]+ s:" || true)
  awk -v name="$name" -v target="$target" -v from="$from" -v cmd="$3" '
    { t = $1 + 0; hit = ($3 == target); n_all++; if (t >= from + 3.7 - 1e-6) { n++; h += hit }
      if (!hit) last_miss = t }
    END {
      steady = (last_miss == "" ? "at once" : sprintf("%.1f s after the command", last_miss + 0.1 - cmd))
      if (n) printf "  %-34s %5.1f %% of %d windows heard as %s (windows wholly after the look-ahead); for good from %s\n", name, 100 * h / n, n, target, steady
      else printf "  %-34s no whole window\n", name }' <<<"$lines"
}
judge "clean (no target)" "$(grep -m1 -E '^[0-9.]+ s  in:' "$OUT/live.log" | sed -n 's/.*in: \([^ ]*\) .*/\1/p')" 0 "${C1:-}"
judge "C&W -> $TARGET1" "$TARGET1" "${C1:-}" "${C2:-}"
judge "MS-C&W -> $TARGET2" "$TARGET2" "${C2:-}" "${C3:-}"
if [ -n "${C1:-}" ] && [ -n "${C3:-}" ]; then
  SNR=$("$ADV" listen "${MODEL_ARGS[@]}" --json --reference "$CLIP" --loop --latency "$LAT" \
        --from "$(awk -v a="$C1" -v l="$LAT" 'BEGIN {print a + l}')" --to "$(awk -v a="$C3" -v l="$LAT" 'BEGIN {print a + l}')" \
        "$OUT/output.wav" | sed -n 's/.*"snr_db":\([-0-9.]*\).*/\1/p')
  echo "  SNR of the output against the input while attacking: $SNR dB; latency $LAT s"
fi
echo
echo "OSC feedback: $(grep -c prediction "$OUT/osc.log" || true) predictions, $(grep -c '/advinst/attack' "$OUT/osc.log" || true) segment reports, errors: $(grep '/advinst/error' "$OUT/osc.log" | sed 's/.*"\(.*\)"/\1/' | tr '\n' ' ')"
echo "recorded output: $OUT/output.wav (the input delayed by the latency, perturbed); logs in $OUT"
exit "$CODE"
