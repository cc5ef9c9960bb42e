"""Shared fixtures: tiny corpora generated inside the tests, and thread settings put back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus_fixtures import write_csv, write_voiced


@pytest.fixture()
def tiny_csv_corpus(tmp_path: Path) -> Path:
    """Two speakers in two languages, four good clips."""
    root = tmp_path / "corpus"
    rows = [
        ("a1", "alice", "en-us", "The quick brown fox jumps over the lazy dog.", 1.2),
        ("a2", "alice", "en-us", "She sells 3 sea shells by the sea shore.", 1.0),
        ("b1", "bruno", "es", "El perro de San Roque no tiene rabo.", 1.1),
        ("b2", "bruno", "es", "¿Dónde está la biblioteca?", 0.9),
    ]
    table = []
    for utt_id, spk, lang, text, secs in rows:
        write_voiced(root / "wavs" / f"{utt_id}.wav", secs, f0=120 if spk == "bruno" else 200)
        table.append({"id": utt_id, "audio": f"wavs/{utt_id}.wav", "text": text, "speaker": spk, "language": lang})
    write_csv(root / "metadata.csv", table)
    return root


@pytest.fixture()
def restored_threads() -> Iterator[None]:
    """vclone's thread planning writes the OpenMP variables and torch's thread count of this process
    (the CLI's commands do too): put both back."""
    import torch

    saved = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """One torch thread for tiny models: they gain nothing from more, and on a busy machine torch's
    spinning threads make them many times slower. Modules opt in with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
