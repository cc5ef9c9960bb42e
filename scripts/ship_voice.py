"""Ship a trained voice inside the package: copy an exported voice into vclone/voices/NAME/.

    python scripts/ship_voice.py RUN/voice --name base \
        --corpus-command "python recipes/kokoro/build.py --out demo/kokoro --size small" \
        --corpus-command "vclone prepare demo/kokoro --format csv --out prepared/kokoro" [--max-mb 60]

Checks that the voice loads and records its provenance (what `vclone train` exports), that it fits
the size budget, adds the corpus build and prepare commands (which training cannot know) to its
provenance as `corpus_commands`, and replaces vclone/voices/NAME/ atomically (a new folder beside it,
then renamed). Only voice.json, voice.safetensors and an attached vocoder/ are copied, never
checkpoints.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FILES = ("voice.json", "voice.safetensors")


def ship(voice: Path, *, name: str, corpus_commands: list[str], max_mb: float) -> Path:
    from vclone.models.voice import load_voice

    voice = voice / "voice" if (voice / "voice" / "voice.json").is_file() else voice
    loaded = load_voice(voice)
    meta = json.loads((voice / "voice.json").read_text(encoding="utf-8"))
    if not meta.get("provenance"):
        sys.exit(f"error: {voice}/voice.json has no provenance; export it with the current `vclone train`")
    size_mb = sum(p.stat().st_size for p in voice.rglob("*") if p.is_file() and not p.name.startswith(".")) / 1e6
    if size_mb > max_mb:
        sys.exit(f"error: {voice} is {size_mb:.1f} MB, over the {max_mb:g} MB budget for a shipped voice")
    target = REPO / "vclone" / "voices" / name
    staging = target.with_name(f".{name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for file in _FILES:
        shutil.copy2(voice / file, staging / file)
    if (voice / "vocoder").is_dir():
        shutil.copytree(voice / "vocoder", staging / "vocoder")
    meta["provenance"]["corpus_commands"] = corpus_commands
    (staging / "voice.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    old = target.with_name(f".{name}.old")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    print(f"shipped {voice} as {target} ({size_mb:.1f} MB; languages {', '.join(loaded.vocab.languages)})")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("voice", type=Path, help="exported voice folder (RUN/voice) or the run folder")
    parser.add_argument("--name", default="base")
    parser.add_argument("--corpus-command", action="append", default=[], help="a command that built or prepared the training data (repeat)")
    parser.add_argument("--max-mb", type=float, default=60.0)
    args = parser.parse_args()
    ship(args.voice, name=args.name, corpus_commands=args.corpus_command, max_mb=args.max_mb)


if __name__ == "__main__":
    main()
