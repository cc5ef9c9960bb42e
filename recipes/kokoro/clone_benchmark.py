"""Zero-shot cross-language cloning benchmark on the Kokoro corpus's held-out voices (issue targets).

    python recipes/kokoro/clone_benchmark.py --voice base --corpus demo/kokoro [--judge resemblyzer] [--register predicted] [--timbre none] [--out clone.json]

For every held-out voice of zeroshot_test.csv (voices no training saw): its first `--references`
clips in its first language are the reference (the cloning path: recordings -> the voice's speaker
encoder -> embedding, as `vclone synthesize --speaker ref.wav` does); the voice then reads every other
sentence of the set, in the reference's language (same-language zero-shot) and in the others (cross-
language zero-shot), all of which have ground truth recorded by the held-out voice itself. Scored by
the voice's own encoder and by `--judge` (an encoder the voice was not conditioned on):
  - cosine of each clip to the held-out voice's ground truth in the clip's language (the mean
    embedding of its ground-truth clips in that language), beside the ground truth's own cosine
    to its reference (the ceiling);
  - top-1 identification of each clip among every voice of the corpus: the training speakers
    (centroids of their metadata.csv clips) and the held-out voices (centroids of their references);
  - MCD and the F0 contour (DTW-aligned: RMSE in Hz and correlation on frames voiced in both)
    against the ground-truth clip, and for English clips pocketsphinx's WER of clip and ground truth
    (with the eval extra).
Prints one row per condition (clips, speakers, cosine, top-1, MCD, WER vs ground-truth WER) per encoder.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from vclone.audio.io import load_audio, resample
from vclone.eval.compare import evaluate_pair
from vclone.eval.wer import Recognizer, recognizer_available
from vclone.models.speaker_encoder import load_encoder
from vclone.models.speaker_encoder.reference import embed_references
from vclone.models.voice import speaker_encoder_spec
from vclone.synth.synthesizer import Synthesizer


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _centroid(encoder, paths: list[Path]) -> torch.Tensor:
    return embed_references(paths, encoder)[0].vector


def _score(encoder, clips: list[dict], corpus: Path, train_rows: list[dict], references: dict[str, list[Path]], per_train: int) -> dict:
    """Cosine to own ground truth and top-1 among every corpus voice, per condition, by `encoder`."""
    by_speaker: dict[str, list[Path]] = defaultdict(list)
    for row in train_rows:
        if len(by_speaker[row["speaker"]]) < per_train:
            by_speaker[row["speaker"]].append(corpus / row["audio"])
    centroids = {name: _centroid(encoder, paths) for name, paths in sorted({**by_speaker, **references}.items())}
    names = sorted(centroids)
    matrix = torch.stack([centroids[n] for n in names])
    truth_by: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for clip in clips:
        truth_by[(clip["speaker"], clip["language"])].append(clip["truth"])
    truth_centroids = {key: _centroid(encoder, paths) for key, paths in truth_by.items()}
    out: dict[str, dict] = {}
    for condition in ("same-language", "cross-language"):
        chosen = [c for c in clips if c["condition"] == condition]
        if not chosen:
            continue
        cos, top1, cos_truth = [], [], []
        for clip in chosen:
            vector = encoder.embed(resample(clip["wav"], clip["rate"], encoder.sample_rate))
            cos.append(float(vector @ truth_centroids[(clip["speaker"], clip["language"])]))
            top1.append(names[int((matrix @ vector).argmax())] == clip["speaker"])
            truth = encoder.embed(load_audio(clip["truth"], sample_rate=encoder.sample_rate))
            cos_truth.append(float(truth @ centroids[clip["speaker"]]))
        out[condition] = {"clips": len(chosen), "speakers": len({c["speaker"] for c in chosen}),
                          "cosine_to_own_truth": statistics.mean(cos), "top1": sum(top1) / len(top1),
                          "truth_cosine_to_reference": statistics.mean(cos_truth), "candidates": len(names)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="base", help="a shipped voice's name, a voice folder or a training run")
    parser.add_argument("--corpus", type=Path, required=True, help="a built Kokoro corpus (recipes/kokoro/build.py)")
    parser.add_argument("--references", type=int, default=1, help="reference clips per held-out voice (the rest of its first language is the same-language test)")
    parser.add_argument("--per-train", type=int, default=5, help="clips per training speaker in its centroid")
    parser.add_argument("--judge", action="append", default=[], help="another speaker encoder that scores the clips (repeat)")
    parser.add_argument("--vocoder", default=None)
    parser.add_argument("--register", choices=["reference", "predicted"], default="reference",
                        help="speak in the reference's pitch register (what vclone does) or in the one the voice predicts from the embedding")
    parser.add_argument("--timbre", choices=["reference", "none"], default="reference",
                        help="match the clone's long-term spectrum to the reference's (what vclone does) or not")
    parser.add_argument("--max-voices", type=int, default=None, help="only the first N held-out voices (a quick check)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    synth = Synthesizer.from_path(args.voice, vocoder=args.vocoder)
    own = speaker_encoder_spec(synth.voice.meta, synth.voice.speaker_space)
    if not own:
        raise SystemExit("error: the voice speaks its own speaker table only; zero-shot cloning needs a voice conditioned on a speaker encoder")
    encoder = load_encoder(own)
    recognizer = Recognizer() if recognizer_available() else None
    train_rows = _rows(args.corpus / "metadata.csv")
    by_voice: dict[str, list[dict]] = defaultdict(list)
    for row in _rows(args.corpus / "zeroshot_test.csv"):
        by_voice[row["speaker"]].append(row)
    references: dict[str, list[Path]] = {}
    clips, pairs, rtfs = [], [], []
    languages = set(synth.voice.vocab.languages)
    for voice, rows in sorted(by_voice.items())[: args.max_voices]:
        first = rows[0]["language"]
        refs = [r for r in rows if r["language"] == first][: args.references]
        references[voice] = [args.corpus / r["audio"] for r in refs]
        # As `vclone synthesize --speaker ref.wav` does: with the long-term spectrum in the voice's mel convention.
        audio = synth.voice.vocab.audio if args.timbre == "reference" else None
        embedding = embed_references(references[voice], encoder, speaker=voice, audio=audio)[0]
        if args.register == "predicted":
            embedding = replace(embedding, register=None)
        for row in rows:
            if row in refs or row["language"] not in languages:
                continue
            out = synth(row["text"], language=row["language"], speaker=embedding, seed=0)
            rtfs.append(out.rtf)
            truth = args.corpus / row["audio"]
            ground = load_audio(truth, sample_rate=out.sample_rate)
            english = row["language"].startswith("en") and recognizer is not None
            metrics = evaluate_pair(out.wav, ground, sample_rate=out.sample_rate, text=row["text"] if english else None,
                                    recognizer=recognizer if english else None)
            condition = "same-language" if row["language"] == first else "cross-language"
            clips.append({"speaker": voice, "language": row["language"], "condition": condition, "wav": out.wav,
                          "rate": out.sample_rate, "truth": truth})
            pairs.append((condition, metrics))
        print(f"  {voice}: reference {first}, {sum(1 for c in clips if c['speaker'] == voice)} clips", flush=True)
    report: dict = {"voice": str(args.voice), "register": args.register, "timbre": args.timbre, "encoders": {}, "rtf_median": statistics.median(rtfs)}
    for spec in [own, *args.judge]:
        enc = encoder if spec == own else load_encoder(spec)
        report["encoders"][spec] = _score(enc, clips, args.corpus, train_rows, references, args.per_train)
    for condition in ("same-language", "cross-language"):
        chosen = [m for c, m in pairs if c == condition]
        if not chosen:
            continue
        edits = [(m.synth_wer_edits, m.synth_wer_words, m.ref_wer_edits, m.ref_wer_words) for m in chosen if getattr(m, "synth_wer_words", None)]
        f0 = [m for m in chosen if m.f0_corr is not None and m.f0_rmse_hz is not None]
        report[condition] = {
            "mcd_db_median": statistics.median(m.mcd_db for m in chosen),
            "f0_rmse_hz_median": statistics.median(m.f0_rmse_hz for m in f0) if f0 else None,
            "f0_corr_median": statistics.median(m.f0_corr for m in f0) if f0 else None,
            "f0_clips": len(f0),
            "wer": sum(e[0] for e in edits) / max(1, sum(e[1] for e in edits)) if edits else None,
            "truth_wer": sum(e[2] for e in edits) / max(1, sum(e[3] for e in edits)) if edits else None,
            "english_clips": len(edits),
        }
    print(f"\nvoice {args.voice}; zero-shot on {len(by_voice)} held-out Kokoro voices; RTF median {report['rtf_median']:.3f}")
    for spec, block in report["encoders"].items():
        for condition, s in block.items():
            print(f"{spec:18} {condition:15} clips {s['clips']:3d} ({s['speakers']} voices)  cosine to own truth {s['cosine_to_own_truth']:.3f}"
                  f"  top-1 {s['top1']:.0%} of {s['candidates']}  (truth vs reference {s['truth_cosine_to_reference']:.3f})")
    for condition in ("same-language", "cross-language"):
        if condition in report:
            r = report[condition]
            wer = "n/a" if r["wer"] is None else f"{r['wer']:.2f} vs truth {r['truth_wer']:.2f} ({r['english_clips']} English clips)"
            f0 = "n/a" if r["f0_corr_median"] is None else f"F0 RMSE {r['f0_rmse_hz_median']:.1f} Hz, corr {r['f0_corr_median']:.2f} ({r['f0_clips']} clips)"
            print(f"{condition:15} MCD {r['mcd_db_median']:.2f} dB (median)  {f0}  WER {wer}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
