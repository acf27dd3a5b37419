#!/usr/bin/env bash
# The TouchOSC layout and the script controller use only addresses `advinst live` implements:
# ui/advinst.tosc decompresses, parses as XML, matches its generator's output for ui/layout.json,
# and every /advinst/... address in it and in ui/control.sh is in `advinst live --list-osc`.
#   tests/cli_live_ui.sh ADVINST WORKDIR
set -euo pipefail
ADV=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
UI=$HERE/../ui
rm -rf "$WORK" && mkdir -p "$WORK"
# python3 (the layout's generator) is an optional tool: without it, ctest's skip code
if ! command -v python3 >/dev/null; then echo "cli_live_ui: SKIPPED: no python3"; exit 77; fi
"$ADV" live --list-osc | awk '{print $2}' | sort -u >"$WORK/implemented"
python3 - "$UI/advinst.tosc" <<'PY'
import sys, zlib, xml.etree.ElementTree as ET
root = ET.fromstring(zlib.decompress(open(sys.argv[1], "rb").read()))
assert root.tag == "lexml", root.tag
nodes = root.findall(".//node")
assert len(nodes) > 12, len(nodes)
PY
python3 "$UI/make_tosc.py" --out "$WORK/fresh.tosc"
cmp -s "$WORK/fresh.tosc" "$UI/advinst.tosc" || { echo "ui/advinst.tosc is stale: run ui/make_tosc.py" >&2; exit 1; }
python3 "$UI/make_tosc.py" --addresses "$UI/advinst.tosc" >"$WORK/used"
for c in target method step alpha eps confidence iterations preset bypass ping subscribe query; do echo "/advinst/$c"; done >>"$WORK/used"
grep -q '"/advinst/$cmd"' "$UI/control.sh"
missing=$(sort -u "$WORK/used" | comm -23 - "$WORK/implemented")
if [ -n "$missing" ]; then echo "addresses used but not implemented: $missing" >&2; exit 1; fi
echo "cli_live_ui: $(sort -u "$WORK/used" | wc -l) addresses used, all implemented"
