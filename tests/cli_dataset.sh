#!/usr/bin/env bash
# advinst dataset from the command line: exit codes, a small render, check, refusal to overwrite.
# usage: bash tests/cli_dataset.sh /path/to/advinst WORKDIR
set -u
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
fail=0
expect() {   # expect CODE DESCRIPTION -- command...
    local want=$1 what=$2; shift 3
    "$@" >"$work/out.txt" 2>"$work/err.txt"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"; cat "$work/err.txt"; fail=1
    fi
}
export ADVINST_NO_PROGRESS=1
expect 0 "help" -- "$bin" dataset --help
expect 2 "no subcommand" -- "$bin" dataset
expect 2 "unknown subcommand" -- "$bin" dataset bake
expect 2 "render without --out" -- "$bin" dataset render
expect 2 "bad seed" -- "$bin" dataset render --out "$work/x" --seed abc
expect 2 "bad --soundfonts" -- "$bin" dataset render --out "$work/x" --soundfonts huge
expect 0 "small render" -- "$bin" dataset render --out "$work/ds" --soundfonts small --clips-per-class 2 --max-seconds 1
grep -q "^total *12 *12" "$work/out.txt" || { echo "FAIL: render summary"; cat "$work/out.txt"; fail=1; }
[ "$(ls "$work/ds/audio" | wc -l)" = 24 ] || { echo "FAIL: 24 files expected"; fail=1; }
head -1 "$work/ds/labels.csv" | grep -qx "fname,label,split" || { echo "FAIL: header"; fail=1; }
expect 0 "check" -- "$bin" dataset check "$work/ds"
expect 4 "existing output refused" -- "$bin" dataset render --out "$work/ds" --soundfonts small --clips-per-class 1
grep -q -- "--force" "$work/err.txt" || { echo "FAIL: message should mention --force"; fail=1; }
echo "fname,label,split" > "$work/ds/labels.csv"; echo "x.wav,piano,train" >> "$work/ds/labels.csv"
expect 3 "check of a bad labels.csv" -- "$bin" dataset check "$work/ds"
grep -q "labels.csv:2: unknown label" "$work/err.txt" || { echo "FAIL: check message"; cat "$work/err.txt"; fail=1; }
# evaluate on a folder of recordings with a two-column labels.csv (FSDKaggle2019 spelling allowed)
mkdir -p "$work/flat"
cp "$work/ds/audio/gong_000.wav" "$work/flat/a.wav"; cp "$work/ds/audio/hi-hat_000.wav" "$work/flat/b b.wav"
printf 'fname,label\na.wav,Gong\nb b.wav,hi-hat\n' > "$work/flat/labels.csv"
expect 0 "evaluate a flat folder" -- "$bin" evaluate --data "$work/flat" --out "$work/flat-eval"
grep -q "all clips, 2 clips" "$work/out.txt" && grep -q "ECE" "$work/out.txt" || { echo "FAIL: evaluate summary"; cat "$work/out.txt"; fail=1; }
[ -s "$work/flat-eval/reliability.png" ] && [ -s "$work/flat-eval/confusion.png" ] || { echo "FAIL: evaluate figures"; fail=1; }
[ "$(wc -l <"$work/flat-eval/predictions.csv")" = 3 ] && grep -q "^b b.wav,hi-hat," "$work/flat-eval/predictions.csv" ||
    { echo "FAIL: predictions.csv"; cat "$work/flat-eval/predictions.csv"; fail=1; }
expect 0 "evaluate --json, temperature 1" -- "$bin" evaluate --data "$work/flat" --json --temperature 1
grep -q '"temperature":1,"ece":' "$work/out.txt" || { echo "FAIL: evaluate JSON"; cat "$work/out.txt"; fail=1; }
expect 2 "bad --temperature" -- "$bin" evaluate --data "$work/flat" --temperature 0
printf 'fname,label\na.wav,piano\n' > "$work/flat/labels.csv"
expect 3 "flat folder, unknown label" -- "$bin" evaluate --data "$work/flat"
grep -q 'labels.csv:2: unknown label "piano"' "$work/err.txt" || { echo "FAIL: flat label message"; cat "$work/err.txt"; fail=1; }
# the held-out real recordings (Sonic Pi's, when sonic-pi-samples is installed)
if [ -d /usr/share/sonic-pi/samples ]; then
    expect 0 "heldout" -- "$bin" dataset heldout --out "$work/heldout" --samples-dir "$work/none"
    grep -q "^total *0 *18" "$work/out.txt" || { echo "FAIL: heldout counts"; cat "$work/out.txt"; fail=1; }
    expect 4 "heldout: existing output refused" -- "$bin" dataset heldout --out "$work/heldout"
else
    echo "cli_dataset: sonic-pi-samples not installed, dataset heldout not exercised"
fi
expect 3 "missing FSD csv" -- "$bin" dataset fsdkaggle2019 --csv "$work/none.csv" --audio "$work" --out "$work/fsd"
ls "$work" | grep -q tmp- && { echo "FAIL: temporary directory left behind"; fail=1; }
[ $fail = 0 ] && echo "cli_dataset: ok"
exit $fail
