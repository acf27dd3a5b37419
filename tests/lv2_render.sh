#!/usr/bin/env bash
# Offline renders of a demo clip with lilv's lv2apply (a host without worker, log or URID map:
# one frame per run() call), the clip padded with silence so that the delayed output fits. The
# output is aligned by the latency the plugin reports (tests/lv2_host.c info) and checked.
#   tests/lv2_render.sh clean|attack ADVINST LV2_HOST WORKDIR
# clean:  with method off, and with the plugin disabled (bypass), at 16 and 44.1 kHz: the output
#         is the input delayed by the latency, bit for bit; nothing before it.
# attack: C&W toward glockenspiel and MS-C&W toward electric guitar (target and method set with
#         -c), at 16 kHz: the first clip, aligned, classifies (`advinst classify`) as the target
#         at >= 35 dB SNR, and nothing comes out before the latency. Needs the engine's synchronous
#         mode (a host without a worker gets the attack done within run()).
set -uo pipefail
MODE=$1 ADV=$2 HOST=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "lv2_render: FAIL: $*"; exit 1; }
command -v lv2apply >/dev/null || fail "lv2apply is needed (scripts/install-deps.sh: lilv-utils)"
URI=https://advinst.invalid/plugins/advinst
CLIP="$(cd "$(dirname "$0")/.." && pwd)/demo/harmonica.wav"
: "${LV2_PATH:?LV2_PATH must name the directory holding advinst.lv2}"

# render NAME RATE CONTROLS...: prints the latency; RENDER is $WORK/NAME.wav of $WORK/in-RATE.wav
render() {
  local name=$1 rate=$2; shift 2
  local info L
  info=$("$HOST" info "$URI" "$rate" 2>/dev/null) || fail "lv2_host info at $rate Hz"
  L=$(echo "$info" | sed -n 's/^latency \([0-9]*\) .*/\1/p')
  [ -n "$L" ] && [ "$L" -gt 0 ] || fail "no latency reported at $rate Hz: $info"
  [ -f "$WORK/in-$rate.wav" ] || "$HOST" pad "$CLIP" "$WORK/in-$rate.wav" "$(awk -v l="$L" -v r="$rate" 'BEGIN { print l / r + 0.5 }')" "$rate" ||
    fail "cannot prepare the input"
  local t0=$SECONDS
  lv2apply -i "$WORK/in-$rate.wav" -o "$WORK/$name.wav" "$@" "$URI" >"$WORK/$name.log" 2>&1 ||
    fail "lv2apply $* (see $WORK/$name.log)"
  echo "$name: lv2apply $* at $rate Hz, latency $L frames, $((SECONDS - t0)) s" >&2
  echo "$L"
}

case $MODE in
clean)
  for rate in 16000 44100; do
    for controls in "-c method 0 -c target 6" "-c enabled 0 -c target 6 -c method 1"; do
      # shellcheck disable=SC2086
      L=$(render clean "$rate" $controls) || exit 1
      out=$("$HOST" align "$WORK/in-$rate.wav" "$WORK/clean.wav" "$L" "$((rate * 3))" "$WORK/seg.wav") || fail "align"
      echo "  $out"
      [ "$(echo "$out" | awk '{print $4}')" = "-1" ] || fail "$controls at $rate Hz: not the delayed input bit for bit ($out)"
    done
  done ;;
attack)
  rate=16000 N=59200   # the engine's default clip, 3.7 s
  for spec in "glockenspiel -c target 6 -c method 1 -c confidence 0.5" \
              "electric_guitar -c target 4 -c method 2 -c alpha 10 -c confidence 0.5"; do
    read -r want controls <<<"$spec"
    # shellcheck disable=SC2086
    L=$(render "attack-$want" "$rate" $controls) || exit 1
    out=$("$HOST" align "$WORK/in-$rate.wav" "$WORK/attack-$want.wav" "$L" "$N" "$WORK/seg-$want.wav") || fail "align"
    snr=$(echo "$out" | awk '{print $2}') first=$(echo "$out" | awk '{print $4}')
    got=$("$ADV" classify "$WORK/seg-$want.wav") || fail "advinst classify"
    echo "  $want: $out; classified: $got"
    [ "$first" -ge 0 ] || fail "$want: nothing was added (every clip missed or played clean)"
    [ "$first" -ge "$L" ] || fail "$want: output before the latency (first difference at frame $first, latency $L)"
    echo "$got" | grep -qw "$want" || fail "$want: the first clip is heard as: $got"
    awk -v s="$snr" 'BEGIN { exit !(s >= 35) }' || fail "$want: SNR $snr dB < 35"
  done ;;
*) fail "mode clean or attack" ;;
esac
echo "lv2_render $MODE: OK"
