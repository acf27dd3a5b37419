#!/usr/bin/env bash
# Installs the Debian packages advinst needs, only those missing.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --full     also the large soundfonts, drum kits, recordings and tools for the full data-set render
#                                      (the npm recordings: scripts/fetch-samples.sh)
#   scripts/install-deps.sh --reference  also python3-torch/torchaudio for tests/reference and bench
#   scripts/install-deps.sh --fuzz     also clang with libFuzzer, sanitizer runtimes and libomp (scripts/fuzz.sh)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libfftw3-dev libopenblas-dev libsndfile1-dev
      libjack-jackd2-dev jackd2 liblo-dev liblo-tools libcjson-dev libinih-dev libcairo2-dev
      libfluidsynth-dev timgm6mb-soundfont libcivetweb-dev)
pkgs+=(chromium-headless-shell curl)   # the web view test (tests/cli_live_view.sh) and bench/live_view.sh
pkgs+=(python3)   # ui/make_tosc.py and tests/check_tosc.py (the TouchOSC layout test)
pkgs+=(valgrind)   # the memcheck test (scripts/valgrind.sh)
pkgs+=(python3)    # the TouchOSC layout test (tests/cli_live_ui.sh)
# the LV2 plugin (lv2-dev) and its tests: lv2_validate (lv2-dev) with sord_validate (sordi),
# lv2apply and lv2info (lilv-utils), the lilv test host (liblilv-dev), jalv as a live host; the
# CLAP plugin's headers (dpf-source carries them)
pkgs+=(lv2-dev sordi lilv-utils liblilv-dev jalv dpf-source)
for arg in "$@"; do
  case "$arg" in
    --full) pkgs+=(fluid-soundfont-gm musescore-general-soundfont hydrogen-drumkits hydrogen-data espeak-ng
                   csound-soundfont avldrums.lv2-soundfont sonic-pi-samples) ;;   # npm recordings: scripts/fetch-samples.sh
    --reference) pkgs+=(python3-torch python3-torchaudio python3-numpy) ;;
    --fuzz) pkgs+=(clang libclang-rt-dev libomp-dev) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
