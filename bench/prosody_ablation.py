"""What pitch/energy modelling, the postnet and the flow-matching decoder buy: train variants of one
preset on the same data, steps and seed, then score each on sentences no training saw.

    python bench/prosody_ablation.py --corpus demo/polyglot-small --work /tmp/ablation \
        [--preset tiny] [--steps 1500] [--seed 0] [--variant baseline --variant pitch ...] [--flow-steps 4 --flow-steps 10]

The corpus is a built polyglot corpus (recipes/polyglot). Held out from training: the last
`--held-out` sentences of every speaker (same-language set); the cross-language set is its
cross_test.csv (training speakers in languages they never spoke). Each variant's voice reads both
sets with the training speaker's name and the default vocoder; every clip is compared with the real
recording: MCD and F0 RMSE / correlation over one DTW path (vclone.eval), and for English lines the
pocketsphinx WER of clip and recording (with the eval extra), and the acoustic model's real-time
factor (its seconds per second of audio). A flow variant is scored once per `--flow-steps` count
(default: the voice's own), as `flow@N`. Prints one row per variant and set (medians over clips,
WER pooled) and writes everything to WORK/ablation.json. Resumable: a finished preparation, run or
synthesis is reused.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch

from vclone.audio import AudioConfig, load_audio, save_wav
from vclone.data.features import FeatureSettings
from vclone.data.prepare import PrepareConfig, prepare_corpus
from vclone.eval.compare import evaluate_pair
from vclone.eval.wer import Recognizer, recognizer_available
from vclone.models.acoustic import build_acoustic_model
from vclone.models.voice import Voice, load_voice
from vclone.synth.synthesizer import Synthesizer
from vclone.train.config import ModelChoice, TrainConfig
from vclone.train.loop import train

VARIANTS = {
    "baseline": {"pitch_energy": False, "postnet_layers": 0},
    "pitch-conv": {"pitch_energy": True, "postnet_layers": 0, "pitch_embedding": "conv"},
    "pitch": {"pitch_energy": True, "postnet_layers": 0},
    "postnet": {"pitch_energy": False, "postnet_layers": 5},
    "pitch+postnet": {"postnet_layers": 5},
    "flow": {"pitch_energy": False, "postnet_layers": 0, "flow_decoder": True},
    "pitch+flow": {"postnet_layers": 0, "flow_decoder": True},
}
"""Overrides of the preset (whose own settings have pitch and energy, told through bucketed embeddings,
no postnet and no flow decoder)."""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "audio", "text", "speaker", "language"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in writer.fieldnames} for r in rows)
    return path


def split(corpus: Path, work: Path, *, held_out: int, cross_per_speaker: int) -> tuple[Path, list[dict], list[dict]]:
    """train.csv (absolute audio paths) and the two held-out lists."""
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for row in _rows(corpus / "metadata.csv"):
        row["audio"] = str((corpus / row["audio"]).resolve())
        by_speaker[row["speaker"]].append(row)
    train_rows, same = [], []
    for rows in by_speaker.values():
        cut = len(rows) - held_out if len(rows) > 4 * held_out else len(rows)
        train_rows += rows[:cut]
        same += rows[cut:]
    cross: list[dict] = []
    seen: dict[str, int] = defaultdict(int)
    for row in _rows(corpus / "cross_test.csv"):
        if seen[row["speaker"]] < cross_per_speaker and row["speaker"] in by_speaker:
            row["audio"] = str((corpus / row["audio"]).resolve())
            cross.append(row)
            seen[row["speaker"]] += 1
    work.mkdir(parents=True, exist_ok=True)
    return _write(work / "train.csv", train_rows), same, cross


def with_flow_steps(voice: Voice, flow_steps: int | None) -> Voice:
    """The voice sampling in `flow_steps` ODE steps (None, or a voice without a flow: as saved)."""
    if flow_steps is None or not voice.config.flow_decoder:
        return voice
    config = replace(voice.config, flow_steps=flow_steps)
    model = build_acoustic_model(config, voice.model.dims)
    model.load_state_dict(voice.model.state_dict())
    return replace(voice, config=config, model=model.eval())


def synth_and_score(voice: Voice, rows: list[dict], out: Path, recognizer: Recognizer | None) -> list[dict]:
    synth = Synthesizer(voice)
    sr = synth.voice.vocab.audio.sample_rate
    out.mkdir(parents=True, exist_ok=True)
    scores = []
    for row in rows:
        clip = out / f"{row['id']}.wav"
        acoustic_rtf = None
        if not clip.exists():
            result = synth(row["text"], language=row["language"], speaker=row["speaker"], seed=0)
            save_wav(clip, result.wav, sample_rate=sr)
            acoustic_rtf = result.acoustic_seconds / max(result.seconds, 1e-9)
        wav, ref = load_audio(clip, sample_rate=sr), load_audio(row["audio"], sample_rate=sr)
        english = row["language"].startswith("en")
        m = evaluate_pair(wav, ref, sample_rate=sr, text=row["text"] if english else None, recognizer=recognizer if english else None)
        scores.append({"id": row["id"], "speaker": row["speaker"], "language": row["language"], "mcd_db": m.mcd_db,
                       "f0_rmse_hz": m.f0_rmse_hz, "f0_corr": m.f0_corr,
                       "synth_wer_edits": getattr(m, "synth_wer_edits", None), "synth_wer_words": getattr(m, "synth_wer_words", None),
                       "ref_wer_edits": getattr(m, "ref_wer_edits", None), "ref_wer_words": getattr(m, "ref_wer_words", None),
                       "acoustic_rtf": acoustic_rtf})
    return scores


def _finished_steps(run: Path) -> int:
    """The last step logged by a run (0 when it has not started)."""
    log = run / "logs" / "train.csv"
    if not log.is_file():
        return 0
    last = log.read_text(encoding="utf-8").strip().splitlines()[-1].split(",")[0]
    return int(last) if last.isdigit() else 0


def summary(scores: list[dict]) -> dict:
    def med(key: str) -> float:
        values = [s[key] for s in scores if s[key] is not None and s[key] == s[key]]
        return statistics.median(values) if values else float("nan")

    def pooled(side: str) -> float:
        edits = sum(s[f"{side}_wer_edits"] or 0 for s in scores if s[f"{side}_wer_words"])
        words = sum(s[f"{side}_wer_words"] or 0 for s in scores if s[f"{side}_wer_words"])
        return edits / words if words else float("nan")

    return {"clips": len(scores), "mcd_db": med("mcd_db"), "f0_rmse_hz": med("f0_rmse_hz"), "f0_corr": med("f0_corr"),
            "wer": pooled("synth"), "ref_wer": pooled("ref"), "acoustic_rtf": med("acoustic_rtf")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out", type=int, default=2, help="last sentences of each speaker kept out of training")
    parser.add_argument("--cross-per-speaker", type=int, default=2)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), default=None)
    parser.add_argument("--flow-steps", type=int, action="append", default=None,
                        help="ODE steps a flow variant samples with (repeat to sweep; default: the voice's own)")
    args = parser.parse_args()
    variants = args.variant or list(VARIANTS)

    train_csv, same, cross = split(args.corpus, args.work, held_out=args.held_out, cross_per_speaker=args.cross_per_speaker)
    prepared = args.work / "prepared"
    start = time.perf_counter()
    prepare_corpus(PrepareConfig(corpus=train_csv, corpus_format="csv", out=prepared, features=FeatureSettings(audio=AudioConfig())))
    print(f"prepared {train_csv} in {time.perf_counter() - start:.0f} s; held out: {len(same)} same-language, {len(cross)} cross-language clips")
    recognizer = Recognizer() if recognizer_available() else None
    saved = args.work / "ablation.json"
    report: dict = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    if (report.get("preset"), report.get("steps"), report.get("seed")) != (args.preset, args.steps, args.seed):
        report = {"preset": args.preset, "steps": args.steps, "seed": args.seed, "variants": {}}
    for name in variants:
        run = args.work / "runs" / name
        start = time.perf_counter()
        if _finished_steps(run) >= args.steps and (run / "voice" / "voice.json").is_file():
            voice, seconds = run / "voice", report["variants"].get(name, {}).get("train_seconds", float("nan"))
        else:
            config = TrainConfig(data_dirs=(prepared,), out=run, max_steps=args.steps, seed=args.seed,
                                 model=ModelChoice(args.preset, VARIANTS[name]), resume=(run / "checkpoints").is_dir())
            voice, seconds = train(config).voice, time.perf_counter() - start
        flow = VARIANTS[name].get("flow_decoder", False)
        for steps in (args.flow_steps or [None]) if flow else [None]:
            label_name = name if steps is None else f"{name}@{steps}"
            loaded = with_flow_steps(load_voice(voice), steps)
            entry = {"train_seconds": round(seconds, 1), "overrides": VARIANTS[name], "flow_steps": loaded.config.flow_steps if flow else None}
            for label, rows in (("same", same), ("cross", cross)):
                scores = synth_and_score(loaded, rows, args.work / "clips" / label_name / label, recognizer)
                entry[label] = {"summary": summary(scores), "clips": scores}
            report["variants"][label_name] = entry
            (args.work / "ablation.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"{name}: trained {args.steps} steps in {seconds:.0f} s", file=sys.stderr)
    print(f"\n{args.preset}, {args.steps} steps, seed {args.seed}; medians over clips (WER pooled, English only)")
    print(f"{'variant':14} {'set':6} {'clips':>5} {'MCD dB':>7} {'F0 RMSE':>8} {'F0 corr':>8} {'WER':>6} {'ref WER':>8} {'ac. RTF':>8}")
    for name, entry in report["variants"].items():
        for label in ("same", "cross"):
            s = entry[label]["summary"]
            print(f"{name:14} {label:6} {s['clips']:5d} {s['mcd_db']:7.2f} {s['f0_rmse_hz']:8.1f} {s['f0_corr']:8.3f} {s['wer']:6.2f} {s['ref_wer']:8.2f} "
                  f"{s.get('acoustic_rtf', float('nan')):8.3f}")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
