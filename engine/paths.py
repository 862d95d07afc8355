"""Where remask looks for models and keeps caches.

Kept in one place so the registry, the CLI and packaging (PyInstaller puts
``assets/`` beside the ``engine`` package) agree on the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

import engine

APP_NAME = "remask"
MODELS_PATH_ENV = "REMASK_MODELS_PATH"


def bundle_root() -> Path:
    """The repository root in a checkout, the bundle root in a frozen app."""
    return Path(engine.__file__).resolve().parent.parent


def bundled_models_dir() -> Path:
    """Models shipped with remask: ``<root>/assets/models``."""
    return bundle_root() / "assets" / "models"


def user_models_dir() -> Path:
    """Models the user added: ``<user data dir>/models`` (may not exist yet)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def env_models_dirs() -> list[Path]:
    """Folders listed in ``REMASK_MODELS_PATH`` (``os.pathsep``-separated, empty parts ignored)."""
    raw = os.environ.get(MODELS_PATH_ENV, "")
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


def user_cache_dir() -> Path:
    """Per-user cache (e.g. TensorRT engines), safe to delete at any time."""
    return Path(platformdirs.user_cache_dir(APP_NAME))
