#!/usr/bin/env bash
# Fails if a ctest log shows a skipped test that tests/skips-allowed does not list.
#   scripts/check-skips.sh CTEST_LOG...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
allowed=$(sed 's/#.*//' "$here/../tests/skips-allowed" | awk 'NF { print $1 }')
skipped=$(cat "$@" | sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) \((Skipped|Disabled)\)$/\1/p' | sort -u)
bad=()
for t in $skipped; do
  grep -qxF "$t" <<<"$allowed" || bad+=("$t")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-skips: skipped but expected to run: ${bad[*]} (tests/skips-allowed lists what may skip)" >&2
  exit 1
fi
[ -z "$skipped" ] || echo "check-skips: skipped as allowed: $(echo $skipped)"
