"""The MIDI medium's entry in :mod:`engine.media.registry`.

Importing it runs the ``engine.media.midi`` facade, which loads only numpy and
mido; nothing else of the medium loads until :func:`open_document` or
:func:`codec` is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.media.registry import MediumSpec

if TYPE_CHECKING:
    from engine.jobs import Codec
    from engine.manifest import ModelManifest
    from engine.media.midi.files import Score


def open_document(path: Path) -> Score:
    """The score; the piano roll maps its parts onto voices (asking when there are many)."""
    from engine.media.midi.files import load_score

    return load_score(path)


def codec(manifest: ModelManifest) -> Codec:
    from engine.media.midi.repaint import MidiCodec

    return MidiCodec.from_manifest(manifest)


def check_model(manifest: ModelManifest) -> None:
    """Whether the MIDI codec can use a model found on disk (see ``model_check``)."""
    from engine.media.midi.model_check import check_model as check

    check(manifest)


SPEC = MediumSpec(
    key="midi",
    title="MIDI",
    label="MIDI",
    extensions=(".mid", ".midi"),
    blurb="Mark bars or voices of a piece and let the model rewrite them.",
    open_document=open_document,
    codec=codec,
    check_model=check_model,
    project="engine.media.midi.project",
)
