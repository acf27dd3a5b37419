#!/usr/bin/env bash
# The JACK client's process callback never allocates, locks, waits or does I/O: `advinst live`
# runs under tests/rt_guard.c (LD_PRELOAD; the callback JACK calls is wrapped so that its thread
# is marked as audio thread) on a private dummy server for 12 s of audio while attacks run (latency
# 1 s, short windows, few iterations: perturbations play), the classifier runs, the output is recorded, and
# OSC messages arrive all along (settings changes, bypass, queries, bad messages). Then a JACK
# client that allocates in its callback (tests/rt_violator.c) must be caught: the check can fail.
#   tests/rt_guard_jack.sh ADVINST RT_GUARD_SO RT_VIOLATOR WORKDIR
set -euo pipefail
ADV=$1 GUARD=$2 VIOLATOR=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
source "$(dirname "$0")/live_jackd.sh"
CHECK="$(dirname "$0")/rt_guard_check.sh"
LOG=$WORK/live.log

start_jackd "$WORK/jackd.log"
# 12 s at 48 kHz in 512-frame periods: 1125 periods
bash "$CHECK" clean "$GUARD" "$WORK/live-report.txt" 1000 -- \
  "$ADV" live --server "$SERVER" --osc-port 0 --input-file "$REPO/demo/harmonica.wav" --loop --quiet \
  --latency 1 --window-seconds 1.2 --iterations 3 --threads 1 --target glockenspiel \
  --record "$WORK/out.wav" --duration 12 >"$LOG" 2>&1 &
CHECK_PID=$!
wait_for "$LOG" "OSC on UDP port" 30
PORT=$(osc_port "$LOG")
# OSC traffic while it runs: every 50 ms a message (changes, queries, errors)
msgs=(
  "/advinst/method s mscw" "/advinst/alpha f 10" "/advinst/target s electric_guitar" "/advinst/query"
  "/advinst/eps f 0.02" "/advinst/bypass i 1" "/advinst/bypass i 0" "/advinst/eps s big"
  "/advinst/method s cw" "/advinst/target i 6" "/advinst/confidence f 0.3" "/advinst/ping"
)
sent=0
while kill -0 "$CHECK_PID" 2>/dev/null && [ $sent -lt 200 ]; do
  # shellcheck disable=SC2086
  oscsend 127.0.0.1 "$PORT" ${msgs[$((sent % ${#msgs[@]}))]} 2>/dev/null || true
  sent=$((sent + 1))
  sleep 0.05
done
code=0
wait "$CHECK_PID" || code=$?
cat "$LOG" | grep -v "^settings" | tail -5
[ "$code" = 0 ] || fail "advinst live under rt_guard (see above and $LOG)"
summary=$(grep "^advinst live: .* processed" "$LOG") || fail "no summary line"
played=$(echo "$summary" | sed -n 's/.*segments ok \([0-9]*\), failed \([0-9]*\),.*/\1 \2/p')
read -r ok failed <<<"$played"
[ $((ok + failed)) -ge 2 ] || fail "only $ok ok and $failed failed segments played: attacks did not run"
received=$(echo "$summary" | sed -n 's/.*OSC messages \([0-9]*\).*/\1/p')
[ "${received:-0}" -ge 50 ] || fail "only ${received:-0} OSC messages reached advinst"

# the fixture: a callback that allocates is caught
bash "$CHECK" violation "$GUARD" "$WORK/violator-report.txt" 10 -- "$VIOLATOR" "$SERVER" 2 ||
  fail "rt_guard did not catch a JACK callback that allocates"
grep -q "^violation malloc from rt_violator" "$WORK/violator-report.txt" || fail "the violation was not located"
echo "rt_guard_jack: OK ($ok ok + $failed failed segments played, $received OSC messages, no forbidden call)"
