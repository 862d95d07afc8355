"""The toy medium's app side in :mod:`app.registry`: a tab in the window and a CLI verb."""

from __future__ import annotations

from app.registry import AppMediumSpec, register_app_medium, unregister_app_medium
from tests.toy_medium import spec

SPEC = AppMediumSpec(
    key="tokens",
    editor="tests.toy_medium.editor:TokenGridEditor",
    commands="tests.toy_medium.cli:COMMANDS",
)


def register() -> None:
    """Register both layers of the toy medium (the engine side first)."""
    spec.register()
    register_app_medium(SPEC)


def unregister() -> None:
    """Take the app side away again (the engine side stays: the tiny models need it)."""
    unregister_app_medium(SPEC.key)
