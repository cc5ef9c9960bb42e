"""The pipeline engine knows no model: importing any vclone.parallel module loads nothing of
vclone's models, training, data, synthesis, text or audio packages (issue 21)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vclone.parallel

ENGINE = Path(vclone.parallel.__file__).parent
FORBIDDEN = ("vclone.models", "vclone.train", "vclone.data", "vclone.synth", "vclone.text", "vclone.audio")
MODULES = sorted(f"vclone.parallel.{p.stem}" for p in ENGINE.glob("*.py") if p.stem != "__init__")

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def test_every_engine_module_is_checked() -> None:
    # A glob that found nothing would make the check below vacuous.
    assert {"vclone.parallel.runner", "vclone.parallel.profile", "vclone.parallel.measure", "vclone.parallel.stage"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_engine_module_imports_no_model_or_trainer(module: str) -> None:
    # A fresh interpreter: this test process has long since imported everything.
    done = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, check=True, timeout=120)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert module in loaded
    leaked = [name for name in loaded if name in FORBIDDEN or name.startswith(tuple(f"{p}." for p in FORBIDDEN))]
    assert leaked == [], f"{module} loads {leaked[:5]}: the engine must not depend on them"
