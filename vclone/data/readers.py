"""Corpus readers: a corpus folder on disk (LJSpeech, VCTK, LibriTTS, CSV/TSV) -> Utterance records."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vclone.data.utterance import Utterance
from vclone.errors import CorpusError

__all__ = ["CORPUS_FORMATS", "CorpusListing", "RejectedItem", "read_corpus", "safe_id"]

_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class RejectedItem:
    """An item of the corpus that cannot be used, with the reason shown in the report."""

    id: str
    """The item's id, or a location such as `metadata.csv:12` when no id could be read."""
    source: str
    """The audio path or corpus file the item came from."""
    reason: str
    """Why it was skipped, in a few words."""


@dataclass
class CorpusListing:
    """What a reader found: usable-looking utterances plus the rows it could not read."""

    utterances: list[Utterance] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)


def safe_id(raw: str) -> str:
    """Turn any identifier into one usable as a file name (letters, digits, `_`, `-`, `.`)."""
    cleaned = _UNSAFE_ID.sub("_", raw.strip()).strip("._")
    return cleaned or "utt"


def _require_dir(root: Path, what: str) -> None:
    if not root.exists():
        raise CorpusError(f"corpus path {root} does not exist; pass the folder that holds {what}")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder; pass the folder that holds {what}")


def _finish(listing: CorpusListing) -> CorpusListing:
    """Reject duplicate ids (keeping the first) so feature files never collide."""
    seen: set[str] = set()
    unique: list[Utterance] = []
    for utt in listing.utterances:
        if utt.id in seen:
            listing.rejected.append(RejectedItem(utt.id, str(utt.audio_path), "duplicate id"))
            continue
        seen.add(utt.id)
        unique.append(utt)
    listing.utterances = unique
    return listing


def read_ljspeech(root: Path, *, language: str | None, speaker: str | None) -> CorpusListing:
    """LJSpeech layout: `metadata.csv` (id|text|normalized text, no header) and `wavs/<id>.wav`."""
    _require_dir(root, "metadata.csv and wavs/")
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise CorpusError(f"{metadata} not found: an LJSpeech corpus has metadata.csv (id|text|normalized) and wavs/")
    listing = CorpusListing()
    spk = speaker or "ljspeech"
    lang = language or "en-us"
    with metadata.open(encoding="utf-8", newline="") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) < 2:
                listing.rejected.append(RejectedItem(f"metadata.csv:{line_no}", str(metadata), "malformed line (expected id|text)"))
                continue
            # The third column is the normalized transcript (numbers spelled out); prefer it when present.
            text = parts[2] if len(parts) > 2 and parts[2].strip() else parts[1]
            utt_id = safe_id(parts[0])
            listing.utterances.append(Utterance(utt_id, root / "wavs" / f"{parts[0].strip()}.wav", text.strip(), spk, lang))
    return _finish(listing)


def _find_vctk_audio(root: Path, spk: str, stem: str) -> Path:
    candidates = [
        root / "wav48_silence_trimmed" / spk / f"{stem}_mic1.flac",
        root / "wav48_silence_trimmed" / spk / f"{stem}_mic2.flac",
        root / "wav48" / spk / f"{stem}.wav",
        root / "wav" / spk / f"{stem}.wav",
    ]
    for path in candidates:
        if path.exists():
            return path
    return candidates[0]


def read_vctk(root: Path, *, language: str | None, speaker: str | None) -> CorpusListing:
    """VCTK layout: `txt/<spk>/<spk>_<n>.txt` with audio in `wav48_silence_trimmed/<spk>/<stem>_mic1.flac`
    (VCTK 0.92) or `wav48/<spk>/<stem>.wav` (older releases)."""
    _require_dir(root, "txt/ and wav48_silence_trimmed/ (or wav48/)")
    txt_root = root / "txt"
    if not txt_root.is_dir():
        raise CorpusError(f"{txt_root} not found: a VCTK corpus has txt/<speaker>/*.txt beside wav48_silence_trimmed/ or wav48/")
    listing = CorpusListing()
    lang = language or "en-gb"
    for spk_dir in sorted(p for p in txt_root.iterdir() if p.is_dir()):
        if speaker is not None and spk_dir.name != speaker:
            continue
        for txt in sorted(spk_dir.glob("*.txt")):
            text = txt.read_text(encoding="utf-8", errors="replace").strip()
            audio = _find_vctk_audio(root, spk_dir.name, txt.stem)
            listing.utterances.append(Utterance(safe_id(txt.stem), audio, text, spk_dir.name, lang))
    if speaker is not None and not listing.utterances:
        raise CorpusError(f"speaker {speaker!r} not found under {txt_root}; drop --speaker to read every speaker")
    return _finish(listing)


def read_libritts(root: Path, *, language: str | None, speaker: str | None) -> CorpusListing:
    """LibriTTS layout: `[<split>/]<speaker>/<chapter>/<id>.wav` with `<id>.normalized.txt` beside it."""
    _require_dir(root, "<speaker>/<chapter>/*.wav with .normalized.txt transcripts")
    listing = CorpusListing()
    lang = language or "en-us"
    wavs = sorted(root.rglob("*.wav"))
    if not wavs:
        raise CorpusError(f"no .wav files under {root}: a LibriTTS corpus has <speaker>/<chapter>/<id>.wav")
    for wav in wavs:
        spk = wav.parent.parent.name
        if speaker is not None and spk != speaker:
            continue
        transcript = wav.with_suffix(".normalized.txt")
        if not transcript.exists():
            transcript = wav.with_suffix(".original.txt")
        if not transcript.exists():
            listing.rejected.append(RejectedItem(safe_id(wav.stem), str(wav), "no .normalized.txt or .original.txt transcript"))
            continue
        text = transcript.read_text(encoding="utf-8", errors="replace").strip()
        listing.utterances.append(Utterance(safe_id(wav.stem), wav, text, spk, lang))
    return _finish(listing)


_CSV_NAMES = ("metadata.csv", "metadata.tsv", "manifest.csv", "manifest.tsv")
_AUDIO_COLUMNS = ("audio", "audio_path", "path", "wav", "file")


def _csv_file(path: Path) -> Path:
    if path.is_file():
        return path
    _require_dir(path, "metadata.csv")
    for name in _CSV_NAMES:
        if (path / name).is_file():
            return path / name
    raise CorpusError(f"no {' / '.join(_CSV_NAMES)} in {path}; pass the CSV file itself or a folder holding one")


def _csv_column(header: list[str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in header:
            return name
    return None


def read_csv(path: Path, *, language: str | None, speaker: str | None) -> CorpusListing:
    """Generic CSV/TSV manifest with a header: `audio` and `text` columns, optional `id`, `speaker`,
    `language`. Audio paths are relative to the manifest's folder (or absolute)."""
    table = _csv_file(path)
    delimiter = "\t" if table.suffix.lower() == ".tsv" else ","
    with table.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        audio_col = _csv_column(header, _AUDIO_COLUMNS)
        if audio_col is None or "text" not in header:
            raise CorpusError(
                f"{table} header is {header}; it needs an audio column ({'/'.join(_AUDIO_COLUMNS)}) and a text column"
            )
        if "speaker" not in header and speaker is None:
            raise CorpusError(f"{table} has no speaker column; add one or pass --speaker NAME")
        if "language" not in header and language is None:
            raise CorpusError(f"{table} has no language column; add one or pass --language CODE")
        listing = CorpusListing()
        for row_no, row in enumerate(reader, start=2):
            where = f"{table.name}:{row_no}"
            audio_raw = (row.get(audio_col) or "").strip()
            if not audio_raw:
                listing.rejected.append(RejectedItem(where, str(table), "empty audio path"))
                continue
            audio = Path(audio_raw)
            audio = audio if audio.is_absolute() else table.parent / audio
            utt_id = safe_id(row.get("id") or "") if (row.get("id") or "").strip() else safe_id(Path(audio_raw).with_suffix("").as_posix())
            spk = speaker or (row.get("speaker") or "").strip()
            lang = language or (row.get("language") or "").strip()
            if not spk or not lang:
                listing.rejected.append(RejectedItem(utt_id, str(audio), "empty speaker or language"))
                continue
            listing.utterances.append(Utterance(utt_id, audio, (row.get("text") or "").strip(), spk, lang))
    return _finish(listing)


Reader = Callable[..., CorpusListing]

CORPUS_FORMATS: dict[str, Reader] = {
    "ljspeech": read_ljspeech,
    "vctk": read_vctk,
    "libritts": read_libritts,
    "csv": read_csv,
}


def read_corpus(path: Path, *, corpus_format: str, language: str | None = None, speaker: str | None = None) -> CorpusListing:
    """Read a corpus in one of CORPUS_FORMATS; `language`/`speaker` override or fill in the corpus's own."""
    reader = CORPUS_FORMATS.get(corpus_format)
    if reader is None:
        raise CorpusError(f"unknown corpus format {corpus_format!r}; choose one of {', '.join(CORPUS_FORMATS)}")
    return reader(Path(path).expanduser().resolve(), language=language, speaker=speaker)
