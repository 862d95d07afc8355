"""The media remask knows: one :class:`MediumSpec` per medium, in tab order.

Every list of media (model validation, the window's tabs and welcome pages,
the CLI verbs, the bundle's hidden imports, the training subcommands) is
derived from here, so adding a medium is one folder per layer plus one line
in :data:`BUILTIN_MEDIA` (or one :func:`register_medium` call from outside
the package, as the test suite's toy medium does)::

    from engine.media.registry import media, medium, medium_keys

    for spec in media():          # built-ins in tab order, then registered ones
        print(spec.key, spec.title, spec.extensions)
    medium("midi").label          # "MIDI": how a sentence names it
    medium_keys()                 # ("image", "midi", "motion", ...)

A built-in medium ``<key>`` keeps its spec in ``engine/media/<key>/spec.py``
as ``SPEC``. Spec modules are imported on the first query, not when this
module is, and each on its own: one that fails to import is logged and left
out, and the others still load. This module imports no medium itself, so
``engine.models`` can validate against it without an import cycle.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.jobs import Codec
    from engine.manifest import ModelManifest

__all__ = [
    "BUILTIN_MEDIA",
    "MediumSpec",
    "builtin_spec_module",
    "media",
    "medium",
    "medium_keys",
    "register_medium",
    "unregister_medium",
]

_log = logging.getLogger(__name__)

BUILTIN_MEDIA: tuple[str, ...] = ("image", "midi", "motion")
"""The media shipped with remask, in tab order: each is the package ``engine.media.<key>``."""


@dataclass(frozen=True)
class MediumSpec:
    """What the rest of remask needs to know about one medium, without importing it.

    ``open_document`` and ``codec`` import the medium's modules only when called,
    so listing media stays cheap (``remask --help`` must not load every codec).
    """

    key: str
    """The manifest's ``medium`` value and the medium's package name: ``"midi"``."""
    title: str
    """Tab and dialog title: ``"MIDI"``."""
    extensions: tuple[str, ...]
    """Lower-case file extensions, with the dot, the medium opens: ``(".mid", ".midi")``."""
    blurb: str
    """One sentence for the welcome page: what an edit of this medium does."""
    open_document: Callable[[Path], object] = field(compare=False)
    """Reads a file into the medium's engine object (its document, or for MIDI the score);
    raises with a one-line message on bad input."""
    codec: Callable[[ModelManifest], Codec] = field(compare=False)
    """The medium's :class:`~engine.jobs.MediumCodec` or ``WindowedCodec`` for a model."""
    label: str = ""
    """How a sentence names the medium (``"no MIDI model installed"``); defaults to ``key``."""
    project: str = ""
    """The module that saves and reads its documents in project files (``.remask``), by name so
    listing media imports none; see :class:`engine.project.MediumProject`. "" for none."""
    check_model: Callable[[ModelManifest], None] | None = field(default=None, compare=False)
    """Raises ValueError (one line) when a model found on disk could not be used by this
    medium's codec: its facts, extra files and graphs' inputs and outputs. Run once, when the
    model is found, so a broken model is reported then and never offered (None: no check)."""

    def __post_init__(self) -> None:
        if not self.key.isidentifier() or self.key != self.key.lower():
            raise ValueError(f"medium key {self.key!r} must be a lower-case identifier")
        bad = [ext for ext in self.extensions if not ext.startswith(".") or ext != ext.lower()]
        if bad:
            raise ValueError(f"medium {self.key!r}: extensions must be '.lower', got {bad}")
        if not self.label:
            object.__setattr__(self, "label", self.key)


_lock = threading.RLock()
_builtins: dict[str, MediumSpec] | None = None
_registered: dict[str, MediumSpec] = {}


def builtin_spec_module(key: str) -> str:
    """The module holding a built-in medium's ``SPEC`` (also a hidden import of the bundle)."""
    return f"engine.media.{key}.spec"


def _load_builtin(key: str) -> MediumSpec | None:
    """One built-in spec; a medium that fails to import is logged and left out."""
    name = builtin_spec_module(key)
    try:
        spec = importlib.import_module(name).SPEC
    except Exception:  # noqa: BLE001 - one broken medium must not take the others down
        _log.exception("medium %r not loaded (%s failed to import)", key, name)
        return None
    if not isinstance(spec, MediumSpec) or spec.key != key:
        _log.error("%s.SPEC is not the MediumSpec of %r", name, key)
        return None
    return spec


def _builtin_specs() -> dict[str, MediumSpec]:
    global _builtins
    with _lock:
        if _builtins is None:
            loaded = {key: _load_builtin(key) for key in BUILTIN_MEDIA}
            _builtins = {key: spec for key, spec in loaded.items() if spec is not None}
        return _builtins


def register_medium(spec: MediumSpec) -> None:
    """Add a medium from outside the package (a plug-in, a test); it follows the built-ins.

    Registering the same spec again is a no-op; another spec under a taken key is an error.
    """
    with _lock:
        taken = _builtin_specs().get(spec.key) or _registered.get(spec.key)
        if taken is not None and taken is not spec:
            raise ValueError(f"a medium called {spec.key!r} is already registered")
        _registered[spec.key] = spec


def unregister_medium(key: str) -> None:
    """Forget a medium added with :func:`register_medium` (built-ins stay)."""
    with _lock:
        _registered.pop(key, None)


def media() -> tuple[MediumSpec, ...]:
    """Every medium, in tab order: the built-ins, then registered ones in registration order."""
    with _lock:
        return (*_builtin_specs().values(), *_registered.values())


def medium_keys() -> tuple[str, ...]:
    """The keys of :func:`media`: the manifest ``medium`` values remask accepts."""
    return tuple(spec.key for spec in media())


def medium(key: str) -> MediumSpec:
    """The spec of ``key``; KeyError names the known media."""
    for spec in media():
        if spec.key == key:
            return spec
    raise KeyError(f"no medium called {key!r} (known: {', '.join(medium_keys()) or 'none'})")
