"""The image medium's app side in :mod:`app.registry`: its editor and its batch verbs."""

from app.registry import AppMediumSpec

SPEC = AppMediumSpec(
    key="image", editor="app.image.editor:ImageEditor", commands="app.image.cli:COMMANDS"
)
