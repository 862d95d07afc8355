"""The MIDI document in a project file: the score as a ``.mid`` member, the repaint mask, history.

Scores are immutable, so the history's older scores are stored the same way,
each once (``scores/<n>.mid``), and read back through the same checks as a
file the user opens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.media.midi import N_VOICES, Score
from engine.media.midi.document import RollDocument
from engine.media.midi.files import read_score
from engine.project_history import ProjectReader, ProjectWriter

__all__ = ["decode_object", "encode_object", "load_document", "save_document"]

SCORE = "document.mid"
MASK = "mask.npy"


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
