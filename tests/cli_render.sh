#!/usr/bin/env bash
# advinst render at the shell level: help, usage errors and their exit codes. The audio round
# trips (formats, --force, OUT == IN, directories) are in tests/test_render_cli.c, which writes
# its inputs and model with the library.
# usage: bash tests/cli_render.sh /path/to/advinst WORKDIR
set -u
bin=$1
work=$2
rm -rf "$work" && mkdir -p "$work" || exit 1
fail=0
check() { # description, expected exit code, command...
    local what=$1 want=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: $what: exit $rc, expected $want: $(cat "$work/err")"
        fail=1
    fi
}
check "help" 0 "$bin" render --help
grep -q "fgsm-150" "$work/out" || { echo "FAIL: --help lists the presets"; fail=1; }
check "no input" 2 "$bin" render
check "no output" 2 "$bin" render "$work/in.wav" --method fgsm
check "unknown method" 2 "$bin" render "$work/in.wav" -o "$work/o.wav" --method bim
grep -q "fgsm, pgdn, cw, mscw" "$work/err" || { echo "FAIL: unknown method lists the methods"; fail=1; }
check "unknown preset" 2 "$bin" render "$work/in.wav" -o "$work/o.wav" --preset nosuch
grep -q "cw-150" "$work/err" || { echo "FAIL: unknown preset lists the presets"; fail=1; }
check "bad number" 2 "$bin" render "$work/in.wav" -o "$work/o.wav" --method pgdn --lr abc
check "bad max-iter" 2 "$bin" render "$work/in.wav" -o "$work/o.wav" --method cw --target random --max-iter 0
check "unknown option" 2 "$bin" render --frobnicate
[ -e "$work/o.wav" ] && { echo "FAIL: an output was left behind"; fail=1; }
[ "$fail" -eq 0 ] && echo "cli_render: all checks passed"
exit $fail
