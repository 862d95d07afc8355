"""The piano roll's document: a MIDI score, its voices and the repaint mask (no Qt).

Why a separate module: every user intent (add, move, delete a note; paint,
clear or harmonize the mask; accept a variation) becomes one method here, so
it can be tested without a window and the widgets only render and forward.

State, all owned by :class:`RollDocument`:

* ``score`` - an immutable :class:`engine.media.midi.Score`; note edits make a
  new one through ``engine.media.midi.edit`` (everything untouched stays bit-exact);
* ``mapping`` - which notes are soprano, alto, tenor, bass (recomputed from the
  same part choice after each edit);
* ``mask`` - bool ``[4, n_steps]``, the cells (voice x sixteenth step) to repaint.

History: one :class:`engine.undo.UndoStack` over the targets ``"score"`` and
``"mask"``. A mask edit is a bbox diff; a note edit or an accepted variation
swaps the immutable score (old and new share every unchanged track) and the
mask, whose length follows the piece. One gesture is one step.

Events (:class:`engine.document.DocumentChanged`): ``"notes"`` (the score
changed), ``"mask"`` (with the (voices, steps) box when known), ``"selection"``
(view state, not undoable) and ``"history"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.document import HistoryDocument
from engine.media.midi import (
    N_VOICES,
    MidiPayload,
    Score,
    TimeGrid,
    TokenContract,
    VoiceMapping,
    map_voices,
    time_grid,
)
from engine.media.midi.edit import PlacedNote, replace_notes
from engine.media.midi.voices import VoiceTarget
from engine.sampling.types import BoolArray
from engine.undo import Bbox, Touched, UndoStack

VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
MAX_UNDO = 200
DEFAULT_NOTE_STEPS = 4
"""A click adds a quarter note (4 sixteenths): the commonest value in a chorale."""

StepRange = tuple[int, int]
"""Sixteenth steps ``[start, stop)``."""


@dataclass(frozen=True)
class RollNote:
    """A note as drawn: ``index`` into ``score.notes`` (-1 for preview notes), times in steps."""

    index: int
    voice: int
    pitch: int
    start: float
    end: float


def voice_labels(score: Score, mapping: VoiceMapping) -> tuple[str, ...]:
    """What each voice lane is called: the track name of the part in it, else its voice name.

    A string quartet's lanes read Violin 1, Violin 2, Viola, Violoncello, not
    Soprano..Bass; a voice with no named part (an empty row, a channel of a
    type 0 file, a split polyphonic track) keeps the voice's name.
    """
    labels = []
    for voice, part in enumerate(mapping.parts):
        name = score.track_name(part.track).strip() if part and part.channel is None else ""
        labels.append(" ".join(name.split()) or VOICE_NAMES[voice])
    return tuple(labels)


def roll_notes(score: Score, mapping: VoiceMapping, grid: TimeGrid) -> list[RollNote]:
    """Every pitched note in steps (fractional when off the grid); drums are not drawn."""
    per_tick = grid.steps_per_quarter / grid.ticks_per_beat
    return [
        RollNote(i, voice, note.pitch, note.start * per_tick, note.end * per_tick)
        for i, (note, voice) in enumerate(zip(score.notes, mapping.note_voice, strict=True))
        if not note.is_drum
    ]


def resized_mask(mask: BoolArray, n_steps: int) -> BoolArray:
    """``mask`` cut or padded (with False) to ``n_steps`` columns; a new array."""
    out = np.zeros((N_VOICES, n_steps), dtype=bool)
    keep = min(n_steps, mask.shape[1])
    out[:, :keep] = mask[:, :keep]
    return out


class RollDocument(HistoryDocument):
    """A score, its voice mapping and its repaint mask, with change events and undo.

    Parameters
    ----------
    score
        The opened file.
    parts
        Part selectors (number or track name, see ``midi_voices``) for files
        with more than four parts; None maps all parts.
    """

    def __init__(self, score: Score, parts: Sequence[str] | None = None) -> None:
        self.parts = list(parts) if parts else None
        self._stroke_before: BoolArray | None = None
        self.selection: StepRange | None = None
        self._derive(score)
        self._state: dict[str, Any] = {
            "score": score,
            "mask": np.zeros((N_VOICES, self.grid.n_steps), dtype=bool),
        }
        self._start_history(UndoStack(self._state, max_steps=MAX_UNDO))

    # -- reading --------------------------------------------------------------------

    @property
    def score(self) -> Score:
        """The current score (immutable; edits make a new one)."""
        score: Score = self._state["score"]
        return score

    @property
    def mask(self) -> BoolArray:
        """bool ``[4, n_steps]``: the live mask (read it; edit through the methods)."""
        mask: BoolArray = self._state["mask"]
        return mask

    def _derive(self, score: Score) -> None:
        """Recompute what follows from the score: voices, time grid, drawn notes."""
        self.mapping = map_voices(score, self.parts)
        self.voice_labels = voice_labels(score, self.mapping)
        self.grid = time_grid(score)
        self.notes = roll_notes(score, self.mapping, self.grid)

    @property
    def n_steps(self) -> int:
        return self.grid.n_steps

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    def note_at(self, step: float, pitch: int) -> int | None:
        """The index of the (last drawn) note covering ``step`` at ``pitch``, or None."""
        for note in reversed(self.notes):
            if note.pitch == pitch and note.start <= step < max(note.end, note.start + 0.5):
                return note.index
        return None

    def bar_range(self, first: int, last: int) -> StepRange:
        """Bars ``first..last`` (1-based, inclusive) as steps; one-line ValueError if outside."""
        return self.grid.bars_to_steps(first, last)

    def payload(self, contract: TokenContract) -> MidiPayload:
        """An immutable snapshot (read-only copies) for the engine thread."""
        return MidiPayload.of(self.score, self.mask.copy(), self.mapping, contract)

    # -- note edits (one undo step each) ----------------------------------------------

    def add_note(self, voice: int, pitch: int, step: int, length: int = DEFAULT_NOTE_STEPS) -> None:
        """Add a note to ``voice`` (its track and channel, its median velocity), on the grid."""
        target = self.mapping.targets[voice]
        start, end = self.grid.tick(step), self.grid.tick(step + length)
        velocity = self.mapping.velocity(self.score, voice)
        new = PlacedNote(target, pitch, velocity, start, end)
        self._swap_score(replace_notes(self.score, [], [new]), "add note")

    def move_notes(self, indices: Iterable[int], steps: int, semitones: int) -> None:
        """Move notes by whole steps and semitones; starts snap to the step grid."""
        indices = sorted(set(indices))
        if not indices or (steps == 0 and semitones == 0):
            return
        moved = [self._moved(i, steps, semitones) for i in indices]
        self._swap_score(replace_notes(self.score, indices, moved), "move notes")

    def _moved(self, index: int, steps: int, semitones: int) -> PlacedNote:
        note = self.score.notes[index]
        start = self.grid.tick(max(0, self.grid.step(note.start) + steps))
        pitch = int(np.clip(note.pitch + semitones, 0, 127))
        target = VoiceTarget(note.track, note.channel)
        return PlacedNote(target, pitch, note.velocity, start, start + note.end - note.start)

    def delete_notes(self, indices: Iterable[int]) -> None:
        indices = sorted(set(indices))
        if indices:
            self._swap_score(replace_notes(self.score, indices, []), "delete notes")

    def accept(self, score: Score) -> None:
        """Make a generated variation the document (one undo step); the mask stays for a retry."""
        self._swap_score(score, "accept variation")

    def _swap_score(self, score: Score, label: str) -> None:
        with self.history.step(label):
            self._derive(score)
            self.history.swap("score", score)
            self.history.swap("mask", resized_mask(self.mask, self.grid.n_steps))
        self._notify("notes")
        self._notify("mask")

    # -- mask edits ---------------------------------------------------------------------

    def begin_mask_stroke(self) -> None:
        """Start a drag: every :meth:`paint_rect` until :meth:`end_mask_stroke` is one step."""
        self._stroke_before = self.mask.copy()

    def paint_rect(self, voices: StepRange, steps: StepRange, value: bool = True) -> None:
        """Set cells ``voices x steps`` (half-open); during a stroke it replaces the stroke so far.

        A drag is a rubber band from where it started, so moving back shrinks
        the painted rectangle instead of leaving a trail.
        """
        base = self.mask if self._stroke_before is None else self._stroke_before
        mask = base.copy()
        v0, v1 = sorted(voices)
        s0, s1 = sorted(steps)
        mask[max(v0, 0) : v1, max(s0, 0) : s1] = value
        if self._stroke_before is None:
            self.set_mask(mask, "paint mask")
            return
        self.mask[:] = mask
        self._notify("mask")

    def end_mask_stroke(self, label: str = "paint mask") -> None:
        """Store the stroke as one step (the mask already shows it; no event is needed)."""
        before, self._stroke_before = self._stroke_before, None
        if before is not None:
            after = self.mask.copy()
            self.mask[:] = before
            self._record_mask(after, label)

    def set_mask(self, mask: BoolArray, label: str = "set mask") -> None:
        """Replace the whole mask (clear, bars, harmonize): one step, only changed cells stored."""
        box = self._record_mask(np.array(mask, dtype=bool), label)
        self._notify("mask", box)

    def _record_mask(self, after: BoolArray, label: str) -> Bbox | None:
        with self.history.step(label):
            return self.history.assign(after, target="mask")

    def clear_mask(self) -> None:
        self.set_mask(np.zeros_like(self.mask), "clear mask")

    def mask_bars(self, first: int, last: int, voices: Sequence[int]) -> None:
        """Add bars ``first..last`` x ``voices`` to the mask (the "Select bars…" dialog)."""
        start, stop = self.bar_range(first, last)
        mask = self.mask.copy()
        mask[list(voices), start:stop] = True
        self.set_mask(mask, "mask bars")

    def harmonize(self, steps: StepRange | None = None) -> None:
        """Mask alto, tenor and bass over ``steps`` (default: the selection, else the whole piece).

        The Bach Doodle's gesture: keep the melody, let the model write the harmony.
        """
        start, stop = steps or self.selection or (0, self.n_steps)
        mask = np.zeros_like(self.mask)
        mask[1:, start:stop] = True
        self.set_mask(mask, "harmonize melody")

    def set_selection(self, steps: StepRange | None) -> None:
        """The time range for loop playback and harmonize (view state: not undoable)."""
        if steps is not None:
            lo, hi = sorted(steps)
            steps = (max(0, lo), min(self.n_steps, hi)) if hi > lo else None
        self.selection = steps
        self._notify("selection")

    # -- history ------------------------------------------------------------------------

    def _replayed(self, touched: Touched) -> None:
        if "score" in touched:
            self._derive(self.score)
            self._notify("notes")
        if "mask" in touched:
            self._notify("mask", touched["mask"])
