#!/usr/bin/env bash
# Sets up (dependencies, build) and runs the whole test suite with ctest.
# Tests labelled `retry` (the JACK tests: a dummy server's scheduling on a busy machine) may run a
# second time; every other test runs once. A skip that tests/skips-allowed does not list fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cd build
status=0
ctest --output-on-failure -j"$(nproc)" --timeout 600 -LE retry 2>&1 | tee ctest-once.log || status=1
ctest --output-on-failure --timeout 600 -L retry --repeat until-pass:2 2>&1 | tee ctest-retry.log || status=1
../scripts/check-skips.sh ctest-once.log ctest-retry.log || status=1
exit $status
