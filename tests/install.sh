#!/usr/bin/env bash
# `cmake --install` into a prefix and into a DESTDIR staging tree: the program, the shipped model,
# the presets, the TouchOSC layout and the LV2 bundle land under bin/, share/advinst/ and
# lib/lv2/advinst.lv2/, and the installed program and plugin use the installed data (not the
# source tree's), also after the prefix is moved.
#   tests/install.sh CMAKE BUILD_DIR LV2_HOST WORKDIR [CLAP_HOST]
set -uo pipefail
CMAKE=$1 BUILD=$2 HOST=$3 WORK=$4 CLAP_HOST=${5:-}
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "install: FAIL: $*"; exit 1; }
URI=https://advinst.invalid/plugins/advinst
CLIP="$(cd "$(dirname "$0")/.." && pwd)/demo/harmonica.wav"

# check_prefix DIR: the installed tree under DIR works on its own data
check_prefix() {
  local p=$1 f
  for f in bin/advinst share/advinst/models/default.safetensors share/advinst/presets/cw-150.ini \
           share/advinst/presets/mscw-accordion.ini share/advinst/ui/advinst.tosc share/advinst/ui/control.sh \
           lib/lv2/advinst.lv2/advinst.so lib/lv2/advinst.lv2/manifest.ttl lib/lv2/advinst.lv2/advinst.ttl \
           lib/lv2/advinst.lv2/presets.ttl; do
    [ -e "$p/$f" ] || fail "$p/$f was not installed"
  done
  [ "$(ls "$p"/share/advinst/presets/*.ini | wc -l)" -eq "$(ls "$(dirname "$0")"/../presets/*.ini | wc -l)" ] ||
    fail "not every preset was installed"
  local real; real=$(cd "$p" && pwd -P)
  local v; v=$("$p/bin/advinst" --version) || fail "$p/bin/advinst --version"
  echo "$v" | grep -qx "model: $real/share/advinst/models/default.safetensors" || fail "installed program's model: $v"
  echo "$v" | grep -qx "presets: $real/share/advinst/presets" || fail "installed program's presets: $v"
  "$p/bin/advinst" classify "$CLIP" | grep -q harmonica || fail "the installed program does not classify"
  local info; info=$(LV2_PATH="$p/lib/lv2" "$HOST" info "$URI" 48000 2>&1) || fail "installed plugin: $info"
  echo "$info" | grep -q "model $p/lib/lv2/advinst.lv2/.*/share/advinst/models/default.safetensors" ||
    fail "the installed plugin does not use the installed model: $info"
  # the engine's default latency, 2 s at 48 kHz
  echo "$info" | grep -q "^latency 96000 status 0" || fail "installed plugin: $info"
  if [ -n "$CLAP_HOST" ]; then
    [ -e "$p/lib/clap/advinst.clap" ] || fail "$p/lib/clap/advinst.clap was not installed"
    "$CLAP_HOST" check "$p/lib/clap/advinst.clap" "$CLIP" >"$WORK/clap.log" 2>&1 || fail "installed CLAP plugin (see $WORK/clap.log)"
  fi
}

"$CMAKE" --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" 2>&1 || fail "cmake --install (see $WORK/install.log)"
check_prefix "$WORK/prefix"
mv "$WORK/prefix" "$WORK/moved"
check_prefix "$WORK/moved"
DESTDIR="$WORK/stage" "$CMAKE" --install "$BUILD" --prefix /usr/local >"$WORK/stage.log" 2>&1 ||
  fail "DESTDIR install (see $WORK/stage.log)"
check_prefix "$WORK/stage/usr/local"
echo "install: OK"
