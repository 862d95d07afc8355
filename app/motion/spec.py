"""The motion medium's app side in :mod:`app.registry`: its editor and its batch verbs."""

from app.registry import AppMediumSpec

SPEC = AppMediumSpec(
    key="motion", editor="app.motion.editor:MotionEditor", commands="app.motion.cli:COMMANDS"
)
