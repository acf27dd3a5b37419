#!/usr/bin/env bash
# The JACK server killed (SIGKILL) under `advinst live --reconnect` and started again: advinst keeps
# running through the outage (answering OSC: a target sent meanwhile is taken), reconnects to the
# new server of the same name, processes audio again (segments attacked toward the new target
# after the reconnect, in the --verbose segment lines and the per-second lines), and exits 0 with
# its summary on SIGTERM. (Without --reconnect: exit 5, tested by
# tests/test_live_jack.c.) About 20 s.
#   tests/cli_live_reconnect.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
source "$(dirname "$0")/live_jackd.sh"
LOG=$WORK/live.log ERR=$WORK/live.err

start_jackd "$WORK/jackd.log"
# the default latency (2 s): segment reports a few seconds after each (re)start
"$ADV" live --server "$SERVER" --reconnect --osc-port 0 --input-file "$REPO/demo/harmonica.wav" --loop --verbose \
  --classify-hz 2 --threads 1 --target glockenspiel >"$LOG" 2>"$ERR" &
LIVE_PID=$!
wait_for "$LOG" "OSC on UDP port" 30
PORT=$(osc_port "$LOG")
wait_for "$LOG" "^segment [0-9]+ \([0-9.]+ s\): (ok|failed|miss), target glockenspiel" 20

kill_jackd KILL
wait_for "$ERR" "the JACK server shut down; reconnecting" 10
sleep 2
kill -0 "$LIVE_PID" 2>/dev/null || fail "advinst live exited after the server died"
oscsend 127.0.0.1 "$PORT" /advinst/target s electric_guitar
wait_for "$LOG" "^settings [0-9]+( at [0-9.]+ s)?: target electric_guitar" 5   # OSC answered during the outage

start_jackd "$WORK/jackd.log"
wait_for "$LOG" "OSC on UDP port" 20 2                          # the second connection
wait_for "$LOG" "^segment [0-9]+ \([0-9.]+ s\): (ok|failed|miss), target electric_guitar" 20   # audio processed again
wait_for "$LOG" "^[0-9.]+ s  in: .*\| attack electric_guitar: [0-9]+/[0-9]+ segments ok" 10

kill -TERM "$LIVE_PID"
code=0
wait "$LIVE_PID" || code=$?
LIVE_PID=""
[ "$code" = 0 ] || fail "advinst live exited with $code after SIGTERM"
grep -q "^advinst live: .* processed" "$LOG" || fail "no summary line"
# stderr: the outage, told once each, nothing else
unexpected=$(grep -vE "the JACK server shut down; reconnecting|cannot connect to the JACK server.*retrying every second" "$ERR" || true)
[ -z "$unexpected" ] || fail "unexpected messages: $unexpected"
[ "$(grep -c "retrying every second" "$ERR")" = 1 ] || fail "the retry message is not printed exactly once"
echo "cli_live_reconnect: survived the server's death, reconnected, $(grep -c '^segment ' "$LOG") segments reported; $(tail -1 "$LOG")"
