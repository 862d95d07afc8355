"""The MIDI document in a project file: the score as a ``.mid`` member, the repaint mask, history.

Scores are immutable, so the history's older scores are stored the same way,
each once (``scores/<n>.mid``), and read back through the same checks as a
file the user opens. Kept variations (:mod:`engine.project_variations`) are
whole scores too (``variations/<n>.mid``), with the repainted cells
(``variations/cells.npy``) that their preview and thumbnails outline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from engine.media.midi import N_VOICES, Score
from engine.media.midi.document import RollDocument
from engine.media.midi.files import MidiError, read_score
from engine.project_history import ProjectError, ProjectReader, ProjectWriter
from engine.project_variations import KeptVariations, member_name

__all__ = [
    "MidiVariations",
    "decode_object",
    "encode_object",
    "load_document",
    "load_variations",
    "save_document",
    "save_variations",
]

MidiVariations = KeptVariations[Score, npt.NDArray[np.bool_]]
"""Whole-score variations and the cell mask [voices, steps] they were generated for."""

SCORE = "document.mid"
MASK = "mask.npy"
CELLS = "variations/cells.npy"
MAX_STEPS = 1 << 22
"""Longest cell mask accepted: far past any score the grid limits let open."""


def save_document(document: RollDocument, out: ProjectWriter) -> None:
    out.meta["parts"] = document.parts
    out.add_deferred(SCORE, document.score.to_bytes)  # immutable: safe on any thread
    out.add_array(MASK, document.mask)
    out.write_history(document.history)


def load_document(source: ProjectReader) -> RollDocument:
    score = read_score(source.bytes(SCORE), f"{source.name}: {SCORE}")
    parts = source.meta.get("parts")
    if parts is not None and not (
        isinstance(parts, list) and all(isinstance(part, str) for part in parts)
    ):
        raise source.error("the chosen parts are not a list of names")
    document = RollDocument(score, parts)
    mask = source.array(MASK)
    if mask.dtype != np.bool_ or mask.shape != (N_VOICES, document.n_steps):
        raise source.error(f"the mask ({mask.shape}) does not fit the score")
    document.set_mask(mask)
    source.restore_history(document.history)
    return document


def save_variations(kept: MidiVariations, out: ProjectWriter) -> dict[str, Any]:
    """Scores are immutable: their bytes are made on the writing thread."""
    out.add_array(CELLS, kept.context)
    for index, score in enumerate(kept.items):
        out.add_deferred(member_name(index, ".mid"), score.to_bytes)
    return {}


def load_variations(
    _record: dict[str, Any], count: int, shown: int, source: ProjectReader, _document: RollDocument
) -> MidiVariations:
    """Each score read with the checks of a file the user opens."""
    cells = source.array(CELLS)
    if cells.dtype != np.bool_ or cells.ndim != 2 or cells.shape[0] != N_VOICES:
        raise source.error(f"the variations' cells ({cells.shape}) are not a voice mask")
    if cells.shape[1] > MAX_STEPS:
        raise source.error(f"the variations' cells span {cells.shape[1]} steps, too many")
    scores = []
    for index in range(count):
        member = member_name(index, ".mid")
        try:
            scores.append(read_score(source.bytes(member), f"{source.name}: {member}"))
        except MidiError as exc:  # already "<project>: <member>: why"
            raise ProjectError(str(exc)) from None
    return KeptVariations(tuple(scores), cells, shown)


def encode_object(value: Any, out: ProjectWriter) -> dict[str, Any]:
    """An older score: its bytes as one more ``.mid`` member."""
    if not isinstance(value, Score):
        raise TypeError(f"a MIDI history holds no {type(value).__name__}")
    member = f"scores/{len(out.members)}.mid"
    out.add_deferred(member, value.to_bytes)
    return {"score": member}


def decode_object(record: dict[str, Any], source: ProjectReader) -> Score:
    member = record.get("score")
    if not isinstance(member, str) or not member.startswith("scores/"):
        raise source.error("a MIDI history value is not a score")
    return read_score(source.bytes(member), f"{source.name}: {member}")
