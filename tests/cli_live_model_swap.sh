#!/usr/bin/env bash
# The model file replaced under a running `advinst live` changes nothing: the model is read into
# memory at start (the file is neither mapped nor kept open), and after the file is replaced by
# another model (rename), garbage (rename), a truncated copy (written in place), another model
# (copied over it in place) and finally removed, the attack goes on with the very same results.
# "The same": the attack runs inside the audio callback (--synchronous: deterministic) on a
# freewheeling private dummy JACK server, target and method from the command line; the output of
# a run during which the file is replaced and removed, and of a run with the file untouched, are
# recorded: identical bit for bit, and so are their segment reports. Nothing is printed on stderr.
# About 30 s on a busy 2-core machine.
#   tests/cli_live_model_swap.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
source "$(dirname "$0")/live_jackd.sh"
MODEL=$WORK/model.safetensors
# the shipped model is part of the checkout: without it the checkout is broken (a failure)
[ -f "$REPO/models/default.safetensors" ] || fail "no shipped model $REPO/models/default.safetensors"
# another valid model: the same header, 8 kB of weights in the middle zeroed
cp "$REPO/models/default.safetensors" "$WORK/other.safetensors"
dd if=/dev/zero of="$WORK/other.safetensors" bs=4096 count=2 seek=$(($(stat -c %s "$WORK/other.safetensors") / 8192)) \
  conv=notrunc 2>/dev/null
cmp -s "$REPO/models/default.safetensors" "$WORK/other.safetensors" && fail "could not make a different model"
command -v jack_freewheel >/dev/null || fail "jack_freewheel is needed (jackd2)"

RATE=48000 SECONDS_RUN=10

# live NAME: starts a server and advinst live recording $WORK/NAME.wav, its log in $WORK/NAME.log
# and .err; once advinst is active, the server freewheels (runs as fast as the callback allows; a
# client that joins a JACK2 server while it freewheels, or after it freewheeled, is not run)
live() {
  cp "$REPO/models/default.safetensors" "$MODEL"
  start_jackd "$WORK/jackd-$1.log"
  "$ADV" live --server "$SERVER" --model "$MODEL" --osc-port 0 --input-file "$REPO/demo/harmonica.wav" --loop \
    --synchronous 10 --threads 1 --latency 1 --window-seconds 1.2 --classify-hz 2 --target accordion --method cw \
    --duration "$SECONDS_RUN" --record "$WORK/$1.wav" --quiet --verbose >"$WORK/$1.log" 2>"$WORK/$1.err" &
  LIVE_PID=$!
  wait_for "$WORK/$1.log" "OSC on UDP port" 30
  JACK_DEFAULT_SERVER=$SERVER jack_freewheel y
}

# finish NAME: waits (at most 300 s) for the end of the run (exit 0, nothing on stderr), stops the server
finish() {
  local code=0 i
  for i in $(seq 3000); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$LIVE_PID" 2>/dev/null && fail "advinst live ($1) did not finish within 300 s (see $WORK/$1.log, $WORK/jackd-$1.log)"
  wait "$LIVE_PID" || code=$?
  LIVE_PID=""
  kill_jackd TERM
  [ "$code" = 0 ] || fail "advinst live ($1) exited with $code"
  [ ! -s "$WORK/$1.err" ] || fail "advinst live ($1) complained: $(cat "$WORK/$1.err")"
  grep -q "^advinst live: .* processed" "$WORK/$1.log" || fail "no summary line ($1)"
}

segments() { grep -c "^segment " "$WORK/$1.log" || true; }

live swapped
grep -qF "$MODEL" "/proc/$LIVE_PID/maps" && fail "the model file is mapped into the process"
for fd in /proc/"$LIVE_PID"/fd/*; do
  [ "$(readlink "$fd" || true)" != "$MODEL" ] || fail "the model file is kept open"
done
wait_for "$WORK/swapped.log" "^segment 0 " 60   # attacking
cp "$WORK/other.safetensors" "$WORK/next" && mv "$WORK/next" "$MODEL"         # another model, renamed over
sleep 0.05
head -c 100000 /dev/urandom >"$WORK/next" && mv "$WORK/next" "$MODEL"         # garbage, renamed over
sleep 0.05
head -c 1000 "$WORK/other.safetensors" >"$MODEL"                              # truncated, in place
sleep 0.05
cp "$WORK/other.safetensors" "$MODEL"                                         # another model, in place
sleep 0.05
rm "$MODEL"
at_rm=$(segments swapped)
oscsend 127.0.0.1 "$(osc_port "$WORK/swapped.log")" /advinst/ping   # the control thread is alive too
finish swapped
after=$(($(segments swapped) - at_rm))
# the attack worked well ahead of the segments played at the removal: it went on long after it
[ "$after" -ge 10 ] || fail "the run ended too soon after the replacements ($after segments played after them)"

live untouched
finish untouched

# the same frames: compare the first SECONDS_RUN s of audio (each recording goes on a little past
# its end) and the segment reports (the compute time is not in them)
bytes=$((RATE * SECONDS_RUN * 4))
off() { echo $(($(grep -obUa data "$1" | head -1 | cut -d: -f1) + 8)); }
for run in swapped untouched; do
  [ "$(stat -c %s "$WORK/$run.wav")" -ge "$(($(off "$WORK/$run.wav") + bytes))" ] || fail "the $run recording is too short"
done
cmp -s -n "$bytes" -i "$(off "$WORK/swapped.wav"):$(off "$WORK/untouched.wav")" "$WORK/swapped.wav" "$WORK/untouched.wav" ||
  fail "the output differs from the run with the model file untouched"
n=$(( $(segments swapped) < $(segments untouched) ? $(segments swapped) : $(segments untouched) ))
[ "$n" -ge 35 ] || fail "only $n segment reports"
diff <(grep "^segment " "$WORK/swapped.log" | head -n "$n") <(grep "^segment " "$WORK/untouched.log" | head -n "$n") \
  >"$WORK/segments.diff" || fail "segment reports differ (see $WORK/segments.diff)"
attacked=$(grep -cE "^segment .*: (ok|failed), target accordion" "$WORK/swapped.log" || true)
[ "$attacked" -ge 35 ] || fail "only $attacked segments attacked"
echo "cli_live_model_swap: model replaced 4 ways and removed with $after segments still to play; ${SECONDS_RUN} s of output" \
  "identical bit for bit to an untouched run, $n segment reports identical; $(grep "^advinst live: .* processed" "$WORK/swapped.log")"
