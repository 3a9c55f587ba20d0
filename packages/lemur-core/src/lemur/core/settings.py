"""User settings for Lemur itself: where data and caches live, which plugins to skip.

Read from the YAML file named by ``lemur --config FILE`` or ``$LEMUR_CONFIG``; without one,
the defaults apply. Environment variables fill the defaults (``LEMUR_DATA_DIR``,
``LEMUR_CACHE_DIR``); a value in the file wins over them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydantic

from lemur.core.config import ConfigModel, load_config


def _default_data_dir() -> Path:
    return Path(os.environ.get("LEMUR_DATA_DIR", Path.home() / ".cache" / "lemur" / "data"))


def _default_cache_dir() -> Path:
    return Path(os.environ.get("LEMUR_CACHE_DIR", Path.home() / ".cache" / "lemur"))


class Settings(ConfigModel):
    """Lemur's own settings."""

    data_dir: Path = pydantic.Field(
        default_factory=_default_data_dir,
        description="Where downloaded benchmark and corpus data is cached ($LEMUR_DATA_DIR).",
    )
    cache_dir: Path = pydantic.Field(
        default_factory=_default_cache_dir,
        description="Where model-call caches and built images are kept ($LEMUR_CACHE_DIR).",
    )
    disable_plugins: tuple[str, ...] = pydantic.Field(
        default=(),
        description="Entry-point names of plugins not to load (see `lemur plugins`).",
    )


def get_settings() -> Settings:
    """The settings of this process: read from ``$LEMUR_CONFIG`` if set, else the defaults.

    Raises:
        ConfigError: The file named by ``$LEMUR_CONFIG`` is missing or invalid.
    """
    path = os.environ.get("LEMUR_CONFIG")
    return load_config(path, Settings) if path else Settings()
