#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (-O2 -g build in build-asan).
# The real-time tests are left out (label `retry`: the JACK ones and the real-time plugin hosts,
# and test_live's worker timing): sanitizers slow the attack worker past the deadlines those
# tests measure. Their code paths run here all the same in the synchronous and offline tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADVINST_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
cd build-asan
status=0
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/../tests/lsan.supp" ctest --output-on-failure -j"$(nproc)" \
  --timeout 900 -LE retry -E '^test_live$' 2>&1 | tee ctest.log || status=1
../scripts/check-skips.sh ctest.log || status=1
exit $status
