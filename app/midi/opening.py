"""Opening a MIDI file: what follows from the score alone, built in the loading worker.

Mapping a ten-minute piece's voices, its time grid, its drawn notes and the
second at every step take tens of milliseconds; done in the worker
(:meth:`app.midi.editor.PianoRollEditor.prepare_decoded`), the GUI thread
only swaps the finished document in. A file with more parts than voices is
the exception: the user picks four first, so its document is built after the
question, on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.midi import N_VOICES, Part, Score, find_parts
from engine.media.midi.document import RollDocument
from engine.media.midi.synth import tick_seconds

Seconds = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OpenedScore:
    """A read score, its parts and, unless the user must choose parts, its document."""

    score: Score
    parts: list[Part]
    document: RollDocument | None
    """None when the file has more parts than voices (:attr:`parts` to choose from)."""
    step_times: Seconds | None
    """:func:`step_times` of :attr:`document`."""

    @classmethod
    def of(cls, score: Score) -> OpenedScore:
        """Everything the editor needs to show ``score`` (raises like ``RollDocument``)."""
        parts = find_parts(score)
        if len(parts) > N_VOICES:
            return cls(score, parts, None, None)
        document = RollDocument(score)
        return cls(score, parts, document, step_times(document))


def step_times(document: RollDocument) -> Seconds:
    """Seconds at each step boundary, to place the playhead from the audio position."""
    grid = document.grid
    ticks = [grid.tick(step) for step in range(grid.n_steps + 1)]
    return tick_seconds(document.score, ticks)
