"""The resume journal of `vclone prepare`: one JSON line per finished item, appended as items finish."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vclone.data.utterance import Utterance

__all__ = ["Journal", "fingerprint"]


def fingerprint(utt: Utterance, settings: dict[str, Any]) -> str:
    """A digest of everything that decides an item's result: source file state, text, labels, settings."""
    try:
        stat = utt.audio_path.stat()
        file_state = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        file_state = "missing"
    payload = json.dumps(
        {"utt": {k: str(v) for k, v in asdict(utt).items()}, "file": file_state, "settings": settings},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class Journal:
    """Append-only record of finished items; a torn last line (crash mid-write) is ignored on load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(record, dict) and "id" in record and "fp" in record:
                        self.records[record["id"]] = record
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a", encoding="utf-8")

    def finished(self, utt_id: str, fp: str) -> dict[str, Any] | None:
        """The record of an item finished with the same fingerprint, else None."""
        record = self.records.get(utt_id)
        return record if record is not None and record["fp"] == fp else None

    def add(self, record: dict[str, Any]) -> None:
        """Record a finished item and flush it to disk at once."""
        self.records[record["id"]] = record
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
