"""The MIDI medium's app side in :mod:`app.registry`: its editor and its batch verbs."""

from app.registry import AppMediumSpec

SPEC = AppMediumSpec(
    key="midi", editor="app.midi.editor:PianoRollEditor", commands="app.midi.cli:COMMANDS"
)
