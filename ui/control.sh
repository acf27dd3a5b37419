#!/usr/bin/env bash
# Controls a running `advinst live` from a shell with liblo's oscsend / oscdump.
#   ui/control.sh watch                 print the feedback (subscribes, runs oscdump)
#   ui/control.sh target accordion      (a class name, 0..11, none or random)
#   ui/control.sh method mscw           (cw, mscw, off)
#   ui/control.sh step 2e-5 | alpha 10 | eps 0.01 | confidence 0.5 | iterations 300
#   ui/control.sh preset mscw-accordion | bypass 1 | ping
#   ui/control.sh stats                 print the state and the counters (messages, xruns, segments)
# Environment: HOST (localhost), PORT (9000, advinst's --osc-port), LISTEN (9001, for watch and stats).
set -euo pipefail
HOST=${HOST:-localhost} PORT=${PORT:-9000} LISTEN=${LISTEN:-9001}
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
cmd=$1; shift
case "$cmd" in
  watch)
    oscdump -L "$LISTEN" &
    dump=$!
    trap 'kill $dump 2>/dev/null || true' EXIT INT TERM
    sleep 0.2
    oscsend "$HOST" "$PORT" /advinst/subscribe si 127.0.0.1 "$LISTEN"
    wait "$dump" ;;
  target)
    if [[ "$1" =~ ^[0-9]+$ ]]; then oscsend "$HOST" "$PORT" /advinst/target i "$1"
    else oscsend "$HOST" "$PORT" /advinst/target s "$1"; fi ;;
  method|preset) oscsend "$HOST" "$PORT" "/advinst/$cmd" s "$1" ;;
  step|alpha|eps|confidence) oscsend "$HOST" "$PORT" "/advinst/$cmd" f "$1" ;;
  iterations|bypass) oscsend "$HOST" "$PORT" "/advinst/$cmd" i "$1" ;;
  ping) oscsend "$HOST" "$PORT" /advinst/ping ;;
  stats)
    oscdump -L "$LISTEN" &
    dump=$!
    trap 'kill $dump 2>/dev/null || true' EXIT INT TERM
    sleep 0.2
    oscsend "$HOST" "$PORT" /advinst/query si 127.0.0.1 "$LISTEN"
    sleep 0.5 ;;
  *) echo "control.sh: unknown command $cmd" >&2; exit 2 ;;
esac
