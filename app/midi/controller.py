"""The piano roll's document and edits, with no widgets: a MIDI score, its voices and the mask.

Why a separate module: every user intent (add, move, delete a note; paint,
clear or harmonize the mask; accept a variation) becomes one method here, so
it can be tested without a window and the widgets only render and forward.

State, all owned by :class:`RollDocument`:

* ``score`` - an immutable :class:`engine.media.midi.Score`; note edits make a
  new one through ``engine.media.midi.edit`` (everything untouched stays bit-exact);
* ``mapping`` - which notes are soprano, alto, tenor, bass (recomputed from the
  same part choice after each edit);
* ``mask`` - bool ``[4, n_steps]``, the cells (voice x sixteenth step) to repaint.

History: a mask edit is stored as an :class:`engine.undo.EditAtom` (bbox diff);
a note edit or an accepted variation swaps immutable scores, so a step keeps
the two scores (they share every unchanged track) and the mask on both sides
(its length follows the piece). One gesture is one step. Each state has a
:attr:`RollDocument.revision`, as in ``engine.undo``, so the editor can tell
whether the document is back where it was opened or saved.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

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
from engine.media.midi.repaint import ModelWindow, Window
from engine.media.midi.synth import (
    SAMPLE_RATE,
    AudioArray,
    SynthNote,
    render_notes,
    score_notes,
    tick_seconds,
)
from engine.media.midi.voices import VoiceTarget
from engine.sampling.types import BoolArray, TokenArray
from engine.undo import EditAtom, diff_atom, full_bbox, next_serial

VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
MAX_UNDO = 200
DEFAULT_NOTE_STEPS = 4
"""A click adds a quarter note (4 sixteenths): the commonest value in a chorale."""

Listener = Callable[[str], None]
"""Called with what changed: ``"notes"``, ``"mask"``, ``"history"`` or ``"selection"``."""
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


@dataclass(frozen=True)
class _MaskStep:
    label: str
    atom: EditAtom
    serial: int = field(default_factory=next_serial, compare=False)


@dataclass(frozen=True)
class _ScoreStep:
    label: str
    before: tuple[Score, BoolArray]
    after: tuple[Score, BoolArray]
    serial: int = field(default_factory=next_serial, compare=False)


_Step = _MaskStep | _ScoreStep


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


class RollDocument:
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
        self.listeners: list[Listener] = []
        self._undo: deque[_Step] = deque(maxlen=MAX_UNDO)
        self._redo: deque[_Step] = deque(maxlen=MAX_UNDO)
        self._floor = next_serial()  # the revision below the oldest stored step
        self._stroke_before: BoolArray | None = None
        self.selection: StepRange | None = None
        self._set_score(score)
        self.mask = np.zeros((N_VOICES, self.grid.n_steps), dtype=bool)

    # -- reading --------------------------------------------------------------------

    def _set_score(self, score: Score) -> None:
        self.score = score
        self.mapping = map_voices(score, self.parts)
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
        before = (self.score, self.mask.copy())
        self._set_score(score)
        self.mask = resized_mask(self.mask, self.grid.n_steps)
        self._push(_ScoreStep(label, before, (score, self.mask.copy())))
        self._emit("notes", "mask")

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
        self._emit("mask")

    def end_mask_stroke(self, label: str = "paint mask") -> None:
        before, self._stroke_before = self._stroke_before, None
        if before is not None:
            after = self.mask.copy()
            self.mask[:] = before
            self._record_mask(after, label)

    def set_mask(self, mask: BoolArray, label: str = "set mask") -> None:
        """Replace the whole mask (clear, bars, harmonize): one step, only changed cells stored."""
        self._record_mask(np.array(mask, dtype=bool), label)
        self._emit("mask")

    def _record_mask(self, after: BoolArray, label: str) -> None:
        atom = diff_atom("mask", full_bbox(self.mask.shape), self.mask.copy(), after)
        self.mask[:] = after
        if atom is not None:
            self._push(_MaskStep(label, atom))

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
        self._emit("selection")

    # -- history ------------------------------------------------------------------------

    def _push(self, step: _Step) -> None:
        if len(self._undo) == self._undo.maxlen:  # the oldest step falls off
            self._floor = self._undo[0].serial
        self._undo.append(step)
        self._redo.clear()
        self._emit("history")

    @property
    def revision(self) -> int:
        """Names the current state, as :attr:`engine.undo.UndoStack.revision` does."""
        return self._undo[-1].serial if self._undo else self._floor

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        step = self._undo.pop()
        self._apply(step, forward=False)
        self._redo.append(step)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        step = self._redo.pop()
        self._apply(step, forward=True)
        self._undo.append(step)
        return True

    def _apply(self, step: _Step, *, forward: bool) -> None:
        if isinstance(step, _MaskStep):
            step.atom.apply(self.mask, forward=forward)
            self._emit("mask", "history")
            return
        score, mask = step.after if forward else step.before
        self._set_score(score)
        self.mask = mask.copy()
        self._emit("notes", "mask", "history")

    def _emit(self, *what: str) -> None:
        for kind in what:
            for listener in list(self.listeners):
                listener(kind)


# --------------------------------------------------------------------------- live preview


@dataclass(frozen=True)
class Preview:
    """What a sampler step looks like on the roll: decided notes and still-masked cells."""

    notes: tuple[RollNote, ...]
    masked: BoolArray  # [4, n_steps], True where a region cell is still undecided


def preview_from_tokens(
    payload: MidiPayload,
    window: Window,
    model: ModelWindow,
    tokens: TokenArray,
    grid_tokens: TokenArray | None = None,
) -> Preview:
    """Decode one variation's window tokens [4*T] (mask id where undecided) into preview notes.

    ``grid_tokens`` [4, n_steps] is that variation's grid before this window
    (what earlier windows generated; default the score's own grid). Region
    cells after the window, which later windows will generate, count as
    undecided. Only region cells are drawn: the rest is the original music.
    Equal neighbouring tokens merge into one held note, as the codec decodes them.
    """
    grid = np.array(payload.tokens if grid_tokens is None else grid_tokens, copy=True)
    inside = min(model.steps, grid.shape[1] - window.start)
    grid[:, window.start : window.start + inside] = tokens.reshape(N_VOICES, -1)[:, :inside]
    later = payload.cell_mask.copy()
    later[:, : window.edit_to] = False
    grid[later] = model.mask_id
    masked = payload.cell_mask & (grid == model.mask_id)
    notes = [
        note
        for voice in range(N_VOICES)
        for note in _row_notes(grid[voice], payload.cell_mask[voice], voice, model.contract)
    ]
    return Preview(tuple(notes), masked)


def _row_notes(
    row: TokenArray, cells: BoolArray, voice: int, contract: TokenContract
) -> list[RollNote]:
    notes: list[RollNote] = []
    start = None
    for step in range(len(row) + 1):
        current = int(row[step]) if step < len(row) and cells[step] else None
        pitch = contract.pitch(current) if current is not None else None
        if start is not None and (pitch is None or int(row[start]) != current):
            notes.append(RollNote(-1, voice, int(row[start]) + contract.pitch_min, start, step))
            start = None
        if pitch is not None and start is None:
            start = step
    return notes


def region_notes(
    score: Score, mapping: VoiceMapping, grid: TimeGrid, mask: BoolArray
) -> list[RollNote]:
    """Notes of ``score`` whose voice has a mask cell under them (a variation's new material)."""
    out = []
    for note in roll_notes(score, mapping, grid):
        lo, hi = int(note.start), max(int(np.ceil(note.end)), int(note.start) + 1)
        if note.voice >= 0 and mask[note.voice, lo:hi].any():
            out.append(note)
    return out


# --------------------------------------------------------------------------- audio


def render_range(
    score: Score, grid: TimeGrid, steps: StepRange | None = None, rate: int = SAMPLE_RATE
) -> tuple[AudioArray, float]:
    """Synth audio of ``steps`` (whole piece by default) and where it starts, in seconds.

    Notes are clipped to the range so a looped selection starts and stops on
    its bar lines; times come from the score's tempo map.
    """
    start, stop = steps or (0, grid.n_steps)
    t0, t1 = (float(t) for t in tick_seconds(score, [grid.tick(start), grid.tick(stop)]))
    notes = [
        _shifted(note, t0, t1)
        for note in score_notes(score)
        if note.end > t0 and note.start < t1 and (note.end > note.start or note.drum)
    ]
    audio = render_notes(notes, rate)
    length = round((t1 - t0) * rate)
    if len(audio) < length:  # trailing silence (rests at the end) still belongs to the range
        audio = np.concatenate([audio, np.zeros(length - len(audio), np.float32)])
    return audio, t0


def _shifted(note: SynthNote, t0: float, t1: float) -> SynthNote:
    """``note`` clipped to ``[t0, t1]`` and moved so that ``t0`` is time 0."""
    return dataclasses.replace(note, start=max(note.start, t0) - t0, end=min(note.end, t1) - t0)
