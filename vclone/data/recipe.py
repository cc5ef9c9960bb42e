"""Recipe files: a declarative TOML with [prepare] and [audio] tables -> preparation settings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vclone.audio import AudioConfig
from vclone.data.features import FeatureSettings
from vclone.errors import ConfigError

__all__ = ["Recipe", "load_recipe"]

_PREPARE_KEYS = {"format", "language", "speaker", "workers", "encoding", "min_duration_s", "max_duration_s", "trim_silence", "normalize_loudness"}


@dataclass(frozen=True)
class Recipe:
    """Defaults for `vclone prepare` read from a recipe file; command-line options override them."""

    prepare: dict[str, Any]
    """Keys of the [prepare] table (format, language, speaker, workers, durations, trim/normalize)."""
    audio: AudioConfig
    """The [audio] table over vclone's defaults."""

    def feature_settings(self, **overrides: Any) -> FeatureSettings:
        """FeatureSettings from the recipe, with non-None overrides applied."""
        names = {f.name for f in fields(FeatureSettings)} - {"audio"}
        values = {k: v for k, v in self.prepare.items() if k in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return FeatureSettings(audio=self.audio, **values)


def load_recipe(path: Path | None) -> Recipe:
    """Read a recipe TOML; None gives vclone's defaults."""
    if path is None:
        return Recipe(prepare={}, audio=AudioConfig())
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"recipe {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"recipe {path} is a folder; pass the recipe's .toml file") from None
    except OSError as err:
        raise ConfigError(f"cannot read recipe {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"recipe {path} is not valid TOML: {err}") from None
    unknown_tables = set(data) - {"prepare", "audio", "recipe"}
    if unknown_tables:
        raise ConfigError(f"recipe {path} has unknown tables {sorted(unknown_tables)}; allowed: recipe, prepare, audio")
    prepare = dict(data.get("prepare", {}))
    unknown = set(prepare) - _PREPARE_KEYS
    if unknown:
        raise ConfigError(f"recipe {path} [prepare] has unknown keys {sorted(unknown)}; allowed: {sorted(_PREPARE_KEYS)}")
    audio = AudioConfig.from_dict({**AudioConfig().to_dict(), **data.get("audio", {})})
    return Recipe(prepare=prepare, audio=audio)
