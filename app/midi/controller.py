"""What the piano roll draws and plays that is not the document: live previews and audio.

The document itself is :class:`engine.media.midi.document.RollDocument`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.media.midi import N_VOICES, MidiPayload, Score, TimeGrid, TokenContract, VoiceMapping
from engine.media.midi.document import RollNote, StepRange, roll_notes
from engine.media.midi.repaint import ModelWindow, Window
from engine.media.midi.synth import (
    SAMPLE_RATE,
    AudioArray,
    Envelope,
    SynthNote,
    render_notes,
    score_notes,
    stream_notes,
    tick_seconds,
)
from engine.sampling.types import BoolArray, TokenArray

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
    notes, t0, t1 = _range_notes(score, grid, steps)
    audio = render_notes(notes, rate)
    length = round((t1 - t0) * rate)
    if len(audio) < length:  # trailing silence (rests at the end) still belongs to the range
        audio = np.concatenate([audio, np.zeros(length - len(audio), np.float32)])
    return audio, t0


@dataclass(frozen=True)
class RangeStream:
    """:func:`render_range` as chunks still to be rendered (in whatever thread iterates them)."""

    chunks: Iterator[AudioArray]
    samples: int  # the length of all chunks together
    start: float  # seconds from the piece's start


def stream_range(
    score: Score, grid: TimeGrid, steps: StepRange | None = None, rate: int = SAMPLE_RATE
) -> RangeStream:
    """The same audio as :func:`render_range`, rendered chunk by chunk as it is iterated.

    Building it is cheap (no audio yet), so Play can answer at once and the
    player's worker renders while the first second is already playing.
    """
    notes, t0, t1 = _range_notes(score, grid, steps)
    last_end = max((n.end for n in notes), default=0.0)
    natural = round((last_end + Envelope().release) * rate)  # render_notes's length
    samples = max(natural, round((t1 - t0) * rate))
    return RangeStream(stream_notes(notes, rate, length=samples), samples, t0)


def _range_notes(
    score: Score, grid: TimeGrid, steps: StepRange | None
) -> tuple[list[SynthNote], float, float]:
    """The notes sounding in ``steps``, clipped and shifted to start at 0, and the range's times."""
    start, stop = steps or (0, grid.n_steps)
    t0, t1 = (float(t) for t in tick_seconds(score, [grid.tick(start), grid.tick(stop)]))
    notes = [
        _shifted(note, t0, t1)
        for note in score_notes(score)
        if note.end > t0 and note.start < t1 and (note.end > note.start or note.drum)
    ]
    return notes, t0, t1


def _shifted(note: SynthNote, t0: float, t1: float) -> SynthNote:
    """``note`` clipped to ``[t0, t1]`` and moved so that ``t0`` is time 0."""
    return dataclasses.replace(note, start=max(note.start, t0) - t0, end=min(note.end, t1) - t0)
