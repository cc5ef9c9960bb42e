#!/usr/bin/env bash
# Install everything, build the tiny offline multilingual demo corpus and prepare it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python recipes/polyglot/build.py --size tiny --out demo/polyglot-tiny
.venv/bin/vclone prepare demo/polyglot-tiny --recipe recipes/polyglot/recipe.toml --out demo/prepared
echo "prepared corpus: demo/prepared (manifest.jsonl, vocab.json, report.tsv)"
