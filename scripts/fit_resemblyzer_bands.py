"""Fit the band map that lets resemblyzer judge vclone log-mels (vclone/models/speaker_encoder/resemblyzer_bands.safetensors).

    python scripts/fit_resemblyzer_bands.py --corpus demo/polyglot-small [--files 300] [--out PATH]

Reads speech from a corpus folder with a metadata.csv (id, audio, ...; the demo corpus's layout),
computes both views of every clip (the project's 80-band log-mel after the same trimming and
loudness normalization as `vclone prepare`, and resemblyzer's 40-band power mel at 16 kHz), fits the
map, and prints how well resemblyzer embeddings of the mapped mels agree with its embeddings of the
audio on clips left out of the fit.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vclone.atomic import atomic_output  # noqa: E402
from vclone.audio.config import AudioConfig  # noqa: E402
from vclone.audio.io import load_audio, normalize_loudness, trim_silence  # noqa: E402
from vclone.audio.mel import MelSpectrogram  # noqa: E402
from vclone.models.speaker_encoder.judge import BAND_MAP_FILE, ResemblyzerJudge, fit_band_map, resemblyzer_views  # noqa: E402


def _prepared(path: Path, audio: AudioConfig) -> torch.Tensor:
    """A clip as `vclone prepare` sees it: read at the project's rate, trimmed, loudness-normalized."""
    wav = load_audio(path, sample_rate=audio.sample_rate)
    return normalize_loudness(trim_silence(wav, sample_rate=audio.sample_rate, top_db=audio.trim_top_db), target_dbfs=audio.target_dbfs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder with metadata.csv (id, audio, ...) and the audio it names")
    parser.add_argument("--files", type=int, default=300, help="clips to fit on (a random choice)")
    parser.add_argument("--check", type=int, default=60, help="clips left out of the fit to check it on")
    parser.add_argument("--out", type=Path, default=BAND_MAP_FILE)
    args = parser.parse_args()

    from resemblyzer import VoiceEncoder, preprocess_wav
    from safetensors.torch import save_file

    with open(args.corpus / "metadata.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    random.Random(0).shuffle(rows)
    audio = AudioConfig()
    fit = [resemblyzer_views(_prepared(args.corpus / r["audio"], audio), audio) for r in rows[: args.files]]
    bands = fit_band_map(fit, audio)
    with atomic_output(args.out) as tmp:
        save_file({"bands": bands.contiguous()}, str(tmp), metadata={"audio": json.dumps(audio.to_dict()), "files": str(len(fit))})

    judge = ResemblyzerJudge(audio, band_map=args.out)
    encoder = VoiceEncoder("cpu", verbose=False)
    agreement = []
    for r in rows[args.files : args.files + args.check]:
        wav = _prepared(args.corpus / r["audio"], audio)
        truth = torch.from_numpy(encoder.embed_utterance(preprocess_wav(wav.numpy(), source_sr=audio.sample_rate)))
        with torch.no_grad():
            agreement.append(float(judge.embed_utterance(MelSpectrogram(audio)(wav)) @ truth))
    print(f"band map from {len(fit)} clips -> {args.out}")
    print(f"cosine of resemblyzer(mapped log-mel) with resemblyzer(audio) on {len(agreement)} other clips: "
          f"median {statistics.median(agreement):.3f}, min {min(agreement):.3f}")


if __name__ == "__main__":
    main()
