#!/usr/bin/env bash
# Success of renders to lossy formats, measured on the written files. The validation clips of a
# data set (advinst dataset render) are encoded in each format (build/transcode, levels untouched)
# and rendered by `advinst render` into the same format, the codec in the attack's loop; every
# written file is read back and classified (the render's "written" field). Baseline: the same
# attack rendered to WAV (no codec in the loop), its output then encoded in the format and
# classified, as renders did before. One JSON line per format on stdout; work files in WORK.
#   bench/lossy.sh DATA WORK [PER_CLASS] [PRESET] [FORMATS]
#   e.g. bench/lossy.sh data/rendered /tmp/lossy 2 cw-150 "ogg opus mp3"
# PER_CLASS: the first N validation clips of each class (default: all); PRESET default cw-150
# (random targets, the paper's 500-iteration budget).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$1 WORK=$2 PER_CLASS=${3:-0} PRESET=${4:-cw-150} FORMATS=${5:-"ogg opus mp3"}
ADV=${ADVINST:-$ROOT/build/advinst} TRANSCODE=${TRANSCODE:-$ROOT/build/transcode}
mkdir -p "$WORK/clips"
# the chosen validation clips, as 16-bit WAV copies
awk -F, -v n="$PER_CLASS" 'NR > 1 && $3 == "valid" && (n == 0 || seen[$2]++ < n) { print $1 }' "$DATA/labels.csv" >"$WORK/list"
while read -r f; do [ -e "$WORK/clips/$f" ] || cp "$DATA/audio/$f" "$WORK/clips/$f"; done <"$WORK/list"
for fmt in $FORMATS; do
  in=$WORK/in-$fmt out=$WORK/out-$fmt base=$WORK/base-$fmt
  mkdir -p "$in" "$base"
  while read -r f; do [ -e "$in/${f%.wav}.$fmt" ] || "$TRANSCODE" "$WORK/clips/$f" "$in/${f%.wav}.$fmt"; done <"$WORK/list"
  t0=$(date +%s)
  "$ADV" render "$in" -o "$out" --preset "$PRESET" --json --force >"$WORK/render-$fmt.jsonl"
  t1=$(date +%s)
  # baseline: the attack without the codec, its WAV output encoded afterwards
  mkdir -p "$WORK/wav-$fmt"
  for x in "$in"/*."$fmt"; do b=$(basename "$x" ".$fmt"); [ -e "$WORK/wav-$fmt/$b.wav" ] || "$TRANSCODE" "$x" "$WORK/wav-$fmt/$b.wav"; done
  "$ADV" render "$WORK/wav-$fmt" -o "$WORK/wavout-$fmt" --preset "$PRESET" --json --force >"$WORK/baseline-$fmt.jsonl"
  for x in "$WORK/wavout-$fmt"/*.wav; do "$TRANSCODE" "$x" "$base/$(basename "$x" .wav).$fmt"; done
  "$ADV" classify --json "$base"/*."$fmt" >"$WORK/baseline-classify-$fmt.jsonl"
  python3 - "$fmt" "$PRESET" "$((t1 - t0))" "$WORK/render-$fmt.jsonl" "$WORK/baseline-$fmt.jsonl" \
    "$WORK/baseline-classify-$fmt.jsonl" <<'PY'
import json, statistics, sys
fmt, preset, secs, render, baseline, bclass = sys.argv[1:]
rows = [json.loads(l) for l in open(render)]
attacked = [r for r in rows if r["status"] in ("ok", "failed")]
ok = [r for r in attacked if r["success"]]
ended = {}
for r in attacked:
    e = (r.get("codec") or {}).get("ended_by", "no codec")
    ended[e] = ended.get(e, 0) + 1
agree = sum(r["written"]["prediction"] == r["after"]["prediction"] for r in attacked)
base = {r["file"].rsplit("/", 1)[-1].rsplit(".", 1)[0]: r for r in map(json.loads, open(baseline))}
bcls = {r["file"].rsplit("/", 1)[-1].rsplit(".", 1)[0]: r["prediction"] for r in map(json.loads, open(bclass))}
battacked = [k for k, r in base.items() if r["status"] in ("ok", "failed")]
bok = [k for k in battacked if base[k]["success"]]
def moved(r, pred):
    return pred == r["target"] if r["target"] else pred != r["before"]["prediction"]
bsurvive = [k for k in bok if moved(base[k], bcls[k])]
print(json.dumps({"format": fmt, "preset": preset, "clips": len(rows), "attacked": len(attacked),
                  "written_success": len(ok), "success_rate": round(len(ok) / max(len(attacked), 1), 3),
                  "ended_by": ended, "written_equals_loop": agree,
                  "snr_db_mean": round(statistics.mean(r["snr_db"] for r in ok), 2) if ok else None,
                  "iterations_median": statistics.median(r["iterations"] for r in ok) if ok else None,
                  "seconds": int(secs),
                  "baseline_wav_success": len(bok), "baseline_attacked": len(battacked),
                  "baseline_survives_encoding": len(bsurvive),
                  "baseline_survival_rate": round(len(bsurvive) / max(len(battacked), 1), 3)}))
PY
done
