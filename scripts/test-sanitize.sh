#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (Debug build in build-asan).
# The live engine's timing tests are left out: sanitizers slow the attack worker past its
# real-time deadlines, which those tests measure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DADVINST_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
cd build-asan
status=0
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/../tests/lsan.supp" ctest --output-on-failure -j"$(nproc)" \
  --timeout 900 -E '^(test_live|test_live_jack)$' 2>&1 | tee ctest.log || status=1
../scripts/check-skips.sh ctest.log || status=1
exit $status
