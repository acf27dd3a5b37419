# Sourced by the tests/cli_live_*.sh tests that need a JACK server: a private jackd with the dummy
# backend under one fixed name (advinst-test, as tests/test_live_jack.c: JACK2 reuses the registry
# slot of a dead server of the same name), started and stopped by PID, and log helpers.
# Expects WORK. ADVINST_TEST_SERVER overrides the name.

SERVER=${ADVINST_TEST_SERVER:-advinst-test}
export JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1
JACKD_PID="" LIVE_PID=""
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() { echo "$(basename "$0"): FAIL: $*" >&2; exit 1; }

jackd_cleanup() {
  [ -z "$LIVE_PID" ] || { kill -KILL "$LIVE_PID" 2>/dev/null || true; wait "$LIVE_PID" 2>/dev/null || true; }
  [ -z "$JACKD_PID" ] || { kill -TERM "$JACKD_PID" 2>/dev/null || true; wait "$JACKD_PID" 2>/dev/null || true; }
}
trap jackd_cleanup EXIT

# start_jackd LOG [PERIOD]: a dummy server at 48 kHz, PERIOD-frame periods (default 512); waits until
# clients can connect.
start_jackd() {
  for _ in $(seq 150); do jack_lsp -s "$SERVER" >/dev/null 2>&1 || break; sleep 0.2; done
  jack_lsp -s "$SERVER" >/dev/null 2>&1 && fail "a JACK server '$SERVER' is already running (another test run?)"
  jackd -n "$SERVER" -d dummy -r 48000 -p "${2:-512}" >>"$1" 2>&1 &
  JACKD_PID=$!
  for _ in $(seq 100); do jack_lsp -s "$SERVER" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "jackd did not start (see $1)"
}

# kill_jackd SIGNAL: stops our server and waits for it.
kill_jackd() {
  kill "-$1" "$JACKD_PID"
  wait "$JACKD_PID" 2>/dev/null || true
  JACKD_PID=""
}

# stop_live: SIGTERM to advinst live, waits for it; fails unless it exits 0.
stop_live() {
  local code=0
  kill -TERM "$LIVE_PID"
  wait "$LIVE_PID" || code=$?
  LIVE_PID=""
  [ "$code" = 0 ] || fail "advinst live exited with $code after SIGTERM"
}

# wait_for FILE PATTERN SECONDS [COUNT]: until FILE has COUNT (default 1) lines matching the
# extended regular expression PATTERN; fails after SECONDS.
wait_for() {
  local file=$1 pattern=$2 seconds=$3 count=${4:-1} i
  for i in $(seq $((seconds * 10))); do
    [ "$(grep -cE "$pattern" "$file" 2>/dev/null || true)" -ge "$count" ] && return 0
    [ -z "$LIVE_PID" ] || kill -0 "$LIVE_PID" 2>/dev/null || fail "advinst live died waiting for '$pattern' (see $file)"
    sleep 0.1
  done
  fail "no '$pattern' (x$count) in $file within $seconds s"
}

# osc_port LOG: the OSC port advinst live reported.
osc_port() { sed -n 's/.*OSC on UDP port \([0-9]*\).*/\1/p' "$1" | head -1; }

command -v jackd >/dev/null && command -v jack_lsp >/dev/null && command -v oscsend >/dev/null ||
  fail "jackd, jack_lsp and oscsend are needed (scripts/install-deps.sh)"
