# Shared by bench/live_load.sh and bench/soak.sh (sourced): a private dummy JACK server with an
# xrun observer, `advinst live` on a looped clip, RSS sampling, and the clean-up of exactly the
# processes started here (by PID). Expects ROOT and BUILD.
#
# After live_stop: LIVE_CODE, LIVE_XRUNS, LIVE_OK, LIVE_FAILED, LIVE_MISSED, LIVE_CLEAN (segments),
# LIVE_ITERATIONS, LIVE_OVERFLOWS (advinst's summary line), OBSERVER_XRUNS, SERVER_XRUNS (XRun
# lines in the server's log).

SERVER=advinst-bench   # one fixed name: JACK2 reuses the registry slot of a dead server of that name
export JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1
JACKD_PID="" OBSERVER_PID="" LIVE_PID="" SAMPLER_PID=""

live_cleanup() {
  local pid
  for pid in $SAMPLER_PID $LIVE_PID $OBSERVER_PID $JACKD_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap live_cleanup EXIT

# live_setup OUT PERIOD: checks the tools, starts the server and the observer.
live_setup() {
  local out=$1 period=$2 tool
  for tool in jackd jack_lsp; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
  done
  for tool in advinst osc_flood jack_xruns; do
    [ -x "$BUILD/$tool" ] || { echo "$(basename "$0"): $BUILD/$tool is missing (cmake --build $BUILD)" >&2; exit 2; }
  done
  if jack_lsp -s "$SERVER" >/dev/null 2>&1; then
    echo "$(basename "$0"): a JACK server '$SERVER' is already running (another run?)" >&2
    exit 2
  fi
  mkdir -p "$out"
  jackd -n "$SERVER" -d dummy -r 48000 -p "$period" >"$out/jackd.log" 2>&1 &
  JACKD_PID=$!
  for _ in $(seq 100); do jack_lsp -s "$SERVER" >/dev/null 2>&1 && break; sleep 0.1; done
  jack_lsp -s "$SERVER" >/dev/null 2>&1 || { echo "$(basename "$0"): jackd did not start (see $out/jackd.log)" >&2; exit 2; }
  "$BUILD/jack_xruns" --server "$SERVER" >"$out/observer.json" 2>"$out/observer.log" &
  OBSERVER_PID=$!
}

# live_start OUT CLIP [advinst options...]: starts advinst live; sets LIVE_PID, OSC_PORT, OSC_RCVBUF.
live_start() {
  local out=$1 clip=$2
  shift 2
  "$BUILD/advinst" live --server "$SERVER" --osc-port 0 --input-file "$clip" --loop --quiet "$@" >"$out/live.log" 2>&1 &
  LIVE_PID=$!
  for _ in $(seq 300); do grep -q "OSC on UDP port" "$out/live.log" 2>/dev/null && break; sleep 0.05; done
  OSC_PORT=$(sed -n 's/.*OSC on UDP port \([0-9]*\).*/\1/p' "$out/live.log" | head -1)
  OSC_RCVBUF=$(sed -n 's/.*receive buffer \([0-9]*\) kB.*/\1/p' "$out/live.log" | head -1)
  [ -n "$OSC_PORT" ] || { echo "$(basename "$0"): advinst live did not start:" >&2; cat "$out/live.log" >&2; exit 2; }
}

# live_stop OUT: SIGTERM to advinst (its summary line), then the observer and the server.
live_stop() {
  local out=$1 summary
  kill -TERM "$LIVE_PID"
  LIVE_CODE=0
  wait "$LIVE_PID" || LIVE_CODE=$?
  LIVE_PID=""
  summary=$(grep "^advinst live: .* processed" "$out/live.log" | tail -1)
  LIVE_OK=$(sed -n 's/.*segments ok \([0-9]*\).*/\1/p' <<<"$summary")
  LIVE_FAILED=$(sed -n 's/.*, failed \([0-9]*\).*/\1/p' <<<"$summary")
  LIVE_MISSED=$(sed -n 's/.*missed \([0-9]*\).*/\1/p' <<<"$summary")
  LIVE_CLEAN=$(sed -n 's/.*clean \([0-9]*\).*/\1/p' <<<"$summary")
  LIVE_ITERATIONS=$(sed -n 's/.*; \([0-9]*\) iterations;.*/\1/p' <<<"$summary")
  LIVE_XRUNS=$(sed -n 's/.*xruns \([0-9]*\).*/\1/p' <<<"$summary")
  LIVE_OVERFLOWS=$(sed -n 's/.*ring overflows \([0-9]*\).*/\1/p' <<<"$summary")
  : "${LIVE_OK:=0}" "${LIVE_FAILED:=0}" "${LIVE_MISSED:=0}" "${LIVE_CLEAN:=0}" "${LIVE_ITERATIONS:=0}" "${LIVE_XRUNS:=-1}"
  : "${LIVE_OVERFLOWS:=-1}"
  kill -TERM "$OBSERVER_PID" 2>/dev/null || true
  wait "$OBSERVER_PID" 2>/dev/null || true
  OBSERVER_PID=""
  OBSERVER_XRUNS=$(json_field "$(cat "$out/observer.json")" xruns)
  : "${OBSERVER_XRUNS:=-1}"
  kill -TERM "$JACKD_PID" 2>/dev/null || true
  wait "$JACKD_PID" 2>/dev/null || true
  JACKD_PID=""
  SERVER_XRUNS=$(grep -c "XRun" "$out/jackd.log" || true)
}

# rss_kb PID: resident set size in kB (VmRSS), 0 if gone.
rss_kb() { awk '/^VmRSS:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0; }

# rss_sampler CSV INTERVAL: "seconds,rss_kb" of LIVE_PID every INTERVAL s while it lives (run in the background).
rss_sampler() {
  local csv=$1 every=$2 t0 now
  t0=$(date +%s.%N)
  echo "seconds,rss_kb" >"$csv"
  while kill -0 "$LIVE_PID" 2>/dev/null; do
    now=$(date +%s.%N)
    echo "$(awk -v a="$now" -v b="$t0" 'BEGIN {printf "%.1f", a - b}'),$(rss_kb "$LIVE_PID")" >>"$csv"
    sleep "$every"
  done
}

# rss_summary CSV WARMUP: RSS_FIRST (first sample), RSS_PEAK (largest after WARMUP s).
rss_summary() {
  RSS_FIRST=$(awk -F, 'NR == 2 {print $2}' "$1")
  RSS_PEAK=$(awk -F, -v w="$2" 'NR > 1 && $1 >= w && $2 > m {m = $2} END {print m + 0}' "$1")
}

# json_field JSON NAME: the value of a number, boolean or string field of a flat JSON line.
json_field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1" | head -1; }

# xrun_kinds_json JACKD_LOG: the server's xrun messages by kind, as JSON fields:
#   driver_late     the dummy driver's own thread woke up after its cycle's deadline;
#   not_woken       a client was signalled but its thread had not run by the deadline (state
#                   Triggered): the operating system did not schedule it in time;
#   advinst_running advinst's callback had started but not finished (state Running): too much
#                   work or a stall inside the callback, the kind advinst itself answers for.
xrun_kinds_json() {
  local log=$1
  printf '"xruns_driver_late": %s, "xruns_not_woken": %s, "xruns_advinst_running": %s' \
    "$(grep -c "JackTimedDriver::Process XRun" "$log" || true)" \
    "$(grep -c "was not finished, state = Triggered" "$log" || true)" \
    "$(grep -c "client = advinst was not finished, state = Running" "$log" || true)"
}
