"""`vclone evaluate`: synthesized clips against reference recordings -> speaker cosine, MCD, F0, WER table (+ JSON, plots)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads

if TYPE_CHECKING:
    from vclone.eval.batch import EvaluatedPair
    from vclone.eval.wer import Recognizer
    from vclone.models.speaker_encoder import SpeakerEncoder

__all__ = ["evaluate", "register"]


def _load_encoder(spec: str) -> SpeakerEncoder:
    # Imported here: the encoder's code and weights are only needed with --encoder.
    from vclone.models.speaker_encoder import load_encoder

    return load_encoder(spec)


def _recognizer(wanted: bool, console: Console) -> Recognizer | None:
    from vclone.eval.wer import Recognizer, recognizer_available

    if not wanted:
        return None
    if not recognizer_available():
        console.print("note: pocketsphinx is not installed, so WER is left out; pip install -e '.[eval]' adds it")
        return None
    return Recognizer()


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _table(results: list[EvaluatedPair], *, encoder: SpeakerEncoder | None, with_wer: bool) -> Table:
    from vclone.eval.compare import metrics_to_json, summarize

    caption = "mean row: WER pooled over all words (total edits / total words)" if with_wer else None
    table = Table(title=f"{len(results)} pair{'s' if len(results) != 1 else ''}", caption=caption)
    table.add_column("synth vs reference")
    if encoder is not None:
        table.add_column(f"cosine ({escape(encoder.name)})", justify="right")
    for name in ("MCD dB", "F0 RMSE Hz", "F0 corr", "V/UV err"):
        table.add_column(name, justify="right")
    if with_wer:
        table.add_column("WER synth", justify="right")
        table.add_column("WER ref", justify="right")

    def row(label: str, m: dict[str, Any], synth_wer: float | None, ref_wer: float | None, **style: Any) -> None:
        cells = [label]
        if encoder is not None:
            cells.append(_cell(m["speaker_cosine"], ".3f"))
        cells += [_cell(m["mcd_db"], ".2f"), _cell(m["f0_rmse_hz"], ".1f"), _cell(m["f0_corr"], ".3f"), _cell(m["vuv_error"], ".1%")]
        if with_wer:
            cells += [_cell(synth_wer, ".1%"), _cell(ref_wer, ".1%")]
        table.add_row(*cells, **style)

    for r in results:
        m = metrics_to_json(r.metrics)
        same = r.pair.synth.name == r.pair.reference.name
        label = escape(r.pair.synth.name if same else f"{r.pair.synth.name} vs {r.pair.reference.name}")
        row(label, m, m["synth_wer"], m["ref_wer"])
    summary = summarize([r.metrics for r in results])
    table.add_section()
    row("mean", summary["mean"], summary["pooled_wer"]["synth"], summary["pooled_wer"]["ref"], style="bold")
    return table


@reports_user_errors
def evaluate(
    synths: list[Path] = typer.Argument(..., metavar="SYNTH", help="Synthesized WAVs (pair in order with --reference), or one folder (pair by file name)."),
    references: list[Path] = typer.Option(..., "--reference", "-r", metavar="REF", help="Reference recording per SYNTH (repeat the option), or one folder."),
    text: Optional[str] = typer.Option(None, "--text", metavar="TEXT", help="What every clip says (English), for WER with pocketsphinx."),
    texts: Optional[Path] = typer.Option(None, "--texts", metavar="FILE", help="UTF-8 file with what each pair says, one line per pair in pair order."),
    encoder: Optional[str] = typer.Option(None, "--encoder", metavar="NAME_OR_PATH", help="Speaker encoder for the cosine column: 'resemblyzer' or a path."),
    json_out: Optional[Path] = typer.Option(None, "--json", metavar="FILE", help="Also write every metric, the summary and the settings as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="DIR", help="Folder for one PNG per pair: both log-mels along the DTW path and both F0 tracks."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Measure synthesized clips against reference recordings of the target voice.

    Per pair: speaker similarity (cosine of speaker embeddings, with --encoder), mel-cepstral distortion
    and F0 RMSE / correlation / voicing error over one DTW alignment of the non-silent frames, and with
    --text or --texts the word error rate of pocketsphinx on the clip beside its WER on the reference.
    """
    applied = configure_threads(threads)  # before the imports below load torch
    from vclone.audio.config import AudioConfig
    from vclone.eval.batch import build_report, evaluate_files, pair_files, texts_for_pairs, write_report

    console = Console(quiet=quiet, highlight=False)
    sample_rate = AudioConfig().sample_rate
    pairing = pair_files(synths, references)
    pair_texts = texts_for_pairs(len(pairing.pairs), text=text, texts_file=texts)
    speaker_encoder = _load_encoder(encoder) if encoder is not None else None
    recognizer = _recognizer(any(t is not None for t in pair_texts), console)
    for side, names in (("SYNTH", pairing.unpaired_synth), ("--reference", pairing.unpaired_reference)):
        if names:
            console.print(f"no partner for {len(names)} {side} file(s): {escape(', '.join(names))}")
    results = evaluate_files(
        pairing.pairs, sample_rate=sample_rate, texts=pair_texts, encoder=speaker_encoder, recognizer=recognizer, plot_dir=plot
    )
    say_threads(applied, quiet=quiet)
    console.print(_table(results, encoder=speaker_encoder, with_wer=recognizer is not None))
    if json_out is not None:
        settings = {
            "synths": [str(p) for p in synths],
            "references": [str(p) for p in references],
            "text": text,
            "texts": None if texts is None else str(texts),
            "encoder": encoder,
            "sample_rate": sample_rate,
            "plot": None if plot is None else str(plot),
        }
        recognizer_name = None if recognizer is None else recognizer.name
        write_report(json_out, build_report(results, pairing=pairing, settings=settings, encoder=speaker_encoder, recognizer=recognizer_name))
        console.print(f"wrote {escape(str(json_out))}")


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="evaluate")(evaluate)
