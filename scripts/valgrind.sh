#!/usr/bin/env bash
# Memcheck of the program: classify and render (every method, a directory, JSON) on the demo
# clips, evaluate and experiment reports on a small rendered data set, and bad inputs and
# outputs (their error paths must not leak either). Any memcheck error
# or definitely/indirectly lost block fails the run.
#   scripts/valgrind.sh            builds a plain Debug build (no sanitizers) in build-valgrind/
#   scripts/valgrind.sh BINARY     checks that advinst binary instead (the ctest valgrind_memcheck)
# Exit: 0 clean, 1 a case failed (its log is printed), 77 valgrind is not installed (BINARY mode).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then
    bin=$1
    command -v valgrind >/dev/null || { echo "valgrind.sh: SKIPPED: valgrind is not installed"; exit 77; }
else
    "$root/scripts/install-deps.sh"
    cmake -S "$root" -B "$root/build-valgrind" -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build "$root/build-valgrind" -j"$(nproc)" --target advinst >/dev/null
    bin=$root/build-valgrind/advinst
fi

# Valgrind hides AVX-512 and emulates FMA slowly (OpenBLAS's Haswell kernels run ~500x slower
# than natively): OpenBLAS's AVX kernels without FMA, and settings under which the program does
# not re-execute itself (src/blas.c), which would leave valgrind.
export ADVINST_BLAS_CORETYPE=Sandybridge OPENBLAS_CORETYPE=Sandybridge OMP_WAIT_POLICY=PASSIVE
export ADVINST_NO_PROGRESS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/advinst-memcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --num-callers=40 --suppressions="$root/tests/valgrind.supp")
demo=$root/demo
failed=0 cases=0
start=$SECONDS

# run WANT_EXIT NAME -- advinst arguments...   ($fsize_kib set: under that file size limit)
fsize_kib=unlimited
run() {
    local want=$1 name=$2
    shift 3
    local t0=$SECONDS rc=0
    # SIGXFSZ ignored: a write past the limit then fails with EFBIG, like ENOSPC on a full disk
    bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$fsize_kib" \
        "${vg[@]}" --log-file="$work/$name.log" "$bin" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    cases=$((cases + 1))
    local summary
    summary=$(grep -h "ERROR SUMMARY" "$work/$name.log" | sed 's/^==[0-9]*== //')
    if [ "$rc" -ne "$want" ]; then
        echo "memcheck: $name: FAILED: exit $rc, expected $want ($summary)"
        [ "$rc" -eq 99 ] && cat "$work/$name.log" || cat "$work/$name.err"
        failed=1
    else
        echo "memcheck: $name: ok, exit $rc, $summary ($((SECONDS - t0)) s)"
        [ "$want" -eq 0 ] || sed 's/^/    /' "$work/$name.err"
    fi
}

run 0 classify -- classify "$demo"/*.wav
run 0 classify-json -- classify --json "$demo/harmonica.wav"
run 0 render-fgsm -- render "$demo/accordion.wav" -o "$work/fgsm.wav" --method fgsm
run 0 render-pgdn -- render "$demo/bass_guitar.wav" -o "$work/pgdn.wav" --method pgdn --max-iter 5
run 0 render-cw -- render "$demo/glockenspiel.wav" -o "$work/cw.wav" --method cw --target random --max-iter 5
run 0 render-mscw -- render "$demo/accordion.wav" -o "$work/mscw.wav" --method mscw --target harmonica --max-iter 5
mkdir -p "$work/in"
cp "$demo/accordion.wav" "$demo/glockenspiel.wav" "$work/in/"
run 0 render-directory-json -- render "$work/in" -o "$work/out" --preset fgsm-150 --json
# the report writers (CSV, PNG through cairo, markdown) on a small rendered data set
"$bin" dataset render --out "$work/ds" --soundfonts small --clips-per-class 2 --max-seconds 1 >/dev/null 2>&1
run 0 evaluate-out -- evaluate --data "$work/ds" --out "$work/eval"
run 0 experiment-fgsm -- experiment --data "$work/ds" --out "$work/report" --method fgsm --max-clips 3 --runs 1
# bad inputs and outputs: the documented exit code, and no leak on the way out
head -c 3000 "$demo/harmonica.wav" >"$work/truncated.wav"
echo "not audio" >"$work/text.wav"
run 3 classify-not-audio -- classify "$work/text.wav"
run 0 classify-truncated -- classify "$work/truncated.wav"
run 3 classify-bad-model -- classify --model "$demo/harmonica.wav" "$demo/accordion.wav"
run 3 render-missing-input -- render "$work/missing.wav" -o "$work/x.wav" --method fgsm
run 2 render-bad-target -- render "$demo/accordion.wav" -o "$work/x.wav" --method cw --target nosuch
run 4 render-unwritable -- render "$demo/accordion.wav" -o "$work/text.wav/x.wav" --method fgsm
run 4 render-exists -- render "$demo/accordion.wav" -o "$work/fgsm.wav" --method fgsm
fsize_kib=64   # the clip is 160 kB: the write fails midway
run 4 render-write-error -- render "$demo/harmonica.wav" -o "$work/big.wav" --method fgsm
fsize_kib=16   # the CSV fits, the PNG (about 37 kB) does not
run 4 evaluate-write-error -- evaluate --data "$work/ds" --out "$work/eval2"
fsize_kib=unlimited

echo "memcheck: $cases cases in $((SECONDS - start)) s: $([ $failed = 0 ] && echo clean || echo FAILED)"
exit $failed
