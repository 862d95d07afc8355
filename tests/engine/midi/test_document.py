"""RollDocument without Qt: one undo scheme for note and mask edits, revision, one event type."""

from __future__ import annotations

import numpy as np

from engine.document import DocumentChanged
from engine.media.midi import read_score
from engine.media.midi.document import RollDocument
from tests.engine.midi.midi_files import chorale, midi_bytes


def document() -> RollDocument:
    return RollDocument(read_score(midi_bytes(chorale(1, bars=4))))


def kinds(roll: RollDocument) -> list[str]:
    seen: list[str] = []

    def note(event: DocumentChanged) -> None:
        seen.append(event.kind)

    roll.subscribe(note)
    return seen


def test_a_mask_drag_is_one_step_and_undo_returns_the_revision() -> None:
    roll = document()
    opened = roll.revision
    roll.begin_mask_stroke()
    roll.paint_rect((1, 2), (0, 4))
    roll.paint_rect((1, 3), (0, 8))  # a rubber band: the rectangle grows
    roll.end_mask_stroke()
    assert roll.mask[1:3, :8].all() and roll.mask.sum() == 16
    assert len(roll.history.undo_steps) == 1 and roll.revision != opened
    assert roll.undo() and not roll.has_mask() and roll.revision == opened
    assert roll.redo() and roll.mask.sum() == 16


def test_note_edits_swap_the_score_and_a_new_edit_clears_redo() -> None:
    roll = document()
    original, count = roll.score, len(roll.notes)
    seen = kinds(roll)
    roll.delete_notes([0, 1])
    assert len(roll.notes) == count - 2 and seen == ["history", "notes", "mask"]
    assert roll.undo() and roll.score is original and len(roll.notes) == count
    assert seen[3:] == ["notes", "mask", "history"]  # the history event comes last
    roll.set_mask(np.ones_like(roll.mask))
    assert not roll.can_redo and roll.score is original


def test_selection_is_view_state_not_history() -> None:
    roll = document()
    seen = kinds(roll)
    roll.set_selection((4, 12))
    assert roll.selection == (4, 12) and seen == ["selection"] and not roll.can_undo
