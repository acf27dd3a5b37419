#!/usr/bin/env bash
# The TouchOSC layout and the script controller: ui/advinst.tosc matches its generator's output for
# ui/layout.json, passes tests/check_tosc.py (the structure of the .tosc files TouchOSC saves:
# labels' captions as text values, explicit text colours, no opaque or touchable control over
# another, every address implemented in the right direction, per `advinst live --list-osc`), the
# checker finds each of a set of defects planted in it, and every /advinst/... address in
# ui/control.sh is implemented. python3 is a declared dependency (scripts/install-deps.sh): without
# it this test fails.
#   tests/cli_live_ui.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
UI=$HERE/../ui
rm -rf "$WORK" && mkdir -p "$WORK"
command -v python3 >/dev/null || { echo "cli_live_ui: FAIL: python3 is missing (scripts/install-deps.sh)" >&2; exit 1; }
"$ADV" live --list-osc >"$WORK/list-osc"
python3 "$UI/make_tosc.py" --out "$WORK/fresh.tosc"
cmp -s "$WORK/fresh.tosc" "$UI/advinst.tosc" || { echo "ui/advinst.tosc is stale: run ui/make_tosc.py" >&2; exit 1; }
python3 "$HERE/check_tosc.py" "$UI/advinst.tosc" "$WORK/list-osc"
python3 "$HERE/check_tosc.py" --self-test "$UI/advinst.tosc" "$WORK/list-osc"
awk '$1 == "in" {print $2}' "$WORK/list-osc" | sort -u >"$WORK/implemented"
for c in target method step alpha eps confidence iterations preset bypass ping subscribe query; do echo "/advinst/$c"; done >"$WORK/used"
grep -q '"/advinst/$cmd"' "$UI/control.sh"
missing=$(sort -u "$WORK/used" | comm -23 - "$WORK/implemented")
if [ -n "$missing" ]; then echo "ui/control.sh uses addresses that are not implemented: $missing" >&2; exit 1; fi
echo "cli_live_ui: ui/advinst.tosc up to date and well formed; ui/control.sh's $(wc -l <"$WORK/used") addresses implemented"
