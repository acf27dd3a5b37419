#!/usr/bin/env bash
# advinst render and classify on float WAV files with bad numbers (README "Bad input and
# numerics"): NaN, +Inf and absurd magnitudes (1e30) are refused with exit 3 and one line on
# stderr, and no output is written; digital silence is classified and copied, not attacked
# (status "silent", output = input); full-scale and over-range signals give outputs whose samples
# are all finite and within [-1, 1]; in a directory, one bad file fails alone.
#   bash tests/cli_numerics.sh ADVINST WORKDIR
set -u
ADV="$1"; WORK="$2"
HERE="$(cd "$(dirname "$0")" && pwd)"
MODEL="$HERE/golden/model.safetensors"
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0; checks=0
ok()  { checks=$((checks+1)); }
bad() { checks=$((checks+1)); fails=$((fails+1)); echo "FAIL: $*" >&2; }

# float_wav FILE PATTERN: 2048 samples (mono, 16 kHz, IEEE float) repeating PATTERN, a printf
# string of little-endian 4-byte floats whose count divides 2048
float_wav() {
  local file=$1 pat=$2 k
  k=$(( $(printf "$pat" | wc -c) / 4 ))
  {
    printf 'RIFF\x24\x20\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00\x01\x00'
    printf '\x80\x3e\x00\x00\x00\xfa\x00\x00\x04\x00\x20\x00data\x00\x20\x00\x00'
    for ((i = 0; i < 2048 / k; i++)); do printf "$pat"; done
  } > "$file"
}
ONE='\x00\x00\x80\x3f'; MONE='\x00\x00\x80\xbf'; TWO='\x00\x00\x00\x40'; MTWO='\x00\x00\x00\xc0'
HALF='\x00\x00\x00\x3f'; ZERO='\x00\x00\x00\x00'; NAN='\x00\x00\xc0\x7f'; INF='\x00\x00\x80\x7f'
HUGE='\xca\xf2\x49\x71'   # 1e30
float_wav "$WORK/nan.wav" "$HALF$ZERO$NAN$MONE"
float_wav "$WORK/inf.wav" "$HALF$INF$ZERO$ZERO"
float_wav "$WORK/huge.wav" "$HALF$HUGE"
float_wav "$WORK/silence.wav" "$ZERO"
float_wav "$WORK/nyquist.wav" "$ONE$MONE"
float_wav "$WORK/square8.wav" "$ONE$ONE$ONE$ONE$MONE$MONE$MONE$MONE"
float_wav "$WORK/dc.wav" "$ONE"
float_wav "$WORK/over.wav" "$TWO$HALF$MTWO$ZERO"

# data_ok FILE: the last 8192 bytes (libsndfile writes the data chunk last) are 2048 finite
# floats within [-1, 1]
data_ok() {
  tail -c 8192 "$1" | od -An -v -t f4 | awk '
    { for (i = 1; i <= NF; i++) { n++; if ($i ~ /[nN][aA][nN]|[iI][nN][fF]/ || $i + 0 > 1 || $i + 0 < -1) bad++ } }
    END { exit !(n == 2048 && bad == 0) }'
}

# refused CODE-MESSAGE-REGEX DESCRIPTION -- command...: exit 3, exactly one stderr line matching
refused() {
  local regex="$1" what="$2"; shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
  if [ "$rc" -eq 3 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -Eq "$regex" "$WORK/err"; then ok
  else bad "$what: exit $rc (want 3), stderr: $(head -c 300 "$WORK/err")"; fi
}

for f in nan inf; do
  refused "contains NaN or infinite samples" "classify $f" "$ADV" classify --model "$MODEL" "$WORK/$f.wav"
  refused "contains NaN or infinite samples" "render $f" "$ADV" render --model "$MODEL" --method fgsm "$WORK/$f.wav" -o "$WORK/out-$f.wav"
  [ -e "$WORK/out-$f.wav" ] && bad "render $f left an output" || ok
done
refused "is not audio" "classify 1e30" "$ADV" classify --model "$MODEL" "$WORK/huge.wav"
refused "is not audio" "render 1e30" "$ADV" render --model "$MODEL" --method cw --target random "$WORK/huge.wav" -o "$WORK/out-huge.wav"
[ -e "$WORK/out-huge.wav" ] && bad "render 1e30 left an output" || ok
ls "$WORK" | grep -q '\.tmp\.' && bad "a temporary file was left behind" || ok

# valid signals: classified with finite numbers; rendered (silence copied) into finite, in-range files
for f in silence nyquist square8 dc over; do
  "$ADV" classify --model "$MODEL" --json "$WORK/$f.wav" >"$WORK/out" 2>"$WORK/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q '"probabilities"' "$WORK/out" && ! grep -Eqi 'null|nan|inf' "$WORK/out"; then ok
  else bad "classify $f: exit $rc, $(head -c 300 "$WORK/out" "$WORK/err")"; fi
  for method in fgsm pgdn "cw --target random" "mscw --target random"; do
    out="$WORK/out-$f-${method%% *}.wav"
    # shellcheck disable=SC2086
    "$ADV" render --model "$MODEL" --method $method --max-iter 3 --json "$WORK/$f.wav" -o "$out" >"$WORK/out" 2>"$WORK/err"; rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$WORK/err" ] && data_ok "$out"; then ok
    else bad "render $f with $method: exit $rc, $(head -c 300 "$WORK/err")"; fi
    if [ "$f" = silence ]; then
      grep -q '"status":"silent"' "$WORK/out" && ok || bad "render silence with $method: not reported silent: $(cat "$WORK/out")"
      cmp -s <(tail -c 8192 "$out") <(head -c 8192 /dev/zero) && ok || bad "render silence with $method: output is not the input"
    else
      grep -q '"status":"silent"' "$WORK/out" && bad "render $f with $method: reported silent" || ok
    fi
  done
done
"$ADV" render --model "$MODEL" --method fgsm "$WORK/silence.wav" -o "$WORK/silence-text.wav" >"$WORK/out" 2>&1
grep -q "silent, not attacked" "$WORK/out" && ok || bad "render silence: text output: $(cat "$WORK/out")"

# a directory with one NaN file: exit 3, one line for it, the others rendered
mkdir -p "$WORK/dir"
cp "$WORK/nan.wav" "$WORK/silence.wav" "$WORK/nyquist.wav" "$WORK/dir/"
"$ADV" render --model "$MODEL" --method fgsm "$WORK/dir" -o "$WORK/dir-out" >"$WORK/out" 2>"$WORK/err"; rc=$?
if [ $rc -eq 3 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "nan.wav" "$WORK/err"; then ok
else bad "directory with a NaN file: exit $rc, stderr: $(head -c 300 "$WORK/err")"; fi
[ -e "$WORK/dir-out/nan.wav" ] && bad "directory: an output for the NaN file" || ok
data_ok "$WORK/dir-out/silence.wav" && data_ok "$WORK/dir-out/nyquist.wav" && ok || bad "directory: the good files not rendered"

echo "cli_numerics: $checks checks, $fails failed"
[ $fails -eq 0 ]
