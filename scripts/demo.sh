#!/usr/bin/env bash
# The live demo on a machine without a sound card:
#   - a private JACK server with the dummy backend (name advinst-demo; reused if already running,
#     stopped at the end only if this script started it, by PID)
#   - `advinst live` fed from a demo clip (looped, on JACK's clock), recording its output
#   - OSC (oscsend) sets a target with C&W, then switches to Multi-Scale C&W and another target
#   - prints what the classifier heard before and after, per clip (prediction, confidence, SNR)
#
#   scripts/demo.sh [CLIP.wav]        default: demo/harmonica.wav
# Environment: ADVINST (the program), OSC_PORT (9000), OUT (out/demo-live), DURATION (seconds).
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

# The shipped model, else an untrained stand-in with settings it can be fooled with quickly.
if [ -f "$ROOT/models/default.safetensors" ] || [ -n "${ADVINST_MODEL:-}" ]; then
  MODEL_ARGS=(--confidence 0.9)   # a margin, so the sliding windows (straddling two clips) hear it too
  TARGET1=accordion TARGET2=glockenspiel
  DURATION=${DURATION:-40}
  T_SWITCH=16
else
  echo "demo: models/default.safetensors does not exist yet: using an UNTRAINED random model"
  echo "      (--random-model 1, 1 s clips); its predictions mean nothing, the plumbing is real."
  MODEL_ARGS=(--random-model 1 --clip-seconds 1 --budget-seconds 1.5 --window-seconds 1 --confidence 0.5)
  TARGET1=glockenspiel TARGET2=electric_guitar
  DURATION=${DURATION:-16}
  T_SWITCH=6
fi

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

"$ADV" live "${MODEL_ARGS[@]}" --server "$SERVER" --osc-port "$OSC_PORT" \
  --osc-feedback "127.0.0.1:$FEEDBACK_PORT" --input-file "$CLIP" --loop \
  --record "$OUT/output.wav" --duration "$DURATION" >"$OUT/live.log" 2>&1 &
LIVE_PID=$!
for _ in $(seq 200); do grep -q "OSC on UDP port" "$OUT/live.log" 2>/dev/null && break; sleep 0.05; done
grep -q "OSC on UDP port" "$OUT/live.log" || { cat "$OUT/live.log" >&2; exit 1; }
head -1 "$OUT/live.log"
START=$(date +%s.%N)
at() { sleep "$(awk -v a="$1" -v n="$(date +%s.%N)" -v s="$START" 'BEGIN { d = a - (n - s); print (d > 0 ? d : 0) }')"; }
send() { echo "  OSC $*"; oscsend localhost "$OSC_PORT" "$@"; }

at 1
echo "demo: $(date +%T) target $TARGET1 with C&W"
send /advinst/target s "$TARGET1"
at "$T_SWITCH"
echo "demo: $(date +%T) Multi-Scale C&W (paper's alpha 10) and target $TARGET2"
send /advinst/method s mscw
send /advinst/alpha f 10
send /advinst/target s "$TARGET2"
send /advinst/bogus i 1     # answered with /advinst/error
set +e
wait "$LIVE_PID"
CODE=$?
set -e
LIVE_PID=""

echo
echo "== what the classifier heard (every second: input and output streams) =="
grep -E "^[0-9.]+ s  in:" "$OUT/live.log" | awk 'NR % 2 == 1' || true
echo
echo "== per clip: prediction before -> after, SNR =="
grep -E "^clip " "$OUT/live.log" || echo "(no clip was attacked)"
echo
grep -E "^advinst live: .* processed" "$OUT/live.log" || true
echo "OSC feedback: $(grep -c prediction "$OUT/osc.log" || true) predictions, $(grep -c '/advinst/attack' "$OUT/osc.log" || true) attack reports, errors: $(grep '/advinst/error' "$OUT/osc.log" | sed 's/.*"\(.*\)"/\1/' | tr '\n' ' ')"
echo "recorded output: $OUT/output.wav (the input delayed by the latency, perturbed); logs in $OUT"
exit "$CODE"
