#!/usr/bin/env bash
# Install vclone, then clone a voice into another language with the shipped base voice, no training:
# a real Russian speaker (a recording from Debian's festvox-ru, which the install step puts on the
# machine) speaking English. VCLONE_DEMO_REFERENCE=your.wav clones your own recording instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
REF="${VCLONE_DEMO_REFERENCE:-/usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav/ru_0064.wav}"
mkdir -p demo
.venv/bin/vclone synthesize "Good morning! This voice has never spoken English before." \
  --language en-us --speaker "$REF" --out demo/clone-en.wav --plot demo/clone-en.png
echo "cross-language clone of $REF: demo/clone-en.wav (mel and F0 contour: demo/clone-en.png)"
