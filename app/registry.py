"""The app side of each medium: its editor and its CLI commands, named once.

The media and their order come from :mod:`engine.media.registry`; this adds
what the window and the ``remask`` command need. A built-in medium ``<key>``
keeps its :class:`AppMediumSpec` in ``app/<key>/spec.py`` as ``SPEC``; a
medium from outside the package calls :func:`register_app_medium` after
:func:`engine.media.registry.register_medium`. Editors and commands are named
as ``"module:attribute"`` strings, so this module (and ``remask --help``)
loads no Qt, and packaging can list the modules without importing them.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass

from engine.media import registry as engine_registry

__all__ = [
    "AppMediumSpec",
    "app_media",
    "builtin_spec_module",
    "app_medium",
    "imported_by_name",
    "medium_label",
    "medium_title",
    "register_app_medium",
    "resolve",
    "unregister_app_medium",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppMediumSpec:
    """What the window and the command line need of a medium (see the module docstring)."""

    key: str
    """The engine medium this serves (a key of :mod:`engine.media.registry`)."""
    editor: str
    """``"module:Class"`` of its :class:`app.editor_base.MediumEditor`; imported with Qt."""
    commands: str = ""
    """``"module:ATTRIBUTE"`` of a sequence of :class:`app.cli.Command` (its batch verbs)."""

    def modules(self) -> tuple[str, ...]:
        """The modules this spec names (imported through importlib, never by a plain import)."""
        return tuple(ref.partition(":")[0] for ref in (self.editor, self.commands) if ref)


_lock = threading.RLock()
_builtins: dict[str, AppMediumSpec] | None = None
_registered: dict[str, AppMediumSpec] = {}


def builtin_spec_module(key: str) -> str:
    return f"app.{key}.spec"


def _load_builtin(key: str) -> AppMediumSpec | None:
    """A built-in medium's app spec; one that fails to import is logged and left out."""
    name = builtin_spec_module(key)
    try:
        spec = importlib.import_module(name).SPEC
    except Exception:  # noqa: BLE001 - one broken medium must not take the others down
        _log.exception("the app side of medium %r not loaded (%s failed to import)", key, name)
        return None
    if not isinstance(spec, AppMediumSpec) or spec.key != key:
        _log.error("%s.SPEC is not the AppMediumSpec of %r", name, key)
        return None
    return spec


def _builtin_specs() -> dict[str, AppMediumSpec]:
    global _builtins
    with _lock:
        if _builtins is None:
            keys = [spec.key for spec in engine_registry.media()]
            loaded = {k: _load_builtin(k) for k in keys if k in engine_registry.BUILTIN_MEDIA}
            _builtins = {key: spec for key, spec in loaded.items() if spec is not None}
        return _builtins


def register_app_medium(spec: AppMediumSpec) -> None:
    """Add the app side of a medium registered with ``register_medium`` (a plug-in, a test)."""
    with _lock:
        engine_registry.medium(spec.key)  # KeyError: register the engine side first
        taken = _builtin_specs().get(spec.key) or _registered.get(spec.key)
        if taken is not None and taken is not spec:
            raise ValueError(f"the app side of medium {spec.key!r} is already registered")
        _registered[spec.key] = spec


def unregister_app_medium(key: str) -> None:
    """Forget a spec added with :func:`register_app_medium` (built-ins stay)."""
    with _lock:
        _registered.pop(key, None)


def app_media() -> tuple[AppMediumSpec, ...]:
    """The app side of every medium that has one, in the engine registry's tab order."""
    with _lock:
        found = {**_builtin_specs(), **_registered}
        return tuple(found[s.key] for s in engine_registry.media() if s.key in found)


def app_medium(key: str) -> AppMediumSpec | None:
    return next((spec for spec in app_media() if spec.key == key), None)


def medium_title(key: str) -> str:
    """Tab and dialog title of a medium (``"MIDI"``); the key itself for an unknown one."""
    try:
        return engine_registry.medium(key).title
    except KeyError:
        return key


def medium_label(key: str) -> str:
    """How a sentence names a medium (``"no MIDI model"``, ``"no image model"``)."""
    try:
        return engine_registry.medium(key).label
    except KeyError:
        return key


def resolve(reference: str) -> object:
    """The attribute a ``"module:attribute"`` reference names (ImportError, AttributeError)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def imported_by_name() -> list[str]:
    """Every medium module remask imports through importlib, for PyInstaller's hidden imports.

    The spec modules of both layers, then each built-in medium's editor and command modules,
    then its project module (``MediumSpec.project``).
    """
    keys = engine_registry.BUILTIN_MEDIA
    specs = [engine_registry.builtin_spec_module(key) for key in keys]
    specs += [builtin_spec_module(key) for key in keys]
    named = [module for spec in _builtin_specs().values() for module in spec.modules()]
    projects = [s.project for s in engine_registry.media() if s.key in keys and s.project]
    return [*specs, *named, *projects]
