#!/usr/bin/env bash
# Training from scratch, as a recipe: install everything, build the tiny offline multilingual demo
# corpus, prepare it, train a tiny voice briefly (VCLONE_DEMO_STEPS, default 300) and synthesize a
# cross-language clone with it: English in the voice of a Spanish-only speaker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python recipes/polyglot/build.py --size tiny --out demo/polyglot-tiny
.venv/bin/vclone prepare demo/polyglot-tiny --recipe recipes/polyglot/recipe.toml --out demo/prepared
STEPS="${VCLONE_DEMO_STEPS:-300}"
if [ -f runs/demo/checkpoints/latest ]; then RESUME=--resume; else RESUME=; fi
.venv/bin/vclone train acoustic --data demo/prepared --preset tiny --out runs/demo --max-steps "$STEPS" $RESUME
.venv/bin/vclone synthesize "Good morning, this voice has never spoken English before." \
  --language en-us --speaker espeak-f2 --voice runs/demo --out demo/clone-en.wav --plot demo/clone-en.png
echo "prepared corpus: demo/prepared; voice: runs/demo/voice; cross-language clone: demo/clone-en.wav"
