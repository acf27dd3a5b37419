#!/usr/bin/env bash
# Offline renders of a demo clip with lilv's lv2apply (a host without worker, log or URID map:
# one frame per run() call), the clip padded with silence so that the delayed output fits. The
# output is aligned by the latency the plugin reports (tests/lv2_host.c info) and checked.
#   tests/lv2_render.sh clean|attack ADVINST LV2_HOST WORKDIR
# clean:  with method off, and with the plugin disabled (bypass), at 16 and 44.1 kHz: the output
#         is the input delayed by the latency, bit for bit; nothing before it.
# attack: the clip looped to LOOP s, C&W toward accordion (target and method set with -c) at
#         48 and 16 kHz, the plugin synchronous (lv2apply offers no worker: the attack runs within run(),
#         a fixed number of iterations per second of audio): the output aligned by the latency is
#         judged as a listener hears it (tests/lv2_host.c judge: 3.7 s windows every 0.1 s, at least
#         MIN_HIT of them heard as the target) at >= MIN_SNR dB, nothing before the latency.
set -uo pipefail
MODE=$1 ADV=$2 HOST=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "lv2_render: FAIL: $*" >&2; [ -n "${LOG:-}" ] && [ -f "$LOG" ] && tail -n 20 "$LOG" >&2; exit 1; }
command -v lv2apply >/dev/null || fail "lv2apply is needed (scripts/install-deps.sh: lilv-utils)"
URI=https://advinst.invalid/plugins/advinst
CLIP="$(cd "$(dirname "$0")/.." && pwd)/demo/harmonica.wav"
: "${LV2_PATH:?LV2_PATH must name the directory holding advinst.lv2}"

LOOP=10 MIN_HIT=0.8 MIN_SNR=30

# render NAME RATE LOOP CONTROLS...: prints the latency; RENDER is $WORK/NAME.wav of $WORK/in-RATE.wav
# (the clip looped to LOOP s, 0: once, then silence as long as the latency)
render() {
  local name=$1 rate=$2 loop=$3; shift 3
  local info L
  info=$("$HOST" info "$URI" "$rate" 2>/dev/null) || fail "lv2_host info at $rate Hz"
  L=$(echo "$info" | sed -n 's/^latency \([0-9]*\) .*/\1/p')
  [ -n "$L" ] && [ "$L" -gt 0 ] || fail "no latency reported at $rate Hz: $info"
  [ -f "$WORK/in-$rate.wav" ] || "$HOST" pad "$CLIP" "$WORK/in-$rate.wav" "$rate" "$loop" "$(awk -v l="$L" -v r="$rate" 'BEGIN { print l / r + 0.5 }')" ||
    fail "cannot prepare the input"
  local t0=$SECONDS rc=0
  LOG="$WORK/$name.log"
  lv2apply -i "$WORK/in-$rate.wav" -o "$WORK/$name.wav" "$@" "$URI" >"$LOG" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || fail "lv2apply $* at $rate Hz exited with $rc; the end of its log:"
  LOG=
  echo "$name: lv2apply $* at $rate Hz, latency $L frames, $((SECONDS - t0)) s" >&2
  echo "$L"
}

case $MODE in
clean)
  for rate in 16000 44100; do
    for controls in "-c method 0 -c target 6" "-c enabled 0 -c target 6 -c method 1"; do
      # shellcheck disable=SC2086
      L=$(render clean "$rate" 0 $controls) || exit 1
      out=$("$HOST" align "$WORK/in-$rate.wav" "$WORK/clean.wav" "$L" "$((rate * 3))" "$WORK/seg.wav") || fail "align"
      echo "  $out"
      [ "$(echo "$out" | awk '{print $4}')" = "-1" ] || fail "$controls at $rate Hz: not the delayed input bit for bit ($out)"
    done
  done ;;
attack)
  want=accordion
  # 48 kHz, and 16 kHz (the classifier's rate: the perturbation's resampler is the identity there)
  for rate in 48000 16000; do
    # shellcheck disable=SC2086
    L=$(render "attack-$want-$rate" "$rate" "$LOOP" -c target 0 -c method 1) || exit 1
    "$HOST" judge "$WORK/in-$rate.wav" "$WORK/attack-$want-$rate.wav" "$L" "$((rate * LOOP))" "$want" "$MIN_HIT" "$MIN_SNR" ||
      fail "C&W toward $want at $rate Hz (see above)"
  done ;;
*) fail "mode clean or attack" ;;
esac
echo "lv2_render $MODE: OK"
