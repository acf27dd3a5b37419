#!/usr/bin/env bash
# Sets up (dependencies, build) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
# the JACK end-to-end test depends on scheduling: one retry for it (see README)
cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600 --repeat until-pass:2
