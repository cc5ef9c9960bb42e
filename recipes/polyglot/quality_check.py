"""Quality check of a trained voice on the polyglot demo corpus: intelligibility and cross-language identity.

    python recipes/polyglot/quality_check.py --voice RUN --corpus demo/polyglot-small \
        [--vocoder hifigan-universal --vocoder griffin-lim ...] [--out quality.json]

Needs the eval extra (`pip install -e ".[eval]"`: pocketsphinx with its en-us model, resemblyzer with its
pretrained GE2E speaker encoder; both ship their weights in the wheel, nothing is downloaded).

1. Intelligibility: English festival/flite training speakers read held-out English sentences (texts of
   cross_test.csv, never said by them); pocketsphinx transcribes the synthesized audio; word error rate
   against the text, beside the WER of the same recognizer on the speaker's own corpus recordings.
2. Cross-language identity: every speaker whose only training language is not English reads the
   English sentences of its ground-truth cross-language recordings. Speaker embedding: resemblyzer's
   GE2E d-vector, cosine similarity. For each clone: similarity to its own speaker's centroid (from
   its training recordings) vs. the best other speaker's, and its rank among all training speakers;
   the ground-truth English recordings get the same measurements as a reference.

Each `--vocoder` (a name from `vclone vocoders`, or a vocoder folder) gets both measurements, side by
side; without one, the voice's own default vocoder is used (hifigan-universal unless the voice names one).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from vclone.eval.wer import Recognizer, recognizer_available, word_error_rate
from vclone.errors import VcloneError
from vclone.synth.synthesizer import Synthesizer


class SpeakerEncoder:
    """resemblyzer's pretrained GE2E encoder; embeddings are L2-normalized d-vectors."""

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder("cpu", verbose=False)

    def __call__(self, wav: torch.Tensor, sample_rate: int) -> np.ndarray:
        from resemblyzer import preprocess_wav

        return self.encoder.embed_utterance(preprocess_wav(wav.numpy().astype(np.float32), source_sr=sample_rate))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _load(path: Path) -> tuple[torch.Tensor, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data.mean(axis=1)), sr


def _pooled(results: dict) -> dict:
    """Word error rate pooled over speakers (edits over words), and the median of the per-speaker rates."""
    words = sum(r["words"] for r in results.values())
    return {
        "pooled": sum(r["wer_synth"] * r["words"] for r in results.values()) / max(words, 1),
        "median": statistics.median(r["wer_synth"] for r in results.values()) if results else None,
        "recordings_median": statistics.median(r["wer_recordings"] for r in results.values()) if results else None,
    }


def intelligibility(synth: Synthesizer, corpus: Path, speakers: dict, texts: list[str], rec: Recognizer, limit: int) -> dict:
    train = _read_csv(corpus / "metadata.csv")
    english = [s for s, info in speakers.items() if info["engine"] in ("festival", "flite") and info["language"].startswith("en") and s in synth.voice.vocab.speakers]
    results = {}
    for spk in english:
        errors = words = ref_errors = ref_words = 0
        for text in texts[:limit]:
            out = synth(text, language=speakers[spk]["language"], speaker=spk, seed=0)
            e, n = word_error_rate(text, rec(out.wav, out.sample_rate))
            errors, words = errors + e, words + n
        for row in [r for r in train if r["speaker"] == spk][:limit]:
            wav, sr = _load(corpus / row["audio"])
            e, n = word_error_rate(row["text"], rec(wav, sr))
            ref_errors, ref_words = ref_errors + e, ref_words + n
        results[spk] = {"wer_synth": errors / max(words, 1), "wer_recordings": ref_errors / max(ref_words, 1), "words": words}
        print(f"  {spk:<18} WER synthesized {results[spk]['wer_synth']:.2f}   own recordings {results[spk]['wer_recordings']:.2f}")
    return results


def identity(synth: Synthesizer, corpus: Path, speakers: dict, enc: SpeakerEncoder, per_speaker: int,
             kinds: tuple[str, ...] = ("clone", "ground_truth")) -> dict:
    train = _read_csv(corpus / "metadata.csv")
    by_spk: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in train:
        by_spk[row["speaker"]].append(row)
    centroids = {}
    for spk, rows in by_spk.items():
        embs = [enc(*_load(corpus / r["audio"])) for r in rows[:per_speaker]]
        c = np.mean(embs, axis=0)
        centroids[spk] = c / np.linalg.norm(c)
    names = sorted(centroids)
    matrix = np.stack([centroids[n] for n in names])
    cross = [r for r in _read_csv(corpus / "cross_test.csv") if r["language"].startswith("en") and r["speaker"] in synth.voice.vocab.speakers]
    results: dict[str, dict] = {}
    for kind in kinds:
        own, best_other, top1 = [], [], []
        for row in cross:
            spk = row["speaker"]
            if kind == "clone":
                out = synth(row["text"], language=row["language"], speaker=spk, seed=0)
                emb = enc(out.wav, out.sample_rate)
            else:
                emb = enc(*_load(corpus / row["audio"]))
            sims = matrix @ emb
            own.append(float(sims[names.index(spk)]))
            best_other.append(float(max(s for n, s in zip(names, sims) if n != spk)))
            top1.append(names[int(np.argmax(sims))] == spk)
        results[kind] = {
            "items": len(own),
            "own_similarity": statistics.mean(own),
            "best_other_similarity": statistics.mean(best_other),
            "top1_identification": sum(top1) / max(len(top1), 1),
        }
        r = results[kind]
        print(f"  {kind:<13} n={r['items']:3d}  own {r['own_similarity']:.3f}  best other {r['best_other_similarity']:.3f}  top-1 {r['top1_identification']:.0%}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", type=Path, required=True, help="voice folder or training run")
    parser.add_argument("--corpus", type=Path, required=True, help="built polyglot corpus (with metadata.csv, cross_test.csv)")
    parser.add_argument("--sentences", type=int, default=10, help="English sentences per speaker for WER")
    parser.add_argument("--vocoder", action="append", default=None,
                        help="vocoder to measure (repeatable): griffin-lim, hifigan-universal or a vocoder folder")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    torch.manual_seed(0)
    for needed in (args.corpus / "metadata.csv", args.corpus / "cross_test.csv", args.corpus / "speakers.json"):
        if not needed.is_file():
            sys.exit(f"error: {needed} is missing; --corpus takes a folder built by recipes/polyglot/build.py")
    if not recognizer_available():
        sys.exit("error: pocketsphinx is missing; install the eval extra: pip install -e '.[eval]'")
    try:
        rec, enc = Recognizer(), SpeakerEncoder()
    except ImportError as err:
        sys.exit(f"error: {err.name} is missing; install the eval extra: pip install -e '.[eval]'")
    try:
        voice = Synthesizer.from_path(args.voice).voice
        synths = {name: Synthesizer(voice, vocoder=name) for name in args.vocoder} if args.vocoder else None
    except (VcloneError, OSError) as err:
        sys.exit(f"error: {err}")
    if synths is None:
        default = Synthesizer(voice)
        synths = {default.vocoder_name: default}
    speakers = json.loads((args.corpus / "speakers.json").read_text(encoding="utf-8"))
    texts = [r["text"] for r in _read_csv(args.corpus / "cross_test.csv") if r["language"].startswith("en")]
    report: dict = {"voice": str(args.voice), "vocoders": {}}
    ground_truth = None
    for name, synth in synths.items():
        print(f"vocoder {name}")
        print("intelligibility (pocketsphinx en-us, word error rate):")
        wer = intelligibility(synth, args.corpus, speakers, texts, rec, args.sentences)
        summary = _pooled(wer)
        print(f"  pooled WER {summary['pooled']:.2f}, median {summary['median']:.2f} (own recordings: median {summary['recordings_median']:.2f})")
        print("cross-language identity (resemblyzer GE2E cosine; English by speakers trained only in another language):")
        kinds = ("clone",) if ground_truth is not None else ("clone", "ground_truth")
        ident = identity(synth, args.corpus, speakers, enc, per_speaker=10, kinds=kinds)
        ground_truth = ident.pop("ground_truth", ground_truth)
        report["vocoders"][name] = {"wer": wer, "wer_summary": summary, "identity": ident}
    report["ground_truth_identity"] = ground_truth
    if args.out:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
