#!/usr/bin/env bash
# Regenerates the committed seed corpora fuzz/corpus/<target>/ from scratch: fuzz/make_corpus.c
# (built in build-fuzz by scripts/fuzz.sh's configuration) writes the generated inputs, the shipped
# presets are copied, and fuzz/regressions/<target>/ (inputs that once broke something) and
# fuzz/campaign/<target>/ (what a 10-minute campaign added beyond the seeds, libFuzzer -merge=1)
# are added.
# The Ogg files differ between runs (libsndfile picks random stream serial numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang cmake -S . -B build-fuzz -DADVINST_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build-fuzz -j2 --target make_corpus >/dev/null
rm -rf fuzz/corpus
mkdir -p fuzz/corpus
ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz/make_corpus fuzz/corpus
cp presets/*.ini fuzz/corpus/preset/
for dir in fuzz/regressions/*/ fuzz/campaign/*/; do
  [ -d "$dir" ] || continue
  target=$(basename "$dir")
  mkdir -p "fuzz/corpus/$target"
  cp "$dir"* "fuzz/corpus/$target/"
done
du -sh fuzz/corpus
