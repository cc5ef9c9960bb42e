#!/usr/bin/env bash
# The shipped base voice's recipe, resumable at every step: build the Kokoro corpus and the polyglot
# demo corpus, prepare both, fine-tune the shipped base voice on them (or go on with the run, if one
# is there), then score the result zero-shot on Kokoro voices no training saw. Every step keeps what
# is already done, so run it again after an interruption, in the next session, or on a GPU machine.
#
#   bash recipes/kokoro/train_base.sh                       # medium Kokoro corpus, 30000 steps
#   SIZE=tiny POLYGLOT=tiny STEPS=4 WORK=/tmp/b bash recipes/kokoro/train_base.sh   # a quick check
#
# Then ship the voice (it checks that it loads and fits 60 MB, and records the corpus commands):
#   python scripts/ship_voice.py "$WORK/run-$SIZE" --name base --corpus-command "..."
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-work/base}"          # corpora, prepared data, the run and the scores
SIZE="${SIZE:-medium}"             # Kokoro corpus size (voices.toml [sizes.*])
POLYGLOT="${POLYGLOT:-small}"      # polyglot demo corpus size
STEPS="${STEPS:-30000}"            # optimizer steps to reach (a resumed run goes on to this)
INIT="${INIT:-base}"               # the voice a new run starts from (a shipped voice's name or a voice folder)
LR="${LR:-1e-3}"                   # peak learning rate of a new run (after 200 warm-up steps)
VCLONE=.venv/bin/vclone
PYTHON=.venv/bin/python
RUN="$WORK/run-$SIZE"

$PYTHON recipes/kokoro/build.py --out "$WORK/kokoro-$SIZE" --size "$SIZE"
$PYTHON recipes/polyglot/build.py --out "$WORK/polyglot-$POLYGLOT" --size "$POLYGLOT"
$VCLONE prepare "$WORK/kokoro-$SIZE" --format csv --out "$WORK/prepared-kokoro-$SIZE"
$VCLONE prepare "$WORK/polyglot-$POLYGLOT" --recipe recipes/polyglot/recipe.toml --out "$WORK/prepared-polyglot-$POLYGLOT"
if [ -f "$RUN/checkpoints/latest" ]; then
  $VCLONE train acoustic --out "$RUN" --resume --max-steps "$STEPS"
else
  $VCLONE train acoustic --init "$INIT" --data "$WORK/prepared-kokoro-$SIZE" --data "$WORK/prepared-polyglot-$POLYGLOT" \
    --out "$RUN" --max-steps "$STEPS" --lr "$LR" --checkpoint-every 250 --seed 0
fi
$PYTHON recipes/kokoro/clone_benchmark.py --voice "$RUN" --corpus "$WORK/kokoro-$SIZE" --max-voices 8 --judge resemblyzer \
  --out "$WORK/zeroshot-$SIZE.json"
echo "voice: $RUN/voice; zero-shot scores: $WORK/zeroshot-$SIZE.json"
