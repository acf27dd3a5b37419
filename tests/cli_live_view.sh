#!/usr/bin/env bash
# The web view end to end: `advinst live --input-file demo/harmonica.wav --http 0` on a private dummy
# JACK server (48 kHz, 256-frame periods), its OSCQuery answering with the OSC port the process
# really has, and the page loaded in headless Chromium (build/view_browser drives it over the
# DevTools protocol): after a few seconds its DOM shows the 12 class names on both panels and a
# live prediction of the input (a class or "silent", not the placeholder), fed by the WebSocket,
# and a click on the page's "mscw" button reaches the engine through the settings setter (advinst
# prints the new settings). Chromium and curl are declared dependencies (scripts/install-deps.sh):
# without them this test fails. SCREENSHOT=FILE.png keeps a screenshot of the view. About 20 s.
#   tests/cli_live_view.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
source "$(dirname "$0")/live_jackd.sh"
BUILD=$(dirname "$ADV")
BROWSER=""
for b in chromium-headless-shell chromium; do command -v "$b" >/dev/null && { BROWSER=$(command -v "$b"); break; }; done
[ -n "$BROWSER" ] || fail "no headless Chromium (chromium-headless-shell or chromium; scripts/install-deps.sh)"
command -v curl >/dev/null || fail "curl is missing (scripts/install-deps.sh)"
[ -x "$BUILD/view_browser" ] || fail "$BUILD/view_browser is missing (cmake --build)"
LOG=$WORK/live.log

start_jackd "$WORK/jackd.log" 256
"$ADV" live --server "$SERVER" --osc-port 0 --http 0 --input-file "$REPO/demo/harmonica.wav" --loop \
  --threads 1 >"$LOG" 2>"$WORK/live.err" &
LIVE_PID=$!
wait_for "$LOG" "web view on http://127.0.0.1:[0-9]+/view" 30
HTTP=$(sed -n 's|.*web view on http://127.0.0.1:\([0-9]*\)/view.*|\1|p' "$LOG" | head -1)
OSC=$(osc_port "$LOG")

# OSCQuery from the running process: its real OSC port, the namespace of --list-osc
curl -fsS "http://127.0.0.1:$HTTP/?HOST_INFO" >"$WORK/host_info.json"
grep -q "\"OSC_PORT\":$OSC," "$WORK/host_info.json" || fail "HOST_INFO does not give OSC port $OSC: $(cat "$WORK/host_info.json")"
curl -fsS "http://127.0.0.1:$HTTP/" >"$WORK/namespace.json"
for a in $("$ADV" live --list-osc | awk '$1 == "in" {print $2}'); do
  grep -q "\"FULL_PATH\":\"$a\"" "$WORK/namespace.json" || fail "OSCQuery lacks $a"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/../../etc/passwd" || true)
[ "$code" = 404 ] || fail "a path outside the page gave $code"

# the page: class names, a live prediction, the WebSocket feed; then a control
EXPR='(() => { const v = window.advinstView; const t = (id) => document.getElementById(id).textContent;
  return { inClass: t("in-class"), outClass: t("out-class"), conn: t("conn"), updates: v.updates, batches: v.batches,
           names: [...document.querySelectorAll(".bar .name")].map((e) => e.textContent), target: t("target") }; })()'
# (waits until the page has had 3 updates of the input, 60 s at most: sanitizer builds are slow)
"$BUILD/view_browser" --browser "$BROWSER" --seconds 60 --until 'window.advinstView.updates >= 3' --eval "$EXPR" \
  ${SCREENSHOT:+--screenshot "$SCREENSHOT"} "http://127.0.0.1:$HTTP/view" >"$WORK/dom.json" ||
  fail "the page got no live prediction within 60 s: $(cut -c1-300 "$WORK/dom.json")"
DOM=$(cat "$WORK/dom.json")
echo "page: $DOM" | cut -c1-400
classes=$(sed -n 's/.*"names":\[\([^]]*\)\].*/\1/p' <<<"$DOM" | tr ',' '\n' | tr -d '"' | sort -u)
[ "$(wc -l <<<"$classes")" = 12 ] || fail "the page does not show the 12 class names: $classes"
grep -q "^harmonica$" <<<"$classes" && grep -q "^marimba and xylophone$" <<<"$classes" || fail "class names: $classes"
in_class=$(sed -n 's/.*"inClass":"\([^"]*\)".*/\1/p' <<<"$DOM")
[ "$in_class" = silent ] || grep -qx "$in_class" <<<"$classes" || fail "no live prediction of the input ('$in_class')"
grep -q '"conn":"live"' <<<"$DOM" || fail "the page's WebSocket is not live"
updates=$(sed -n 's/.*"updates":\([0-9]*\).*/\1/p' <<<"$DOM")
[ "${updates:-0}" -ge 3 ] || fail "only ${updates:-0} updates reached the page"   # (a rate is bench/live_view.sh's)

"$BUILD/view_browser" --browser "$BROWSER" --seconds 30 --until 'document.querySelector("#methods button") !== null' \
  --eval 'document.querySelector("#methods button[data-method=mscw]").click(), "clicked"' \
  "http://127.0.0.1:$HTTP/view" >/dev/null || fail "the browser failed clicking"
wait_for "$LOG" "^settings [0-9]+( at [0-9.]+ s)?: .*method mscw" 10

stop_live
[ ! -s "$WORK/live.err" ] || fail "unexpected messages on stderr: $(head -3 "$WORK/live.err")"
echo "cli_live_view: the page shows the 12 classes and '$in_class' (live: $updates updates); its control reached the engine"
