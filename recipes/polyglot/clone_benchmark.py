"""Cross-language cloning benchmark on the polyglot demo corpus's held-out cross-language set.

    python recipes/polyglot/clone_benchmark.py --voice RUN --corpus demo/polyglot-small [--encoder E] [--judge J] [--out clone.json]

The voice must be trained with a speaker encoder (`vclone train --speaker-encoder E`). For every
speaker with ground-truth recordings in languages it never spoke in training (cross_test.csv):
  1. its embedding is made from its own training recordings through the encoder (the cloning path:
     reference audio -> embedding -> voice, as `vclone embed-speaker` does);
  2. same-language: it reads sentences of its training language (texts other speakers recorded);
     cross-language: it reads the cross_test.csv sentences, whose ground truth it recorded outside training;
  3. speaker similarity: cosine (the encoder's embeddings) of each clip with the speaker's reference
     embedding; identification: the clip's nearest reference embedding among all training speakers;
     MCD (dB, DTW-aligned mel-cepstra c1-c24) and F0 RMSE of cross-language clips against the ground truth.
The ground-truth recordings get the same similarity and identification, as the ceiling.
--judge scores the same clips with a second encoder too: a voice trained with a speaker consistency
loss has learned to please its own encoder, so an encoder it never trained against is the fairer check.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import torch

from vclone.audio.io import load_audio
from vclone.eval.compare import evaluate_pair
from vclone.models.speaker_encoder import load_encoder
from vclone.models.speaker_encoder.reference import embed_references
from vclone.synth.synthesizer import Synthesizer


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _similarity_block(clips: list[tuple[str, torch.Tensor]], references: dict[str, torch.Tensor]) -> dict:
    names = sorted(references)
    matrix = torch.stack([references[n] for n in names])
    own, top1, confusions = [], [], Counter()
    for speaker, vector in clips:
        sims = matrix @ vector
        own.append(float(sims[names.index(speaker)]))
        nearest = names[int(sims.argmax())]
        top1.append(nearest == speaker)
        if nearest != speaker:
            confusions[f"{speaker} -> {nearest}"] += 1
    return {"items": len(own), "similarity": statistics.mean(own), "top1": sum(top1) / len(top1),
            "confusions": dict(confusions.most_common())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--encoder", default=None, help="speaker encoder (default: the one recorded in the voice's training info)")
    parser.add_argument("--references", type=int, default=5, help="training recordings per speaker in its reference embedding")
    parser.add_argument("--per-speaker", type=int, default=6, help="sentences per speaker and condition")
    parser.add_argument("--accent", choices=("target", "native"), default="target",
                        help="language id of cross-language clips: the text's (native pronunciation) or the speaker's own (its accent)")
    parser.add_argument("--vocoder", default=None, help="vocoder for the clones (default: the voice's own, hifigan-universal unless it names one)")
    parser.add_argument("--judge", default=None, help="a second speaker encoder that scores the same clips too (resemblyzer or a run of "
                        "--task speaker-encoder): an independent check for a voice trained against its own encoder's judgement")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    synth = Synthesizer.from_path(args.voice, vocoder=args.vocoder)
    spec = args.encoder or synth.voice.meta.get("training", {}).get("speaker_encoder")
    if not spec:
        raise SystemExit("error: the voice was not trained with --speaker-encoder; pass --encoder or train one that was")
    encoder = load_encoder(spec)
    train_rows, cross_rows = _rows(args.corpus / "metadata.csv"), _rows(args.corpus / "cross_test.csv")
    by_speaker: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in train_rows:
        by_speaker[row["speaker"]].append(row)
    sr = synth.voice.vocab.audio.sample_rate
    trained = set(synth.voice.vocab.speakers)
    same, cross, truth, pairs, rtfs = [], [], [], [], []
    cross_by_speaker: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in cross_rows:
        cross_by_speaker[row["speaker"]].append(row)
    for speaker, rows in sorted(cross_by_speaker.items()):
        own_language = by_speaker[speaker][0]["language"]
        same_texts = [r["text"] for r in train_rows if r["language"] == own_language and r["speaker"] != speaker][: args.per_speaker]
        embedding = embed_references([args.corpus / r["audio"] for r in by_speaker[speaker][: args.references]], encoder)[0]
        for text in same_texts:
            out = synth(text, language=own_language, speaker=embedding)
            same.append((speaker, _at(out.wav, out.sample_rate, sr)))
            rtfs.append(out.rtf)
        for row in rows[: args.per_speaker]:
            accent = own_language if args.accent == "native" else None
            out = synth(row["text"], language=row["language"], speaker=embedding, accent=accent)
            rtfs.append(out.rtf)
            cross.append((speaker, _at(out.wav, out.sample_rate, sr)))
            ground = load_audio(args.corpus / row["audio"], sample_rate=sr)
            truth.append((speaker, ground))
            pairs.append(evaluate_pair(cross[-1][1], ground, sample_rate=sr))
        print(f"  {speaker}: {own_language} -> {sorted({r['language'] for r in rows})}", flush=True)
    report = {"voice": str(args.voice), "accent": args.accent, "encoder": encoder.describe(), "rtf_median": statistics.median(rtfs)}
    report["groups"] = _score(encoder, by_speaker, args, trained, same, cross, truth, pairs, sr)
    if args.judge:
        judge = load_encoder(args.judge)
        report["judge"] = {"encoder": judge.describe(), "groups": _score(judge, by_speaker, args, trained, same, cross, truth, pairs, sr)}
    print(f"RTF (acoustic model + Griffin-Lim, median): {report['rtf_median']:.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _score(encoder, by_speaker: dict, args: argparse.Namespace, trained: set[str], same: list, cross: list, truth: list, pairs: list, rate: int) -> dict:
    """Similarity and identification blocks of the clips (speaker, waveform at `rate`) by `encoder`."""
    references = {}
    for speaker, rows in sorted(by_speaker.items()):
        references[speaker] = embed_references([args.corpus / r["audio"] for r in rows[: args.references]], encoder)[0].vector
    groups = {}

    def embedded(clips: list) -> list:
        return [(speaker, encoder.embed(_at(wav, rate, encoder.sample_rate))) for speaker, wav in clips]

    print(f"encoder {encoder.name} {encoder.version}; identification among {len(references)} corpus speakers")
    for group, keep in (("trained speakers", lambda s: s in trained), ("unseen speakers (zero-shot)", lambda s: s not in trained)):
        chosen = [i for i, (speaker, _) in enumerate(cross) if keep(speaker)]
        if not chosen:
            continue
        block = {
            "speakers": len({cross[i][0] for i in chosen}),
            "same_language": _similarity_block(embedded([c for c in same if keep(c[0])]), references),
            "cross_language": _similarity_block(embedded([cross[i] for i in chosen]), references),
            "ground_truth_cross": _similarity_block(embedded([truth[i] for i in chosen]), references),
            "mcd_db_median": statistics.median(pairs[i].mcd_db for i in chosen),
            "f0_rmse_hz_median": statistics.median(pairs[i].f0_rmse_hz for i in chosen if pairs[i].f0_rmse_hz is not None),
        }
        groups[group] = block
        print(f"{group}: {block['speakers']}")
        for key in ("same_language", "cross_language", "ground_truth_cross"):
            print(f"  {key:<19} n={block[key]['items']:3d}  similarity {block[key]['similarity']:.3f}  top-1 {block[key]['top1']:.0%}")
            if block[key]["confusions"]:
                print("    taken for another: " + ", ".join(f"{pair} x{n}" for pair, n in block[key]["confusions"].items()))
        print(f"  cross-language vs ground truth: MCD {block['mcd_db_median']:.2f} dB, F0 RMSE {block['f0_rmse_hz_median']:.1f} Hz (medians)")
    return groups


def _at(wav: torch.Tensor, rate: int, target: int) -> torch.Tensor:
    from vclone.audio.io import resample

    return resample(wav, rate, target)


if __name__ == "__main__":
    main()
