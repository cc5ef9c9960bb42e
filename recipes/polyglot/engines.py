"""Running the Debian speech engines (espeak-ng, festival, flite) and copying real recordings."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from recipes.polyglot.catalog import Catalog, Speaker
from recipes.polyglot.plan import RealRecording, RenderJob

__all__ = [
    "FESTIVAL_VOICES_DIR",
    "BINARIES",
    "wav_problem",
    "is_complete_wav",
    "unavailable_reasons",
    "read_real_recordings",
    "render_one",
    "render_festival",
]

FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
"""Where Debian's festvox-* packages install their voices."""

BINARIES = {"espeak": "espeak-ng", "festival": "festival", "flite": "flite"}
"""Engine -> the executable it runs."""

# A render quieter than this (peak of float samples) is an engine failure, not speech.
_SILENCE_PEAK = 0.01
_TIMEOUT_S = 60
_TXT_DONE_RE = re.compile(r'^\(\s*(\S+)\s+"(.*)"\s*\)\s*$')


def wav_problem(path: Path) -> str:
    """What is wrong with a freshly rendered WAV ("" when it is readable, non-empty and not silent)."""
    try:
        audio, _ = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        return f"unreadable WAV: {e}"
    if audio.shape[0] == 0:
        return "empty WAV"
    if float(np.abs(audio).max()) < _SILENCE_PEAK:
        return "silent WAV"
    return ""


def is_complete_wav(path: Path) -> bool:
    """Whether a WAV from an earlier run can be kept (cheap: header only; renders land atomically)."""
    try:
        return path.is_file() and sf.info(path).frames > 0
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False


def _espeak_data_dir() -> Path | None:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                             timeout=_TIMEOUT_S).stdout
    except OSError:
        return None
    match = re.search(r"Data at:\s*(\S+)", out)
    return Path(match.group(1)) if match else None


def _missing_espeak_files(catalog: Catalog, speaker: Speaker, data: Path | None) -> list[str]:
    # espeak-ng silently falls back to its default voice for a missing variant or language file,
    # which would make two "speakers" the same voice, so the files are checked up front.
    if data is None:
        return ["the espeak-ng-data folder (espeak-ng --version names none)"]
    files = [data / "voices" / "!v" / speaker.voice]
    files += [data / "lang" / catalog.espeak_languages[lang] for lang in (*speaker.languages, *speaker.cross)]
    return [str(f) for f in files if not f.is_file()]


def unavailable_reasons(catalog: Catalog, speakers: Sequence[Speaker]) -> dict[str, str]:
    """Speaker name -> why it cannot be made on this machine (naming the Debian package to install)."""
    reasons: dict[str, str] = {}
    espeak_data = _espeak_data_dir() if shutil.which("espeak-ng") else None
    flite_voices = ""
    if shutil.which("flite"):
        flite_voices = subprocess.run(["flite", "-lv"], capture_output=True, text=True,
                                      timeout=_TIMEOUT_S).stdout
    for sp in speakers:
        binary = BINARIES.get(sp.engine)
        if binary and not shutil.which(binary):
            package = catalog.packages.get(sp.engine, binary)
            reasons[sp.name] = f"{binary} is not installed (apt-get install {package})"
        elif sp.engine == "espeak" and (missing := _missing_espeak_files(catalog, sp, espeak_data)):
            reasons[sp.name] = f"espeak-ng data missing: {missing[0]} (apt-get install espeak-ng-data)"
        elif sp.engine == "flite" and sp.voice not in flite_voices.split():
            reasons[sp.name] = f"flite has no voice {sp.voice} (flite -lv lists {flite_voices.strip()})"
        elif sp.engine in ("festival", "real") and not list(FESTIVAL_VOICES_DIR.glob(f"*/{sp.voice}")):
            reasons[sp.name] = f"festival voice {sp.voice} is not installed (apt-get install {sp.package})"
    return reasons


def read_real_recordings(voice: str) -> list[RealRecording]:
    """The recordings and transcripts shipped in a festival voice folder (stress marks '+' removed)."""
    transcripts = sorted(FESTIVAL_VOICES_DIR.glob(f"*/{voice}/etc/txt.done.data"))
    if not transcripts:
        return []
    root = transcripts[0].parents[1]
    recordings = []
    for line in transcripts[0].read_text(encoding="utf-8").splitlines():
        match = _TXT_DONE_RE.match(line)
        wav = root / "wav" / f"{match.group(1)}.wav" if match else None
        if wav and wav.is_file():
            text = " ".join(match.group(2).replace("+", "").split())
            recordings.append(RealRecording(id=match.group(1), text=text, path=str(wav)))
    return recordings


def render_one(job: RenderJob, out: Path) -> None:
    """Render (or copy) one espeak, flite or real job to `out`; raises RuntimeError on failure."""
    if job.engine == "real":
        shutil.copyfile(job.voice, out)
        return
    if job.engine == "espeak":
        # Text goes through stdin so a sentence can never be read as an option; -b 1: UTF-8 input.
        cmd = ["espeak-ng", "-b", "1", "-v", job.voice, "-p", str(job.pitch), "-s", str(job.speed),
               "-w", str(out), "--stdin"]
        stdin = job.text.encode("utf-8")
    elif job.engine == "flite":
        cmd, stdin = ["flite", "-voice", job.voice, "-t", job.text, "-o", str(out)], None
    else:
        raise ValueError(f"render_one cannot run {job.engine!r} jobs (festival: render_festival)")
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{cmd[0]} took longer than {_TIMEOUT_S} s") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}: {stderr[:200]}")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_festival(voice: str, encoding: str, jobs: Sequence[RenderJob], work_dir: Path) -> dict[str, str]:
    """Render all of one voice's jobs in ONE festival process, into work_dir/<id>.wav.

    Returns job id -> error for the jobs that failed (an utterance festival cannot say is caught
    inside the script, so the others still render). Paths are relative to work_dir so the script
    stays encodable in the voice's text encoding whatever the output folder is called.
    """
    lines = [f"(voice_{voice})"]
    for job in jobs:
        lines.append(
            f"(unwind-protect (utt.save.wave (utt.synth (Utterance Text {_scheme_string(job.text)})) "
            f'"{job.id}.wav" (quote riff)) (format t "vclone-failed {job.id}\\n"))'
        )
    script = work_dir / "render.scm"
    script.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    timeout = _TIMEOUT_S + 10 * len(jobs)
    try:
        done = subprocess.run(["festival", "--batch", script.name], cwd=work_dir, capture_output=True,
                              timeout=timeout)
        detail = f"festival exited {done.returncode}: {done.stderr.decode(errors='replace').strip()[-200:]}"
    except subprocess.TimeoutExpired:
        detail = f"festival took longer than {timeout} s"
    errors = {}
    for job in jobs:
        if not (work_dir / f"{job.id}.wav").is_file():
            errors[job.id] = f"festival voice {voice} did not write it ({detail})"
    return errors
