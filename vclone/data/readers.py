"""Corpus readers: a corpus folder on disk (LJSpeech, VCTK, LibriTTS, CSV/TSV) -> Utterance records."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vclone.data.utterance import Utterance
from vclone.errors import ConfigError, CorpusError

__all__ = [
    "CORPUS_FORMATS",
    "DEFAULT_ENCODING",
    "CorpusListing",
    "RejectedItem",
    "check_encoding",
    "read_corpus",
    "read_text",
    "safe_id",
]

DEFAULT_ENCODING = "utf-8"
"""Text files are read as UTF-8 unless the user says otherwise (a UTF-8 BOM is always accepted)."""

_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]+")
_NO_AUDIO = "transcript without audio"
_NO_TRANSCRIPT = "audio without a transcript"


@dataclass(frozen=True)
class RejectedItem:
    """An item of the corpus that cannot be used, with the reason shown in the report."""

    id: str
    """The item's id, or a location such as `metadata.csv line 12` when no id could be read."""
    source: str
    """The audio path or corpus file the item came from."""
    reason: str
    """Why it was skipped, in a few words."""


@dataclass
class CorpusListing:
    """What a reader found: usable-looking utterances plus the items it could not use."""

    utterances: list[Utterance] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)
    source: str = ""
    """The corpus file or folder the listing was read from (named in errors)."""


def safe_id(raw: str) -> str:
    """Turn any identifier into one usable as a file name (letters, digits, `_`, `-`, `.`)."""
    cleaned = _UNSAFE_ID.sub("_", raw.strip()).strip("._")
    return cleaned or "utt"


def check_encoding(encoding: str) -> str:
    """The codec name for `--encoding`, or a ConfigError naming a few valid ones."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8, latin-1 or cp1252") from None


def read_text(path: Path, *, encoding: str = DEFAULT_ENCODING) -> str:
    """A corpus text file decoded with `encoding` (UTF-8 also strips a BOM).

    Bytes that do not decode become a CorpusError naming the file, the line and the byte, with the fix.
    """
    if path.is_dir():
        raise CorpusError(f"{path} is a folder, not a text file; pass the file itself")
    raw = path.read_bytes()
    codec = codecs.lookup(encoding).name
    try:
        return raw.decode("utf-8-sig" if codec == "utf-8" else encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        byte = raw[err.start : err.start + 1].hex()
        raise CorpusError(
            f"{path} line {line}: byte 0x{byte} is not valid {codec}; save the file as UTF-8 "
            f"or pass the encoding it was written in, e.g. --encoding latin-1 (or cp1252)"
        ) from None


def _require_dir(root: Path, what: str) -> None:
    if not root.exists():
        raise CorpusError(f"corpus path {root} does not exist; pass the folder that holds {what}")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder; pass the folder that holds {what}")


def _audio_stem(path: Path) -> str:
    """VCTK 0.92 names one recording per microphone (`p225_001_mic1.flac`); the utterance is `p225_001`."""
    return re.sub(r"_mic\d$", "", path.stem)


def _add(listing: CorpusListing, utt: Utterance) -> None:
    """Keep an utterance whose audio exists; report one whose audio is missing."""
    if utt.audio_path.is_file():
        listing.utterances.append(utt)
    elif utt.audio_path.is_dir():
        listing.rejected.append(RejectedItem(utt.id, str(utt.audio_path), f"{_NO_AUDIO} (the audio path is a folder)"))
    else:
        listing.rejected.append(RejectedItem(utt.id, str(utt.audio_path), f"{_NO_AUDIO} ({utt.audio_path.name} not found)"))


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


def _ljspeech_problem(parts: list[str], line: str) -> str:
    """Why a metadata.csv line cannot be read ("" when it can), with a hint at the likely cause."""
    if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
        return ""
    if len(parts) < 2:
        hint = next((f'; is the delimiter "{d}"?' for d in (",", "\t", ";") if d in line), "")
        return f"expected id|text|normalized text, found 1 column{hint.replace(chr(9), 'TAB')}"
    return "empty id" if not parts[0].strip() else "empty transcript"


def read_ljspeech(root: Path, *, language: str | None, speaker: str | None, encoding: str = DEFAULT_ENCODING) -> CorpusListing:
    """LJSpeech layout: `metadata.csv` (id|text|normalized text, no header) and `wavs/<id>.wav`."""
    _require_dir(root, "metadata.csv and wavs/")
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise CorpusError(f"{metadata} not found: an LJSpeech corpus has metadata.csv (id|text|normalized) and wavs/")
    listing = CorpusListing(source=str(metadata))
    spk = speaker or "ljspeech"
    lang = language or "en-us"
    listed: set[str] = set()
    lines = read_text(metadata, encoding=encoding).splitlines()
    if not any(line.strip() for line in lines):
        raise CorpusError(f"{metadata} is empty; it needs one line per clip: id|text|normalized text")
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        problem = _ljspeech_problem(parts, line)
        if problem:
            listing.rejected.append(RejectedItem(f"metadata.csv line {line_no}", str(metadata), problem))
            continue
        # The third column is the normalized transcript (numbers spelled out); prefer it when present.
        text = parts[2] if len(parts) > 2 and parts[2].strip() else parts[1]
        stem = parts[0].strip()
        listed.add(stem)
        _add(listing, Utterance(safe_id(stem), root / "wavs" / f"{stem}.wav", text.strip(), spk, lang))
    wavs = root / "wavs"
    if wavs.is_dir():
        for wav in sorted(p for p in wavs.iterdir() if p.suffix.lower() in _AUDIO_SUFFIXES):
            if wav.stem not in listed:
                listing.rejected.append(RejectedItem(safe_id(wav.stem), str(wav), f"{_NO_TRANSCRIPT} (no line in metadata.csv)"))
    return _finish(listing)


_VCTK_AUDIO_DIRS = ("wav48_silence_trimmed", "wav48", "wav")


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


def _vctk_untranscribed(root: Path, listing: CorpusListing, transcribed: set[tuple[str, str]], speaker: str | None) -> None:
    """Report each recorded utterance (one per stem, whatever the microphones) that has no txt/ file."""
    reported: set[tuple[str, str]] = set()
    for audio_dir in _VCTK_AUDIO_DIRS:
        base = root / audio_dir
        if not base.is_dir():
            continue
        for spk_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            if speaker is not None and spk_dir.name != speaker:
                continue
            for audio in sorted(p for p in spk_dir.iterdir() if p.suffix.lower() in _AUDIO_SUFFIXES):
                key = (spk_dir.name, _audio_stem(audio))
                if key in transcribed or key in reported:
                    continue
                reported.add(key)
                reason = f"{_NO_TRANSCRIPT} (no txt/{key[0]}/{key[1]}.txt)"
                listing.rejected.append(RejectedItem(safe_id(key[1]), str(audio), reason))


def read_vctk(root: Path, *, language: str | None, speaker: str | None, encoding: str = DEFAULT_ENCODING) -> CorpusListing:
    """VCTK layout: `txt/<spk>/<spk>_<n>.txt` with audio in `wav48_silence_trimmed/<spk>/<stem>_mic1.flac`
    (VCTK 0.92) or `wav48/<spk>/<stem>.wav` (older releases)."""
    _require_dir(root, "txt/ and wav48_silence_trimmed/ (or wav48/)")
    txt_root = root / "txt"
    if not txt_root.is_dir():
        raise CorpusError(f"{txt_root} not found: a VCTK corpus has txt/<speaker>/*.txt beside wav48_silence_trimmed/ or wav48/")
    listing = CorpusListing(source=str(root))
    lang = language or "en-gb"
    transcribed: set[tuple[str, str]] = set()
    for spk_dir in sorted(p for p in txt_root.iterdir() if p.is_dir()):
        if speaker is not None and spk_dir.name != speaker:
            continue
        for txt in sorted(spk_dir.glob("*.txt")):
            transcribed.add((spk_dir.name, txt.stem))
            audio = _find_vctk_audio(root, spk_dir.name, txt.stem)
            try:
                text = read_text(txt, encoding=encoding).strip()
            except CorpusError as err:
                listing.rejected.append(RejectedItem(safe_id(txt.stem), str(txt), str(err)))
                continue
            _add(listing, Utterance(safe_id(txt.stem), audio, text, spk_dir.name, lang))
    _vctk_untranscribed(root, listing, transcribed, speaker)
    if speaker is not None and not listing.utterances and not listing.rejected:
        raise CorpusError(f"speaker {speaker!r} not found under {root}; drop --speaker to read every speaker")
    return _finish(listing)


def read_libritts(root: Path, *, language: str | None, speaker: str | None, encoding: str = DEFAULT_ENCODING) -> CorpusListing:
    """LibriTTS layout: `[<split>/]<speaker>/<chapter>/<id>.wav` with `<id>.normalized.txt` beside it."""
    _require_dir(root, "<speaker>/<chapter>/*.wav with .normalized.txt transcripts")
    listing = CorpusListing(source=str(root))
    lang = language or "en-us"
    wavs = sorted(root.rglob("*.wav"))
    transcripts = sorted(root.rglob("*.normalized.txt")) + sorted(root.rglob("*.original.txt"))
    if not wavs and not transcripts:
        raise CorpusError(f"no .wav files under {root}: a LibriTTS corpus has <speaker>/<chapter>/<id>.wav")
    for wav in wavs:
        spk = wav.parent.parent.name
        if speaker is not None and spk != speaker:
            continue
        transcript = wav.with_suffix(".normalized.txt")
        if not transcript.exists():
            transcript = wav.with_suffix(".original.txt")
        if not transcript.exists():
            listing.rejected.append(RejectedItem(safe_id(wav.stem), str(wav), f"{_NO_TRANSCRIPT} (no .normalized.txt or .original.txt)"))
            continue
        try:
            text = read_text(transcript, encoding=encoding).strip()
        except CorpusError as err:
            listing.rejected.append(RejectedItem(safe_id(wav.stem), str(transcript), str(err)))
            continue
        listing.utterances.append(Utterance(safe_id(wav.stem), wav, text, spk, lang))
    reported: set[str] = set()
    for transcript in transcripts:
        stem = transcript.name.split(".")[0]
        wav = transcript.with_name(f"{stem}.wav")
        if wav.exists() or stem in reported or (speaker is not None and transcript.parent.parent.name != speaker):
            continue
        reported.add(stem)
        listing.rejected.append(RejectedItem(safe_id(stem), str(transcript), f"{_NO_AUDIO} ({wav.name} not found)"))
    if speaker is not None and not listing.utterances and not listing.rejected:
        raise CorpusError(f"speaker {speaker!r} not found under {root}; drop --speaker to read every speaker")
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


def _csv_header_error(table: Path, header: list[str], delimiter: str) -> CorpusError:
    shown = "TAB" if delimiter == "\t" else delimiter
    hint = ""
    if len(header) == 1:
        other = next((d for d in ("|", "\t", ";", ",") if d != delimiter and d in header[0]), None)
        if other is not None:
            hint = f"; the file seems to use {'TAB' if other == chr(9) else repr(other)} between columns, but a {table.suffix} file is read with {shown!r}"
    return CorpusError(
        f"{table} header is {header}; it needs an audio column ({'/'.join(_AUDIO_COLUMNS)}) and a text column{hint}"
    )


def read_csv(path: Path, *, language: str | None, speaker: str | None, encoding: str = DEFAULT_ENCODING) -> CorpusListing:
    """Generic CSV/TSV manifest with a header: `audio` and `text` columns, optional `id`, `speaker`,
    `language`. Audio paths are relative to the manifest's folder (or absolute)."""
    table = _csv_file(path)
    delimiter = "\t" if table.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(read_text(table, encoding=encoding), newline=""), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise CorpusError(f"{table} is empty; a CSV corpus starts with a header line such as id,audio,text,speaker,language")
    reader.fieldnames = header
    audio_col = _csv_column(header, _AUDIO_COLUMNS)
    if audio_col is None or "text" not in header:
        raise _csv_header_error(table, header, delimiter)
    if "speaker" not in header and speaker is None:
        raise CorpusError(f"{table} has no speaker column; add one or pass --speaker NAME")
    if "language" not in header and language is None:
        raise CorpusError(f"{table} has no language column; add one or pass --language CODE")
    listing = CorpusListing(source=str(table))
    for row_no, row in enumerate(reader, start=2):
        where = f"{table.name} line {row_no}"
        audio_raw = (row.get(audio_col) or "").strip()
        if not audio_raw:
            listing.rejected.append(RejectedItem(where, str(table), f"{_NO_AUDIO} (empty {audio_col} column)"))
            continue
        audio = Path(audio_raw)
        audio = audio if audio.is_absolute() else table.parent / audio
        utt_id = safe_id(row.get("id") or "") if (row.get("id") or "").strip() else safe_id(Path(audio_raw).with_suffix("").as_posix())
        spk = speaker or (row.get("speaker") or "").strip()
        lang = language or (row.get("language") or "").strip()
        if not spk:
            listing.rejected.append(RejectedItem(utt_id, str(audio), f"empty speaker column ({where}; fill it in or pass --speaker NAME)"))
            continue
        if not lang:
            listing.rejected.append(RejectedItem(utt_id, str(audio), f"empty language column ({where}; fill it in or pass --language CODE)"))
            continue
        text = (row.get("text") or "").strip()
        if not text:
            listing.rejected.append(RejectedItem(utt_id, str(audio), f"empty transcript ({where}: the text column is empty)"))
            continue
        _add(listing, Utterance(utt_id, audio, text, spk, lang))
    if not listing.utterances and not listing.rejected:
        raise CorpusError(f"{table} has a header but no rows; add one line per clip below the header")
    return _finish(listing)


Reader = Callable[..., CorpusListing]

CORPUS_FORMATS: dict[str, Reader] = {
    "ljspeech": read_ljspeech,
    "vctk": read_vctk,
    "libritts": read_libritts,
    "csv": read_csv,
}


def read_corpus(
    path: Path,
    *,
    corpus_format: str,
    language: str | None = None,
    speaker: str | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> CorpusListing:
    """Read a corpus in one of CORPUS_FORMATS; `language`/`speaker` override or fill in the corpus's own.

    Text files are decoded with `encoding`; the listing holds every item found, usable or not.
    """
    reader = CORPUS_FORMATS.get(corpus_format)
    if reader is None:
        raise CorpusError(f"unknown corpus format {corpus_format!r}; choose one of {', '.join(CORPUS_FORMATS)}")
    root = Path(path).expanduser().resolve()
    try:
        return reader(root, language=language, speaker=speaker, encoding=check_encoding(encoding))
    except PermissionError as err:
        raise CorpusError(f"cannot read {err.filename}: permission denied") from None
