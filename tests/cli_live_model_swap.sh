#!/usr/bin/env bash
# The model file replaced under a running `advinst live` changes nothing: the model is read into
# memory at start (the file is neither mapped nor kept open), and after the file is replaced by
# another model (rename), garbage (rename), a truncated copy (written in place), another model
# (copied over it in place) and finally removed, the attacks go on with the very same results.
# "The same": the input is a 5 s clip looped with 2.5 s clips (two per loop, attacked on one
# thread, deterministic), so clips k and k + 2 have the same samples and must report the same
# result; clips 0 and 1 are attacked before the replacements (at 2.5 and 5 s), 4 to 7 after them
# (from 12.5 s; the replacements are made at 10 s). A clip that missed its deadline, possible on
# a slow machine, is left out; each half of the loop must be compared at least once. About 30 s.
#   tests/cli_live_model_swap.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
source "$(dirname "$0")/live_jackd.sh"
LOG=$WORK/live.log ERR=$WORK/live.err MODEL=$WORK/model.safetensors
# the shipped model is part of the checkout: without it the checkout is broken (a failure)
[ -f "$REPO/models/default.safetensors" ] || fail "no shipped model $REPO/models/default.safetensors"
cp "$REPO/models/default.safetensors" "$MODEL"
# another valid model: the same header, 8 kB of weights in the middle zeroed
cp "$MODEL" "$WORK/other.safetensors"
dd if=/dev/zero of="$WORK/other.safetensors" bs=4096 count=2 seek=$(($(stat -c %s "$MODEL") / 8192)) conv=notrunc 2>/dev/null
cmp -s "$MODEL" "$WORK/other.safetensors" && fail "could not make a different model"

start_jackd "$WORK/jackd.log"
# harmonica.wav: 80000 frames at 16 kHz = 240000 at 48 kHz = two clips of 2.5 s
"$ADV" live --server "$SERVER" --model "$MODEL" --osc-port 0 --input-file "$REPO/demo/harmonica.wav" --loop --quiet \
  --clip-seconds 2.5 --budget-seconds 5 --classify-hz 2 --threads 1 --target accordion >"$LOG" 2>"$ERR" &
LIVE_PID=$!
wait_for "$LOG" "OSC on UDP port" 30
grep -qF "$MODEL" "/proc/$LIVE_PID/maps" && fail "the model file is mapped into the process"
for fd in /proc/"$LIVE_PID"/fd/*; do
  [ "$(readlink "$fd" || true)" != "$MODEL" ] || fail "the model file is kept open"
done

# clip 1's result is printed when it starts playing (10 s), long after it was attacked (at 5 s)
wait_for "$LOG" "^clip 1 " 20
cp "$WORK/other.safetensors" "$WORK/next" && mv "$WORK/next" "$MODEL"         # another model, renamed over
sleep 0.3
head -c 100000 /dev/urandom >"$WORK/next" && mv "$WORK/next" "$MODEL"         # garbage, renamed over
sleep 0.3
head -c 1000 "$WORK/other.safetensors" >"$MODEL"                              # truncated, in place
sleep 0.3
cp "$WORK/other.safetensors" "$MODEL"                                         # another model, in place
sleep 0.3
rm "$MODEL"
oscsend 127.0.0.1 "$(osc_port "$LOG")" /advinst/ping   # the control thread is alive too

wait_for "$LOG" "^clip 7 " 30
kill -TERM "$LIVE_PID"
code=0
wait "$LIVE_PID" || code=$?
LIVE_PID=""
[ "$code" = 0 ] || fail "advinst live exited with $code after SIGTERM"
[ ! -s "$ERR" ] || fail "advinst live complained: $(cat "$ERR")"

# clips of the same half of the loop, before (0, 1) and after (4 to 7) the replacements: status,
# classes, confidences, SNR and iterations (not the compute time)
result() { sed -n "s/^clip $1 ([0-9.]* s): \(.*\), [0-9.]* s$/\1/p" "$LOG"; }
compared=""
for k in 4 5 6 7; do
  before=$(result $((k % 2))) after=$(result "$k")
  [ -n "$before" ] && [ -n "$after" ] || fail "clip $((k % 2)) or $k has no result line"
  [[ "$before" =~ ^(ok|failed) ]] && [[ "$after" =~ ^(ok|failed) ]] || continue
  [ "$before" = "$after" ] || fail "clip $k differs from clip $((k % 2)) (same samples): '$after' vs '$before'"
  compared="$compared $((k % 2))"
done
[[ "$compared" == *0* && "$compared" == *1* ]] || fail "too many missed deadlines to compare both halves (compared:$compared)"
echo "cli_live_model_swap: model replaced 4 ways and removed; clips 4-7 identical to 0-1: $(result 0) | $(result 1)"
