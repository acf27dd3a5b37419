#!/usr/bin/env bash
# Classifies real FSDKaggle2019 recordings (a directory with *.wav and labels.csv "fname,label",
# such as ../shared/real-clips) with a model and counts how many it recognises.
#   scripts/check-real-clips.sh [CLIPS_DIR] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-../shared/real-clips}"
MODEL="${2:-models/default.safetensors}"
ADV="${ADVINST:-build/advinst}"
[ -f "$DIR/labels.csv" ] || { echo "check-real-clips: $DIR/labels.csv not found" >&2; exit 3; }
right=0; total=0
printf "%-14s %-18s %-22s %s\n" clip label prediction confidence
while IFS=, read -r fname label; do
  [ "$fname" = fname ] && continue
  out=$("$ADV" classify --model "$MODEL" "$DIR/$fname")
  pred=$(echo "$out" | sed -E 's/.*: ([^ ]+) \(confidence ([0-9.]+)\)/\1/')
  conf=$(echo "$out" | sed -E 's/.*\(confidence ([0-9.]+)\)/\1/')
  mark=""; [ "$pred" = "$label" ] && { right=$((right+1)); mark=" ok"; }
  total=$((total+1))
  printf "%-14s %-18s %-22s %s%s\n" "${fname%.wav}" "$label" "$pred" "$conf" "$mark"
done < "$DIR/labels.csv"
echo "recognised $right of $total"
