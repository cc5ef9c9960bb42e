"""Tests of the vocoder check's pure parts: held-out filtering, item choice, grouping and summary math."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # recipes/ is a folder of the repository, not an installed package

from recipes.polyglot.vocoder_check import (  # noqa: E402
    ItemResult,
    main,
    read_training_set,
    select_items,
    summarize,
)

ENGINES = {"espeak-m2": "espeak", "festival-en-kal": "festival", "real-ru-msu": "real"}


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "audio", "text", "speaker", "language"])
        for id_, text, speaker in rows:
            writer.writerow([id_, f"wavs/{speaker}/{id_}.wav", text, speaker, "ru" if "ru" in speaker else "en-us"])


def _row(id_: str, text: str, speaker: str) -> dict[str, str]:
    return {"id": id_, "audio": f"wavs/{speaker}/{id_}.wav", "text": text, "speaker": speaker, "language": "en-us"}


@pytest.fixture()
def training(tmp_path):
    _write_csv(tmp_path / "metadata.csv", [
        ("espeak-m2-0001", "Hello there, old friend.", "espeak-m2"),
        ("real-ru-msu-ru_0005", "Первая фраза.", "real-ru-msu"),
    ])
    return read_training_set(tmp_path / "metadata.csv", ENGINES)


def test_training_set_reads_texts_and_real_recordings(training):
    assert ("hello", "there", "old", "friend") in training.texts
    assert training.real_sources == {("real-ru-msu", "ru_0005")}


def test_seen_text_and_seen_real_recording_are_left_out(training, tmp_path):
    rows = {
        "train": [
            _row("espeak-m2-0001", "Brand new words here.", "espeak-m2"),  # same id as training, new text: kept
            _row("espeak-m2-0002", "hello THERE old friend!", "espeak-m2"),  # same words: seen
            _row("real-ru-msu-ru_0005", "Другой текст.", "real-ru-msu"),  # same source recording: seen
            _row("real-ru-msu-ru_0007", "Новая фраза.", "real-ru-msu"),
        ],
        "cross": [],
    }
    items, excluded = select_items(rows, ENGINES, training, per_speaker=5, root=tmp_path)
    assert [i.id for i in items] == ["espeak-m2-0001", "real-ru-msu-ru_0007"]
    assert set(excluded) == {"espeak-m2-0002", "real-ru-msu-ru_0005"}
    assert "source recording" in excluded["real-ru-msu-ru_0005"]
    assert items[0].audio == tmp_path / "wavs/espeak-m2/espeak-m2-0001.wav"
    assert items[1].engine == "real"


def test_per_speaker_choice_alternates_splits_and_is_capped(training, tmp_path):
    rows = {
        "train": [_row(f"espeak-m2-000{k}", f"train sentence {k}", "espeak-m2") for k in (3, 4, 5)],
        "cross": [_row(f"espeak-m2-x-de-000{k}", f"cross sentence {k}", "espeak-m2") for k in (1, 2)],
    }
    items, _ = select_items(rows, ENGINES, training, per_speaker=3, root=tmp_path)
    assert [(i.id, i.split) for i in items] == [
        ("espeak-m2-0003", "train"), ("espeak-m2-x-de-0001", "cross"), ("espeak-m2-0004", "train")]
    again, _ = select_items(rows, ENGINES, training, per_speaker=3, root=tmp_path)
    assert again == items


def _result(vocoder, engine, *, mcd, cos, audio_s, vocode_s, wer=None):
    english = {} if wer is None else {"wer_edits": wer[0], "wer_words": wer[1], "original_edits": wer[2]}
    return ItemResult(vocoder=vocoder, id=f"{vocoder}-{engine}-{mcd}", speaker="s", engine=engine, language="en-us",
                      audio_s=audio_s, vocode_s=vocode_s, mcd_db=mcd, cosine=cos, stft_distance=mcd / 10, **english)


def test_summary_groups_in_engine_order_with_pooled_wer_and_rtf():
    results = [
        _result("gl", "real", mcd=1.0, cos=0.9, audio_s=4.0, vocode_s=0.4),
        _result("gl", "espeak", mcd=2.0, cos=0.8, audio_s=2.0, vocode_s=0.2, wer=(1, 4, 0)),
        _result("gl", "espeak", mcd=4.0, cos=0.6, audio_s=2.0, vocode_s=0.6, wer=(3, 6, 2)),
        _result("hifi", "flite", mcd=3.0, cos=0.5, audio_s=1.0, vocode_s=0.5, wer=(0, 5, 1)),
    ]
    rows = summarize(results, ["hifi", "gl", "absent"])
    assert [(r.vocoder, r.group) for r in rows] == [
        ("hifi", "flite"), ("hifi", "all"), ("gl", "espeak"), ("gl", "real"), ("gl", "all")]
    espeak = rows[2]
    assert espeak.num_items == 2 and espeak.num_english == 2
    assert espeak.mcd_db == pytest.approx(3.0) and espeak.cosine == pytest.approx(0.7)
    assert espeak.wer == pytest.approx(4 / 10)  # pooled edits over pooled words, not a mean of rates
    assert espeak.original_wer == pytest.approx(2 / 10)
    assert espeak.rtf == pytest.approx(0.8 / 4.0)
    real, everything = rows[3], rows[4]
    assert real.wer is None and real.original_wer is None
    assert everything.num_items == 3 and everything.rtf == pytest.approx(1.2 / 8.0)
    assert everything.mcd_db == pytest.approx(7.0 / 3) and everything.wer == pytest.approx(0.4)


def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys):
    assert main(["--heldout", str(tmp_path / "missing"), "--train-corpus", str(tmp_path)]) == 2
    assert main(["--heldout", str(tmp_path), "--train-corpus", str(tmp_path), "--per-speaker", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "missing" in lines[0] and "--per-speaker" in lines[1]
