#!/usr/bin/env bash
# The LV2 bundle validates against the installed LV2 specifications (lv2_validate, from lv2-dev,
# runs sord_validate from sordi), and lilv sees both plugins with their presets.
#   lv2_validate.sh BUNDLE_DIR
set -uo pipefail
bundle=$1
fail() { echo "lv2_validate: FAIL: $*"; exit 1; }
command -v lv2_validate >/dev/null && command -v sord_validate >/dev/null && command -v lv2info >/dev/null ||
  fail "lv2_validate, sord_validate and lv2info are needed (scripts/install-deps.sh: lv2-dev, sordi, lilv-utils)"
out=$(lv2_validate "$bundle"/*.ttl 2>&1); rc=$?
echo "$out" | grep -v '^Skipping file'
[ $rc -eq 0 ] || fail "lv2_validate exited with $rc"
echo "$out" | grep -q '^Found 0 errors' || fail "errors found"
echo "$out" | grep -qi 'warn' && fail "warnings found"
lv2dir=$(cd "$(dirname "$bundle")" && pwd)
for uri in https://advinst.invalid/plugins/advinst https://advinst.invalid/plugins/advinst-stereo; do
  info=$(LV2_PATH="$lv2dir" lv2info "$uri") || fail "lv2info $uri"
  echo "$info" | grep -q "Has latency:       yes" || fail "$uri: no reported latency"
  n=$(echo "$info" | sed -n '/^\tPresets:/,/^\tPort 0:/p' | grep -cE $'^\t +[a-z]')
  [ "$n" -eq 8 ] || fail "$uri: $n presets, expected 8"
done
echo "lv2_validate: OK"
