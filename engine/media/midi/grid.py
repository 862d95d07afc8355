"""Quantised time and the Coconet token grid: ticks <-> sixteenth steps, bars, voices x steps.

A step is ``ticks_per_beat / steps_per_quarter`` ticks (a sixteenth by
default); step 0 is tick 0. Bars come from the time-signature map (a 3/4 bar
is 12 steps, a 6/8 bar 12, a 5/4 bar 20), never from an assumed 4/4; a time
signature placed mid-bar starts a new bar there.

Token contract (shared with ``engine/train/midi/data.py``): token = MIDI
pitch - 28 for pitches 28..93, 66 = rest; grid int64 ``[4, n_steps]``, row 0 =
soprano. A manifest may restate these in ``medium_facts`` (``pitch_min``,
``pitch_max``, ``rest_token``, ``steps_per_quarter``); :class:`TokenContract`
reads them so a model with another range still lines up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.media.midi.files import MidiError, NoteRecord, Score, TimeSignature
from engine.sampling.types import BoolArray, TokenArray

VOICES = ("soprano", "alto", "tenor", "bass")
N_VOICES = len(VOICES)
UNMAPPED = -1
"""Voice of a note that belongs to no voice (drums, parts not chosen, a fifth simultaneous note)."""


@dataclass(frozen=True)
class TokenContract:
    """How pitches become tokens for one model."""

    pitch_min: int = 28
    pitch_max: int = 93
    rest_token: int = 66
    steps_per_quarter: int = 4

    @staticmethod
    def from_medium_facts(facts: Mapping[str, Any]) -> TokenContract:
        default = TokenContract()
        return TokenContract(
            int(facts.get("pitch_min", default.pitch_min)),
            int(facts.get("pitch_max", default.pitch_max)),
            int(facts.get("rest_token", default.rest_token)),
            int(facts.get("steps_per_quarter", default.steps_per_quarter)),
        )

    def fold(self, pitch: int) -> int:
        """Move a pitch by octaves into range (for context only; the file keeps the real pitch)."""
        while pitch < self.pitch_min:
            pitch += 12
        while pitch > self.pitch_max:
            pitch -= 12
        return pitch

    def fold_array(self, pitches: TokenArray) -> TokenArray:
        """:meth:`fold` for an int64 array."""
        low = np.ceil(np.maximum(self.pitch_min - pitches, 0) / 12).astype(np.int64)
        high = np.ceil(np.maximum(pitches - self.pitch_max, 0) / 12).astype(np.int64)
        return pitches + 12 * low - 12 * high

    def token(self, pitch: int) -> int:
        return self.fold(pitch) - self.pitch_min

    def pitch(self, token: int) -> int | None:
        """The MIDI pitch of ``token``; None for a rest (or any non-pitch token)."""
        if 0 <= token <= self.pitch_max - self.pitch_min:
            return token + self.pitch_min
        return None


@dataclass(frozen=True)
class TimeGrid:
    """Steps and bars of one score; ``bar_steps[i]`` is where 0-based bar i starts.

    ``first_bar`` is the number a score prints on bar index 0: 0 for a pickup
    (an opening bar shorter than the bar after it), else 1. Bar *numbers*
    (what users type and see) are ``first_bar + index``.
    """

    ticks_per_beat: int
    steps_per_quarter: int
    n_steps: int
    bar_steps: tuple[int, ...]
    first_bar: int = 1

    @property
    def n_bars(self) -> int:
        return len(self.bar_steps)

    @property
    def last_bar(self) -> int:
        """The number of the last bar."""
        return self.first_bar + self.n_bars - 1

    def bar_number(self, index: int) -> int:
        """The score's number of 0-based bar ``index``."""
        return self.first_bar + index

    def bar_at(self, step: float) -> int:
        """The number of the bar that contains ``step``."""
        index = int(np.searchsorted(self.bar_steps, step, side="right")) - 1
        return self.bar_number(max(0, index))

    def tick(self, step: int) -> int:
        """The tick where ``step`` starts (rounded when ticks_per_beat is not a multiple)."""
        return round(step * self.ticks_per_beat / self.steps_per_quarter)

    def step(self, tick: int) -> int:
        """The nearest step boundary to ``tick``."""
        return round(tick * self.steps_per_quarter / self.ticks_per_beat)

    def bars_to_steps(self, first: int, last: int) -> tuple[int, int]:
        """Bars ``first..last`` (numbered as the score numbers them, inclusive) as steps
        ``[start, stop)``."""
        if first < self.first_bar or last < first:
            pickup = " (0 is the pickup)" if self.first_bar == 0 else ""
            raise MidiError(
                f"bad bar range {first}-{last}: bars are numbered from "
                f"{self.first_bar}{pickup}, first <= last"
            )
        if last > self.last_bar:
            raise MidiError(
                f"bars {first}-{last} are outside the piece, whose bars are "
                f"{self.first_bar}-{self.last_bar}"
            )
        lo, hi = first - self.first_bar, last - self.first_bar + 1
        stop = self.bar_steps[hi] if hi < self.n_bars else self.n_steps
        return self.bar_steps[lo], stop


def _bar_length(signature: TimeSignature, ticks_per_beat: int) -> int:
    return max(1, round(signature.numerator * ticks_per_beat * 4 / signature.denominator))


def bar_start_ticks(
    signatures: Sequence[TimeSignature], ticks_per_beat: int, end_tick: int
) -> list[int]:
    """Ticks where bars start, from 0 to the first bar start at or after ``end_tick``.

    The last entry closes the final bar, so bars are ``starts[i]..starts[i+1]``.
    """
    starts, tick, current = [0], 0, 0
    while tick < end_tick or len(starts) < 2:
        following = signatures[current + 1].tick if current + 1 < len(signatures) else None
        tick = tick + _bar_length(signatures[current], ticks_per_beat)
        if following is not None and following <= tick:
            tick = max(following, starts[-1] + 1)  # a change mid-bar starts a new bar
            current += 1
        starts.append(tick)
    return starts


PICKUP_SHARE = 0.75
"""Longest opening bar, as a share of the next, read as a pickup (3/4 before 4/4 is one)."""


def first_bar_number(
    signatures: Sequence[TimeSignature], ticks_per_beat: int, starts: Sequence[int]
) -> int:
    """0 when the opening bar is a pickup, else 1.

    A MIDI file marks a pickup the way notation programs export it: a short
    opening time signature (1/4 before 4/4), so the first bar is shorter than
    a bar of the signature in force after it. Such a bar is bar 0 in the score.
    At most :data:`PICKUP_SHARE` of the next bar counts, so a 4/4 bar before
    9/8 stays bar 1 (a real bar of another meter is the likelier reading).
    """
    if len(starts) < 3:
        return 1
    following = next((s for s in signatures if s.tick >= starts[1]), None)
    if following is None or following.tick != starts[1]:
        return 1
    share = (starts[1] - starts[0]) / _bar_length(following, ticks_per_beat)
    return 0 if share <= PICKUP_SHARE else 1


def time_grid(score: Score, steps_per_quarter: int = 4) -> TimeGrid:
    """The step/bar grid covering every note, rounded up to a whole bar."""
    tpb = score.ticks_per_beat
    starts = bar_start_ticks(score.time_signatures, tpb, score.end_tick())
    steps = sorted({round(t * steps_per_quarter / tpb) for t in starts})
    first = first_bar_number(score.time_signatures, tpb, starts)
    return TimeGrid(tpb, steps_per_quarter, steps[-1], tuple(steps[:-1]), first)


def note_steps(note: NoteRecord, grid: TimeGrid) -> tuple[int, int]:
    """The steps a note covers, ``[start, stop)``; zero-length notes cover nothing."""
    start = grid.step(note.start)
    if note.end <= note.start:
        return start, start
    return start, max(start + 1, grid.step(note.end))


def token_grid(
    score: Score, note_voice: Sequence[int], grid: TimeGrid, contract: TokenContract
) -> TokenArray:
    """Notes -> int64 tokens [4, n_steps]; rests where a voice is silent.

    When a voice has several notes at one step (a chord in a mapped part),
    upper voices keep the highest pitch and lower voices the lowest, which
    keeps the outline a 4-voice model expects.
    """
    pitch = np.full((N_VOICES, grid.n_steps), -1, dtype=np.int64)
    for note, voice in zip(score.notes, note_voice, strict=True):
        if voice == UNMAPPED:
            continue
        start, stop = note_steps(note, grid)
        cells = pitch[voice, start:stop]
        better = cells < note.pitch if voice < 2 else (cells < 0) | (cells > note.pitch)
        cells[better] = note.pitch
    return np.where(
        pitch >= 0, contract.fold_array(pitch) - contract.pitch_min, contract.rest_token
    )


def region_mask(grid: TimeGrid, bars: tuple[int, int], voices: Sequence[int]) -> BoolArray:
    """Cells of bars ``bars[0]..bars[1]`` (score numbers, inclusive) x ``voices``, bool [4, n]."""
    start, stop = grid.bars_to_steps(*bars)
    mask = np.zeros((N_VOICES, grid.n_steps), dtype=bool)
    for voice in voices:
        if not 0 <= voice < N_VOICES:
            raise MidiError(f"voice index {voice} is not one of 0..3 ({', '.join(VOICES)})")
        mask[voice, start:stop] = True
    return mask


def runs(row: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Maximal runs of True in a 1-D bool array as ``[start, stop)`` pairs."""
    padded = np.concatenate(([False], np.asarray(row, dtype=bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def check_cell_mask(cell_mask: npt.ArrayLike, grid: TimeGrid) -> BoolArray:
    """A bool copy of ``cell_mask`` [4, n_steps]; one-line errors for a wrong shape or no cells."""
    mask = np.array(cell_mask, dtype=bool)
    if mask.shape != (N_VOICES, grid.n_steps):
        raise MidiError(f"cell mask has shape {mask.shape}, the piece needs (4, {grid.n_steps})")
    if not mask.any():
        raise MidiError("the region is empty: choose at least one bar and one voice")
    return mask
