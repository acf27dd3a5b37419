#!/usr/bin/env bash
# advinst classify and the program's common behaviour: help, version, JSON output, and a clear
# one-line error with a non-zero exit for every kind of bad input (no crash).
#   bash tests/cli_classify.sh ADVINST WORKDIR
set -u
ADV="$1"; WORK="$2"
HERE="$(cd "$(dirname "$0")" && pwd)"
MODEL="$HERE/golden/model.safetensors"
CLIP="$HERE/../demo/harmonica.wav"
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0; checks=0
ok()   { checks=$((checks+1)); }
bad()  { checks=$((checks+1)); fails=$((fails+1)); echo "FAIL: $*" >&2; }

# expect CODE DESCRIPTION -- command...: exit code and exactly one line on stderr
expect_error() {
  local code="$1" what="$2"; shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
  local lines; lines=$(wc -l <"$WORK/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ]; then ok; else bad "$what: exit $rc (want $code), $lines stderr lines: $(head -c 300 "$WORK/err")"; fi
}

"$ADV" --help >/dev/null && ok || bad "--help"
"$ADV" --version | grep -q '^advinst [0-9]' && ok || bad "--version"
"$ADV" classify --help | grep -q -- '--json' && ok || bad "classify --help"
expect_error 2 "unknown command" "$ADV" frobnicate
expect_error 2 "unknown option" "$ADV" classify --bogus "$CLIP"
expect_error 2 "no files" "$ADV" classify --model "$MODEL"

out=$("$ADV" classify --model "$MODEL" "$CLIP") && ok || bad "classify a clip"
echo "$out" | grep -Eq 'harmonica.wav: [a-z_-]+ \(confidence 0\.[0-9]+\)' && ok || bad "human output: $out"
json=$("$ADV" classify --model "$MODEL" --json "$CLIP" "$CLIP")
[ "$(echo "$json" | wc -l)" -eq 2 ] && ok || bad "one JSON line per file"
for key in '"file"' '"prediction"' '"confidence"' '"probabilities"' '"logits"' '"accordion"' '"marimba_and_xylophone"'; do
  echo "$json" | head -1 | grep -q "$key" && ok || bad "JSON has $key"
done

# bad audio
: > "$WORK/empty.wav"
printf 'RIFF\x24\x00\x00\x00WAVEfmt garbage garbage garbage' > "$WORK/corrupt.wav"
head -c 44 "$CLIP" > "$WORK/header_only.wav"
expect_error 3 "missing file" "$ADV" classify --model "$MODEL" "$WORK/nope.wav"
expect_error 3 "empty file" "$ADV" classify --model "$MODEL" "$WORK/empty.wav"
expect_error 3 "corrupt file" "$ADV" classify --model "$MODEL" "$WORK/corrupt.wav"
expect_error 3 "zero-length audio" "$ADV" classify --model "$MODEL" "$WORK/header_only.wav"
# shorter than one STFT frame: 1000 samples of a 16-bit mono 16 kHz WAV
# (cut from a longer file: the truncation warning comes first)
head -c 2044 "$CLIP" > "$WORK/short.wav"
"$ADV" classify --model "$MODEL" "$WORK/short.wav" >"$WORK/out" 2>"$WORK/err"; rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$WORK/err")" -eq 2 ] && grep -q "truncated: 1,000 of 80,000 frames" "$WORK/err" &&
  tail -1 "$WORK/err" | grep -q "too short" && ok || bad "too short: exit $rc: $(cat "$WORK/err")"
# NaN samples: a float WAV with a NaN in it (header of 44 bytes, IEEE float, 1 ch, 16 kHz, 2048 samples)
{
  printf 'RIFF'; printf '\x24\x20\x00\x00'; printf 'WAVEfmt '; printf '\x10\x00\x00\x00\x03\x00\x01\x00'
  printf '\x80\x3e\x00\x00\x00\xfa\x00\x00\x04\x00\x20\x00'; printf 'data'; printf '\x00\x20\x00\x00'
  head -c 4000 /dev/zero; printf '\x00\x00\xc0\x7f'; head -c 4188 /dev/zero
} > "$WORK/nan.wav"
expect_error 3 "NaN samples" "$ADV" classify --model "$MODEL" "$WORK/nan.wav"
# a WAV cut short is read as far as it goes, with a warning: 80,000 frames declared, 2,978 there
head -c 6000 "$CLIP" > "$WORK/cut.wav"
"$ADV" classify --model "$MODEL" "$WORK/cut.wav" >"$WORK/out" 2>"$WORK/err" && ok || bad "a cut WAV classifies"
grep -q "cut.wav: [a-z]" "$WORK/out" && ok || bad "cut WAV: a prediction: $(cat "$WORK/out")"
[ "$(cat "$WORK/err")" = "advinst classify: $WORK/cut.wav: truncated: 2,978 of 80,000 frames" ] && ok ||
  bad "cut WAV warning: $(cat "$WORK/err")"
"$ADV" render "$WORK/cut.wav" -o "$WORK/cut-out.wav" --model "$MODEL" --method fgsm >"$WORK/out" 2>"$WORK/err" && ok || bad "a cut WAV renders"
grep -q "advinst render: $WORK/cut.wav: truncated: 2,978 of 80,000 frames" "$WORK/err" && ok || bad "render warns: $(cat "$WORK/err")"
# several files: good ones still print, the exit code reports the bad one
"$ADV" classify --model "$MODEL" "$CLIP" "$WORK/nope.wav" >"$WORK/out" 2>"$WORK/err"; rc=$?
[ $rc -eq 3 ] && grep -q harmonica "$WORK/out" && ok || bad "mixed good and bad files (exit $rc)"

# bad model files
: > "$WORK/empty.safetensors"
head -c 1000 "$MODEL" > "$WORK/truncated.safetensors"
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' > "$WORK/huge_header.safetensors"
cp "$CLIP" "$WORK/wav_as_model.safetensors"
expect_error 3 "missing model" "$ADV" classify --model "$WORK/none.safetensors" "$CLIP"
expect_error 3 "empty model" "$ADV" classify --model "$WORK/empty.safetensors" "$CLIP"
expect_error 3 "truncated model" "$ADV" classify --model "$WORK/truncated.safetensors" "$CLIP"
expect_error 3 "oversized header" "$ADV" classify --model "$WORK/huge_header.safetensors" "$CLIP"
expect_error 3 "wrong file as model" "$ADV" classify --model "$WORK/wav_as_model.safetensors" "$CLIP"
# no default model: a clear error that says how to pass --model
ADVINST_MODEL="$WORK/none.safetensors" "$ADV" classify "$CLIP" >/dev/null 2>"$WORK/err"; rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && ok || bad "missing default model"

echo "cli_classify: $checks checks, $fails failed"
[ $fails -eq 0 ]
