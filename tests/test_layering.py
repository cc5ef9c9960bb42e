"""Layers: the pipeline engine knows no model (importing any vclone.parallel module loads nothing of
vclone's models, training, data, synthesis, text or audio packages, issue 21), and the models know
no data pipeline, trainer, synthesizer or CLI (importing any vclone.models module loads none of them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vclone.models
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


MODELS = Path(vclone.models.__file__).parent
MODEL_FORBIDDEN = ("vclone.data", "vclone.train", "vclone.synth", "vclone.cli")
MODEL_MODULES = sorted(
    ".".join(("vclone", "models", *p.relative_to(MODELS).with_suffix("").parts)).removesuffix(".__init__")
    for p in MODELS.rglob("*.py")
)

_MODELS_PROBE = """
import importlib, json, sys
loaded_by = {}
for module in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(module)
    loaded_by[module] = sorted(set(sys.modules) - before)
print(json.dumps(loaded_by))
"""


def test_every_model_module_is_checked() -> None:
    assert {"vclone.models", "vclone.models.blocks", "vclone.models.voice", "vclone.models.acoustic.batch",
            "vclone.models.vocoder.pipeline", "vclone.models.speaker_encoder"} <= set(MODEL_MODULES)


def test_models_import_no_data_training_synthesis_or_cli() -> None:
    # Each model brings its own batch and vocabulary: vclone.data, training and synthesis build on the
    # models, never the other way round. One fresh interpreter imports every module in turn and blames
    # each forbidden module on the first import that loaded it.
    done = subprocess.run([sys.executable, "-c", _MODELS_PROBE, *MODEL_MODULES], capture_output=True, text=True, check=True, timeout=300)
    loaded_by = json.loads(done.stdout.strip().splitlines()[-1])
    leaked = {module: names for module, loaded in loaded_by.items()
              if (names := [n for n in loaded if n in MODEL_FORBIDDEN or n.startswith(tuple(f"{p}." for p in MODEL_FORBIDDEN))])}
    assert leaked == {}, f"models load {leaked}: a model must not depend on data, training, synthesis or the CLI"
