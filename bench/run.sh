#!/usr/bin/env bash
# Runs the project's benchmarks and their PyTorch counterparts in the same session, ROUNDS times
# (interleaved, so load changes hit both), and prints one JSON line per measurement.
#   bench/run.sh [ROUNDS] [BUILD_DIR] > results.jsonl
# Needs python3-torch (scripts/install-deps.sh --reference).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"; B="${2:-build}"
PY=/usr/bin/python3
for r in $(seq "$ROUNDS"); do
  for t in 1 2; do
    "$B/bench_classifier" --threads "$t" --repeat 30 --json
    "$B/bench_attack" --threads "$t" --repeat 5 --json
    "$B/bench_train" --threads "$t" --repeat 5 --json
    "$PY" bench/pytorch_bench.py --threads "$t" --repeat 20 --json
  done
done
