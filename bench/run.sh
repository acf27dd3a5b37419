#!/usr/bin/env bash
# Runs the project's benchmarks and their PyTorch counterparts in the same session, ROUNDS times
# (interleaved, so load changes hit both), and prints one JSON line per measurement; the machine's
# load is recorded before and after each round. bench/summarise.py turns the lines into the tables
# of BENCHMARKS.md.
#   bench/run.sh [ROUNDS] [BUILD_DIR] > results.jsonl && bench/summarise.py results.jsonl
# Needs python3-torch (scripts/install-deps.sh --reference).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"; B="${2:-build}"
PY=/usr/bin/python3
load() { printf '{"bench":"load","when":"%s","round":%d,"loadavg":"%s"}\n' "$1" "$2" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
for t in 1 2; do "$B/bench_peak" --threads "$t" --repeat 5 --json; done
for r in $(seq "$ROUNDS"); do
  load before "$r"
  for t in 1 2; do
    "$B/bench_classifier" --threads "$t" --repeat 30 --json
    for b in 2 4 8; do "$B/bench_classifier" --threads "$t" --batch "$b" --rate 48000 --repeat 10 --json; done
    "$B/bench_attack" --threads "$t" --repeat 5 --json
    "$B/bench_attack" --threads "$t" --repeat 5 --rate 48000 --json
    "$B/bench_train" --threads "$t" --repeat 5 --json
    "$PY" bench/pytorch_bench.py --threads "$t" --repeat 20 --json
  done
  load after "$r"
done
