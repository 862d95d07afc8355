"""Opening a MIDI file: what follows from the score alone, built in the loading worker.

Mapping a ten-minute piece's voices, its time grid, its drawn notes, the
second at every step, the arrays the roll paints from (:class:`NoteSpans`) and
the status line (which looks for off-grid onsets) take tens of milliseconds; done in the worker
(:meth:`app.midi.editor.PianoRollEditor.prepare_decoded`), the GUI thread
only swaps the finished objects in. A file with more parts than voices is
the exception: the user picks four first, so its document is built after the
question, on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.midi.dialogs import opened_status
from engine.media.midi import N_VOICES, Part, Score, find_parts
from engine.media.midi.document import RollDocument, RollNote
from engine.media.midi.synth import tick_seconds

Seconds = npt.NDArray[np.float64]
Band = tuple[int, int]
"""Lowest and highest pitch."""


@dataclass(frozen=True)
class NoteSpans:
    """Arrays over one list of drawn notes, so a paint need not walk every note.

    A ten-minute quartet has about ten thousand notes: finding the few dozen in
    view, and each voice's pitch span, by walking them cost ~10 ms a paint
    (every playhead step). Built once per notes list: in the loading worker on
    open, on the GUI thread after an edit (:meth:`PianoRollView.spans`).
    """

    notes: list[RollNote]
    """The list described (the document's; its identity tells when to rebuild)."""
    starts: Seconds
    ends: Seconds
    indices: npt.NDArray[np.int64]
    """Each note's index into ``score.notes`` (what selections hold)."""
    bands: tuple[Band | None, ...]
    """Per voice, its notes' pitch span (None: the voice has none)."""
    pitches: Band | None
    """All notes' pitch span (None: no notes)."""

    @classmethod
    def of(cls, notes: list[RollNote]) -> NoteSpans:
        count = len(notes)
        pitch = np.fromiter((n.pitch for n in notes), np.int64, count)
        voice = np.fromiter((n.voice for n in notes), np.int64, count)
        return cls(
            notes,
            np.fromiter((n.start for n in notes), np.float64, count),
            np.fromiter((n.end for n in notes), np.float64, count),
            np.fromiter((n.index for n in notes), np.int64, count),
            tuple(_band(pitch[voice == v]) for v in range(N_VOICES)),
            _band(pitch),
        )

    def shown(self, left: float, right: float, selected: set[int]) -> list[RollNote]:
        """Notes overlapping steps ``left..right``, and every selected one, in list order."""
        keep = (self.ends >= left) & (self.starts <= right)
        if selected:
            keep |= np.isin(self.indices, list(selected))
        return [self.notes[i] for i in np.flatnonzero(keep)]


def _band(pitches: npt.NDArray[np.int64]) -> Band | None:
    return (int(pitches.min()), int(pitches.max())) if pitches.size else None


@dataclass(frozen=True)
class ReadyRoll:
    """A document with what showing it needs: step times, note spans, the status line."""

    document: RollDocument
    step_times: Seconds
    """:func:`step_times` of the document."""
    spans: NoteSpans
    status: str

    @classmethod
    def of(cls, document: RollDocument) -> ReadyRoll:
        spans = NoteSpans.of(document.notes)
        return cls(document, step_times(document), spans, opened_status(document))


@dataclass(frozen=True)
class OpenedScore:
    """A read score, its parts and, unless the user must choose parts, its ready document."""

    score: Score
    parts: list[Part]
    ready: ReadyRoll | None
    """None when the file has more parts than voices (:attr:`parts` to choose from)."""

    @classmethod
    def of(cls, score: Score) -> OpenedScore:
        """Everything the editor needs to show ``score`` (raises like ``RollDocument``)."""
        parts = find_parts(score)
        if len(parts) > N_VOICES:
            return cls(score, parts, None)
        return cls(score, parts, ReadyRoll.of(RollDocument(score)))


def step_times(document: RollDocument) -> Seconds:
    """Seconds at each step boundary, to place the playhead from the audio position."""
    grid = document.grid
    ticks = [grid.tick(step) for step in range(grid.n_steps + 1)]
    return tick_seconds(document.score, ticks)
