#!/usr/bin/env bash
# File faults at the program level: a full disk (a tiny tmpfs) under render, train, evaluate,
# experiment and dataset; unwritable and read-only destinations; the input as the output (also
# through a symlink and a hard link); renders interrupted by SIGINT/SIGTERM and killed by
# SIGKILL. Every failure must be one line on stderr naming the file and the reason, with the
# documented exit code, and leave no partial or temporary file; files that were there before
# stay untouched.
# Needs to mount a tmpfs: as root directly, else in a private user+mount namespace (unshare -rm);
# if neither is possible it skips (exit 77, ctest's SKIP_RETURN_CODE).
# usage: bash tests/cli_faults.sh /path/to/advinst WORKDIR
set -u
bin=$1 work=$2
src=$(cd "$(dirname "$0")/.." && pwd)
export ADVINST_NO_PROGRESS=1
# sanitizer builds: LeakSanitizer's list of used suppressions would be a second stderr line
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0"

if [ -z "${ADVINST_FAULTS_INNER:-}" ]; then
    rm -rf "$work" && mkdir -p "$work/probe" || exit 1
    if mount -t tmpfs -o size=64k tmpfs "$work/probe" 2>/dev/null; then
        umount "$work/probe"
        ADVINST_FAULTS_INNER=1 unshare -m bash "$0" "$@"   # own mount namespace: mounts vanish with it
        exit $?
    fi
    if unshare -rm true 2>/dev/null; then
        ADVINST_FAULTS_INNER=1 unshare -rm bash "$0" "$@"
        exit $?
    fi
    echo "cli_faults: SKIPPED: cannot mount a tmpfs (not root and no user namespaces)"
    exit 77
fi

rm -rf "$work" && mkdir -p "$work" || exit 1
fail=0
full=$work/full
mkdir -p "$full"
mount -t tmpfs -o size=512k tmpfs "$full" || { echo "cli_faults: SKIPPED: mount failed"; exit 77; }

# One failing command: expected exit code, one stderr line containing each pattern.
# expect_fail WHAT CODE PATTERN... -- command...
expect_fail() {
    local what=$1 want=$2 patterns=()
    shift 2
    while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
    shift
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: $what: exit $rc, expected $want"; sed 's/^/  stderr: /' "$work/err"; fail=1
    fi
    if [ "$(wc -l <"$work/err")" -ne 1 ]; then
        echo "FAIL: $what: expected exactly one line on stderr, got:"; sed 's/^/  stderr: /' "$work/err"; fail=1
    fi
    for p in "${patterns[@]}"; do
        grep -qF -- "$p" "$work/err" || { echo "FAIL: $what: stderr lacks '$p': $(cat "$work/err")"; fail=1; }
    done
}

# The directory holds exactly these names (sorted, hidden ones included).
expect_listing() {
    local what=$1 d=$2
    shift 2
    local got want
    got=$(ls -A "$d" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || { echo "FAIL: $what: $d holds '$got', expected '$want'"; fail=1; }
}

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

enospc="No space left on device"
clip=$src/demo/harmonica.wav   # 160 kB: larger than the free space below

# --- a full disk: leave 16 KiB free, with files that must survive untouched
echo "keep me" >"$full/keep.txt"
head -c 20000 /dev/urandom >"$full/old.wav"
avail=$(df --output=avail -B1 "$full" | tail -1)
head -c $((avail - 16384)) /dev/zero >"$full/filler" 2>/dev/null
before=$(sums "$full")
pre=(keep.txt old.wav filler)

expect_fail "render to a full disk" 4 "$full/out.wav: cannot write: $enospc" -- \
    "$bin" render "$clip" -o "$full/out.wav" --method fgsm
expect_listing "render to a full disk" "$full" "${pre[@]}"
expect_fail "render --force over a file on a full disk" 4 "$full/old.wav: cannot write: $enospc" -- \
    "$bin" render "$clip" -o "$full/old.wav" --method fgsm --force
expect_listing "render --force on a full disk" "$full" "${pre[@]}"
mkdir -p "$work/clips"
for c in accordion glockenspiel harmonica; do cp "$src/demo/$c.wav" "$work/clips/"; done
expect_fail "render of a directory to a full disk" 4 "$full/outdir/accordion.wav: cannot write: $enospc" -- \
    "$bin" render "$work/clips" -o "$full/outdir" --method fgsm
expect_listing "render of a directory to a full disk" "$full" "${pre[@]}"

"$bin" dataset render --out "$work/ds" --soundfonts small --clips-per-class 2 --max-seconds 1 >/dev/null 2>&1 ||
    { echo "FAIL: small data set render"; fail=1; }
expect_fail "dataset render to a full disk" 4 "cannot write: $enospc" "$full/ds" -- \
    "$bin" dataset render --out "$full/ds" --soundfonts small --clips-per-class 2 --max-seconds 1
expect_listing "dataset render to a full disk" "$full" "${pre[@]}"
expect_fail "train to a full disk" 4 "$full/m.ckpt.safetensors: cannot write: $enospc" -- \
    "$bin" train --data "$work/ds" --out "$full/m.safetensors" --epochs 1 --batch 8
# the log of the finished epoch fits and is a whole file; the checkpoint does not fit
expect_listing "train to a full disk" "$full" "${pre[@]}" m.log.csv
[ "$(wc -l <"$full/m.log.csv")" = 2 ] && head -1 "$full/m.log.csv" | grep -q '^epoch,' ||
    { echo "FAIL: train: the log left is not whole"; fail=1; }
rm -f "$full/m.log.csv"
expect_fail "evaluate to a full disk" 4 "$full/ev/confusion.png: cannot write: $enospc" -- \
    "$bin" evaluate --data "$work/ds" --out "$full/ev"
expect_listing "evaluate to a full disk: the CSV is whole" "$full/ev" confusion.csv
[ "$(wc -l <"$full/ev/confusion.csv")" = 13 ] || { echo "FAIL: evaluate: confusion.csv is not whole"; fail=1; }
rm -rf "$full/ev"
expect_fail "experiment to a full disk" 4 "cannot write: $enospc" -- \
    "$bin" experiment --data "$work/ds" --out "$full/rep" --method fgsm --max-clips 4 --runs 1
expect_listing "experiment to a full disk" "$full" "${pre[@]}"
[ "$(sums "$full")" = "$before" ] || { echo "FAIL: files on the full disk were changed"; fail=1; }
expect_fail "stdout on a full device" 4 "standard output: cannot write" -- \
    sh -c "'$bin' classify '$clip' >/dev/full"

# --- unwritable destinations
echo x >"$work/plain"
expect_fail "output under a regular file" 4 "$work/plain/x.wav: cannot write: Not a directory" -- \
    "$bin" render "$clip" -o "$work/plain/x.wav" --method fgsm
mkdir -p "$work/ro"
mount -t tmpfs -o ro,size=64k tmpfs "$work/ro"
expect_fail "read-only file system" 4 "$work/ro/x.wav: cannot write: Read-only file system" -- \
    "$bin" render "$clip" -o "$work/ro/x.wav" --method fgsm
expect_fail "missing directory" 4 "$work/nodir/x.wav: cannot write: No such file or directory" -- \
    "$bin" render "$clip" -o "$work/nodir/x.wav" --method fgsm

# --- the input is never the output
cp "$clip" "$work/in.wav"
ln -s in.wav "$work/link.wav"
ln "$work/in.wav" "$work/hard.wav"
sum_in=$(sha256sum <"$work/in.wav")
expect_fail "OUT == IN" 4 "refusing to overwrite the input" -- "$bin" render "$work/in.wav" -o "$work/in.wav" --method fgsm --force
expect_fail "OUT a symlink to IN" 4 "refusing to overwrite the input" -- \
    "$bin" render "$work/in.wav" -o "$work/link.wav" --method fgsm --force
expect_fail "OUT a hard link to IN" 4 "refusing to overwrite the input" -- \
    "$bin" render "$work/in.wav" -o "$work/hard.wav" --method fgsm --force
expect_fail "OUT the input directory" 4 "input directory" -- "$bin" render "$work/clips" -o "$work/clips" --method fgsm
[ "$(sha256sum <"$work/in.wav")" = "$sum_in" ] && [ -L "$work/link.wav" ] || { echo "FAIL: the input changed"; fail=1; }

# --- interrupted renders of a directory: SIGINT/SIGTERM exit 130, SIGKILL; only whole files remain
mkdir -p "$work/many"
for c in accordion bass_guitar glockenspiel harmonica; do cp "$src/demo/$c.wav" "$work/many/"; done
# C&W that never stops early (confidence 1 is never reached): about 3 s per clip here
slow=(--method cw --target random --confidence 1 --max-iter 300)
# every file in OUT is named like an input and is a whole copy of its format (same size);
# sets $whole to their number
check_whole() {
    local what=$1 out=$2
    whole=0
    for f in "$out"/* "$out"/.[!.]*; do
        [ -e "$f" ] || continue
        local name=${f##*/}
        if [ ! -f "$work/many/$name" ]; then echo "FAIL: $what: unexpected file $name"; fail=1; continue; fi
        [ "$(stat -c %s "$f")" = "$(stat -c %s "$work/many/$name")" ] || { echo "FAIL: $what: $name is partial"; fail=1; }
        "$bin" classify "$f" >/dev/null 2>&1 || { echo "FAIL: $what: $name is unreadable"; fail=1; }
        whole=$((whole + 1))
    done
}
# waits until the first output appears in $1 (at most 60 s), then a random 0-1 s more
after_first_output() {
    for _ in $(seq 1200); do
        [ -n "$(ls -A "$1" 2>/dev/null)" ] && break
        sleep 0.05
    done
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r / 32768 }')"
}
for sig in INT TERM; do
    rm -rf "$work/int"
    "$bin" render "$work/many" -o "$work/int" "${slow[@]}" >/dev/null 2>"$work/err" &
    pid=$!
    after_first_output "$work/int"
    kill -"$sig" $pid
    wait $pid
    rc=$?
    [ $rc = 130 ] || { echo "FAIL: SIG$sig: exit $rc, expected 130: $(cat "$work/err")"; fail=1; }
    [ "$(wc -l <"$work/err")" = 1 ] && grep -q "interrupted" "$work/err" ||
        { echo "FAIL: SIG$sig: stderr: $(cat "$work/err")"; fail=1; }
    check_whole "SIG$sig" "$work/int"
    [ "$whole" -ge 1 ] && [ "$whole" -lt 4 ] || { echo "FAIL: SIG$sig: $whole of 4 files, expected 1 to 3"; fail=1; }
done
for when in early later later; do
    rm -rf "$work/kill"
    "$bin" render "$work/many" -o "$work/kill" "${slow[@]}" >/dev/null 2>&1 &
    pid=$!
    if [ $when = early ]; then sleep 0.5; else after_first_output "$work/kill"; fi
    kill -KILL $pid
    wait $pid 2>/dev/null
    [ -d "$work/kill" ] && check_whole "SIGKILL ($when)" "$work/kill"
done
umount "$work/ro" "$full"
[ $fail = 0 ] && echo "cli_faults: ok"
exit $fail
