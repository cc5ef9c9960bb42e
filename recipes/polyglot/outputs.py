"""Writing the corpus manifests (CSV splits, speakers.json) and the build summary table."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf
from rich.console import Console
from rich.table import Table

from recipes.polyglot.catalog import Catalog, Speaker
from recipes.polyglot.plan import RenderJob

__all__ = ["CSV_HEADER", "write_csv", "write_json", "speakers_record", "summary_tables"]

CSV_HEADER = ("id", "audio", "text", "speaker", "language")
"""The header of metadata.csv and cross_test.csv, in this order (vclone's generic CSV corpus)."""


def _replace_atomically(path: Path, write) -> None:
    # A reader (or a crash half-way) must see either the old file or the new one, never a mix.
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        write(f)
    os.replace(tmp, path)


def write_csv(path: Path, jobs: Sequence[RenderJob]) -> None:
    """Write one split as UTF-8 CSV; `audio` is relative to the CSV's folder."""

    def write(f) -> None:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for j in jobs:
            writer.writerow((j.id, j.audio, j.text, j.speaker, j.language))

    _replace_atomically(path, write)


def write_json(path: Path, data: object) -> None:
    """Write JSON (UTF-8, indented) atomically."""
    _replace_atomically(path, lambda f: (json.dump(data, f, ensure_ascii=False, indent=2), f.write("\n")))


def speakers_record(catalog: Catalog, speakers: Sequence[Speaker], done: Sequence[RenderJob]) -> dict:
    """speakers.json: speaker -> engine, voice, training language (the first of `languages`, all it
    speaks in training), cross languages, gender, real."""
    cross: dict[str, list[str]] = {}
    for j in done:
        if j.split == "cross" and j.language not in cross.setdefault(j.speaker, []):
            cross[j.speaker].append(j.language)
    trained = {j.speaker for j in done if j.split == "train"}
    record = {}
    for sp in speakers:
        if sp.name not in trained:
            continue
        entry: dict[str, object] = {
            "engine": sp.engine,
            "voice": catalog.espeak_voice(sp, sp.language) if sp.engine == "espeak" else sp.voice,
            "language": sp.language,
            "languages": list(sp.languages),
            "cross_languages": cross.get(sp.name, []),
            "gender": sp.gender if sp.gender != "unknown" else None,
            "real": sp.engine == "real",
        }
        if sp.engine == "espeak":
            entry.update(variant=sp.voice, pitch=sp.pitch, speed=sp.speed)
        entry["package"] = sp.package or catalog.packages.get(sp.engine, "")
        if sp.same_voice_as:
            entry["same_voice_as"] = sp.same_voice_as
        record[sp.name] = entry
    return record


def _table(title: str, key_name: str, rows: dict[str, dict], *, with_languages: bool) -> Table:
    table = Table(title=title)
    columns = [key_name, "speakers", "languages", "train utts", "train min", "cross utts", "cross min"]
    if not with_languages:
        columns.remove("languages")
    for col in columns:
        table.add_column(col, justify="left" if col == key_name else "right")
    for key in sorted(rows):
        r = rows[key]
        cells = [key, str(len(r["speakers"])), str(len(r["languages"])), str(r["train"]),
                 f"{r['train_s'] / 60:.1f}", str(r["cross"]), f"{r['cross_s'] / 60:.1f}"]
        if not with_languages:
            del cells[2]
        table.add_row(*cells)
    return table


def summary_tables(out_dir: Path, done: Sequence[RenderJob]) -> list[Table]:
    """Speakers, languages, utterances and minutes of audio per engine and per language."""
    by_engine: dict[str, dict] = {}
    by_language: dict[str, dict] = {}
    for j in done:
        seconds = sf.info(out_dir / j.audio).duration
        for rows, key in ((by_engine, j.engine), (by_language, j.language), (by_engine, "all")):
            r = rows.setdefault(key, {"speakers": set(), "languages": set(), "train": 0, "train_s": 0.0,
                                      "cross": 0, "cross_s": 0.0})
            r["speakers"].add(j.speaker)
            r["languages"].add(j.language)
            r[j.split] += 1
            r[f"{j.split}_s"] += seconds
    return [_table("by engine", "engine", by_engine, with_languages=True),
            _table("by language", "language", by_language, with_languages=False)]

