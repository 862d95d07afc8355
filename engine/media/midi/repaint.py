"""Repaint a region of a score (bars x voices, or any cells) with a masked chorale model.

The model sees a window of ``T`` steps (``medium_facts["window_steps"]``) of
the 4 x steps token grid. A region that fits is repainted in one window placed
to give it as much context as possible on both sides (start snapped to a
quarter note, as in training). A longer region is repainted in successive
windows, left to right: each keeps ``T/4`` steps of already generated (or
original) music on its left as context and fills the rest of the window.

:class:`MidiCodec` is an :class:`engine.jobs.WindowedCodec`: a variation's
state is its token grid [4, n_steps] so far, and window k is cut from it, so
it sees the music windows 0..k-1 generated for that variation. The app's
worker, :func:`repaint` (scripts, the CLI) and tests all run it through the
same runner, :func:`engine.jobs.run_windows`.

Decoding turns tokens back into notes (equal consecutive pitches in a voice
merge into one held note, rests end notes) and writes them with
:func:`engine.media.midi.edit.apply_edit`, so everything outside the region
is bit-exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.jobs import GenerateRequest, Progress, TokenProblem, run_windows
from engine.media.midi.edit import Interval, NewNote, apply_edit
from engine.media.midi.files import MidiError, Score
from engine.media.midi.grid import (
    N_VOICES,
    TimeGrid,
    TokenContract,
    check_cell_mask,
    region_mask,
    runs,
    time_grid,
    token_grid,
)
from engine.media.midi.ranges import PitchRange, range_bias, voice_ranges
from engine.media.midi.voices import VoiceMapping, map_voices
from engine.sampling.types import BoolArray, FloatArray, LogitsFn, SamplerSettings, TokenArray


class MidiModelFacts(Protocol):
    """What repainting needs from a :class:`engine.models.ModelManifest`."""

    @property
    def mask_id(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def medium_facts(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ModelWindow:
    """The grid a model works on: ``steps`` (T) per window, the token contract, the mask id."""

    steps: int
    mask_id: int
    contract: TokenContract
    vocab_size: int = 67

    @staticmethod
    def from_manifest(manifest: MidiModelFacts) -> ModelWindow:
        facts = manifest.medium_facts
        steps = int(facts.get("window_steps", manifest.shape[-1]))
        if tuple(manifest.shape) != (N_VOICES, steps):
            raise MidiError(f"model grid {tuple(manifest.shape)} is not 4 voices x {steps} steps")
        contract = TokenContract.from_medium_facts(facts)
        if contract.rest_token >= manifest.vocab_size:
            raise MidiError(
                f"rest token {contract.rest_token} outside the vocabulary ({manifest.vocab_size})"
            )
        return ModelWindow(steps, manifest.mask_id, contract, manifest.vocab_size)


@dataclass(frozen=True)
class Window:
    """Grid steps ``[start, start + T)``; region cells in ``[edit_from, edit_to)`` change."""

    start: int
    edit_from: int
    edit_to: int


def _fit(start: int, lo: int, hi: int, steps: int, n_steps: int, quantum: int) -> int:
    """``start`` moved so the window covers ``[lo, hi)`` inside the piece, snapped to a quarter.

    Training windows start on quarter notes, so the model's positions line up
    with the beat when ours do too; snapping is skipped when it would uncover ``hi``.
    """
    start = max(0, hi - steps, min(start, lo, n_steps - steps))
    snapped = start - start % quantum
    return snapped if snapped + steps >= hi else start


def _centred(lo: int, hi: int, steps: int) -> int:
    return lo - (steps - (hi - lo)) // 2


def region_columns(cell_mask: BoolArray) -> BoolArray:
    """Steps with at least one region cell, bool [n_steps]."""
    return np.asarray(cell_mask.any(axis=0), dtype=bool)


def plan_windows(columns: npt.NDArray[np.bool_], steps: int, quantum: int = 4) -> list[Window]:
    """Windows covering every True column (steps with a region cell), left to right.

    A region that fits gets one window with the region centred. Otherwise each
    window keeps ``steps // 4`` steps of context on its left (music already
    generated, or the original before the region) and edits up to its right
    edge; the last one also keeps ``steps // 4`` on the left and gives the
    rest of its room to the original music after the region.
    """
    n_steps, masked = len(columns), np.flatnonzero(columns)
    if not masked.size:
        return []
    pos, last, context = int(masked[0]), int(masked[-1]) + 1, steps // 4
    if last - pos <= steps:
        return [
            Window(_fit(_centred(pos, last, steps), pos, last, steps, n_steps, quantum), pos, last)
        ]
    windows: list[Window] = []
    while last - pos > steps - context:
        start = _fit(pos - context, pos, pos + 1, steps, n_steps, quantum)
        windows.append(Window(start, pos, start + steps))
        pos = int(masked[masked >= start + steps][0])
    wanted = min(_centred(pos, last, steps), pos - context)
    windows.append(Window(_fit(wanted, pos, last, steps, n_steps, quantum), pos, last))
    return windows


# --------------------------------------------------------------------------- payload and codec


@dataclass(frozen=True, eq=False)
class MidiPayload:
    """An immutable repaint request: the score, the cells to repaint, the voice mapping.

    ``cell_mask`` is a read-only bool copy [4, n_steps]; ``tokens`` the
    score's token grid [4, n_steps] under ``mapping`` (computed once here so
    encode and decode agree); ``ranges`` each voice's pitch range
    (:mod:`engine.media.midi.ranges`), which the codec enforces when asked.
    """

    score: Score
    cell_mask: BoolArray
    mapping: VoiceMapping
    grid: TimeGrid
    tokens: TokenArray
    ranges: tuple[PitchRange, ...] = ()

    @staticmethod
    def of(
        score: Score,
        cell_mask: npt.ArrayLike,
        mapping: VoiceMapping | None = None,
        contract: TokenContract | None = None,
    ) -> MidiPayload:
        contract = contract or TokenContract()
        mapping = mapping or map_voices(score)
        grid = time_grid(score, contract.steps_per_quarter)
        mask = check_cell_mask(cell_mask, grid)
        tokens = token_grid(score, mapping.note_voice, grid, contract)
        mask.flags.writeable = False
        tokens.flags.writeable = False
        ranges = voice_ranges(score, mapping, mask, grid)
        return MidiPayload(score, mask, mapping, grid, tokens, ranges)


def _padded(array: npt.NDArray[Any], length: int, fill: Any) -> npt.NDArray[Any]:
    """``array`` [..., n] right-padded along the last axis to at least ``length``."""
    missing = length - array.shape[-1]
    if missing <= 0:
        return array
    pad = np.full((*array.shape[:-1], missing), fill, dtype=array.dtype)
    return np.concatenate([array, pad], axis=-1)


def window_problem(
    grid_tokens: TokenArray,
    cell_mask: BoolArray,
    window: Window,
    model: ModelWindow,
    voice_bias: FloatArray | None = None,
) -> TokenProblem:
    """The TokenProblem of one window; ``grid_tokens`` [4, n] or [B, 4, n] (one per variation).

    Steps past the end of a short piece are rests and never editable, as in
    training's padded windows. ``voice_bias`` [4, V] (see
    :func:`engine.media.midi.ranges.range_bias`) becomes the window's logit
    bias [4*T, V], the same for every step of a voice.
    """
    stop = window.start + model.steps
    tokens = _padded(grid_tokens, stop, model.contract.rest_token)[..., window.start : stop]
    editable = np.zeros((N_VOICES, model.steps), dtype=bool)
    lo, hi = window.edit_from - window.start, window.edit_to - window.start
    editable[:, lo:hi] = _padded(cell_mask, stop, False)[:, window.edit_from : window.edit_to]
    flat = tokens.reshape(*tokens.shape[:-2], N_VOICES * model.steps)
    mask = np.broadcast_to(editable.reshape(-1), flat.shape).copy()
    bias = None if voice_bias is None else np.repeat(voice_bias, model.steps, axis=0)
    return TokenProblem(
        np.where(mask, model.mask_id, flat), mask, (N_VOICES, model.steps), logit_bias=bias
    )


def write_window(
    grid_tokens: TokenArray, window: Window, window_tokens: TokenArray, model: ModelWindow
) -> None:
    """Copy generated window tokens [B, 4*T] into ``grid_tokens`` [B, 4, n] (in place)."""
    inside = min(model.steps, grid_tokens.shape[-1] - window.start)
    generated = window_tokens.reshape(-1, N_VOICES, model.steps)[:, :, :inside]
    grid_tokens[:, :, window.start : window.start + inside] = generated


class MidiCodec:
    """The :class:`engine.jobs.WindowedCodec` for MIDI: :class:`MidiPayload` in, :class:`Score` out.

    Windows come from :func:`plan_windows`; a variation's state is its token
    grid int64 [4, n_steps] (read-only), starting as the score's own grid.
    With ``enforce_ranges`` (the default) no voice is given a pitch outside
    its range (:mod:`engine.media.midi.ranges`); off, it is the bare model
    (for evaluation).
    """

    def __init__(self, model: ModelWindow, enforce_ranges: bool = True) -> None:
        self.model = model
        self.enforce_ranges = enforce_ranges

    @staticmethod
    def from_manifest(manifest: MidiModelFacts, enforce_ranges: bool = True) -> MidiCodec:
        return MidiCodec(ModelWindow.from_manifest(manifest), enforce_ranges)

    def voice_bias(self, payload: MidiPayload) -> FloatArray | None:
        """float32 [4, V] logit bias of the payload's ranges; None when not enforced."""
        if not self.enforce_ranges or not payload.ranges:
            return None
        return range_bias(payload.ranges, self.model.contract, self.model.vocab_size)

    def windows(self, payload: MidiPayload) -> list[Window]:
        return plan_windows(
            region_columns(payload.cell_mask),
            self.model.steps,
            self.model.contract.steps_per_quarter,
        )

    def window_count(self, payload: MidiPayload) -> int:
        return len(self.windows(payload))

    def initial_state(self, payload: MidiPayload) -> TokenArray:
        return payload.tokens

    def encode_window(
        self, payload: MidiPayload, states: Sequence[TokenArray], window: int
    ) -> TokenProblem:
        """Window ``window`` cut from each variation's grid: tokens [B, 4*T]."""
        grids = np.stack(states)
        window_at = self.windows(payload)[window]
        bias = self.voice_bias(payload)
        return window_problem(grids, payload.cell_mask, window_at, self.model, bias)

    def apply_window(
        self, payload: MidiPayload, states: Sequence[TokenArray], window: int, tokens: TokenArray
    ) -> list[TokenArray]:
        """New grids with window ``window``'s final tokens [B, 4*T] written in."""
        grids = np.stack(states)  # a copy: the given states stay as they were
        write_window(grids, self.windows(payload)[window], tokens, self.model)
        grids.flags.writeable = False
        return list(grids)

    def finish(self, payload: MidiPayload, states: Sequence[TokenArray]) -> list[Score]:
        return [decode_grid(payload, grid, self.model.contract) for grid in states]


# --------------------------------------------------------------------------- decoding


def voice_notes(
    row: TokenArray,
    cells: npt.NDArray[np.bool_],
    voice: int,
    grid: TimeGrid,
    contract: TokenContract,
) -> list[NewNote]:
    """One voice's notes in its region cells; equal neighbours merge, rests end notes."""
    notes = []
    for lo, hi in runs(cells):
        start = lo
        for step in range(lo, hi + 1):
            if step < hi and row[step] == row[start]:
                continue
            pitch = contract.pitch(int(row[start]))
            if pitch is not None:
                notes.append(NewNote(voice, pitch, grid.tick(start), grid.tick(step)))
            start = step
    return notes


def region_holes(cell_mask: BoolArray, grid: TimeGrid) -> list[list[Interval]]:
    """Per voice, the tick intervals of its region cells."""
    return [[(grid.tick(a), grid.tick(b)) for a, b in runs(cell_mask[v])] for v in range(N_VOICES)]


def decode_grid(payload: MidiPayload, grid_tokens: TokenArray, contract: TokenContract) -> Score:
    """The score with the region cells of ``grid_tokens`` [4, n] written in."""
    new_notes = [
        note
        for v in range(N_VOICES)
        for note in voice_notes(grid_tokens[v], payload.cell_mask[v], v, payload.grid, contract)
    ]
    return apply_edit(
        payload.score,
        payload.mapping,
        region_holes(payload.cell_mask, payload.grid),
        new_notes,
    )


# --------------------------------------------------------------------------- scripts


def repaint(
    score: Score,
    cell_mask: npt.ArrayLike,
    logits_fn: LogitsFn,
    manifest: MidiModelFacts,
    settings: SamplerSettings,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    mapping: VoiceMapping | None = None,
    enforce_ranges: bool = True,
) -> list[Score]:
    """Repaint the cells ``cell_mask`` [4, n_steps] of ``score``; one Score per variation.

    Every window the region needs runs through :func:`engine.jobs.run_windows`
    (``on_progress`` sees each step with its window). Raises
    :class:`engine.jobs.Cancelled` when ``should_stop`` turns true between
    steps (nothing is returned then; ``score`` is never changed).
    """
    codec = MidiCodec.from_manifest(manifest, enforce_ranges)
    payload = MidiPayload.of(score, cell_mask, mapping, codec.model.contract)
    request = GenerateRequest(0, "", settings, payload, codec)
    results, _ = run_windows(
        request,
        logits_fn,
        codec.model.mask_id,
        on_progress or (lambda _progress: None),
        should_stop or (lambda: False),
    )
    return results


def repaint_bars(
    score: Score,
    bars: tuple[int, int],
    voices: Sequence[int],
    logits_fn: LogitsFn,
    manifest: MidiModelFacts,
    settings: SamplerSettings,
    mapping: VoiceMapping | None = None,
) -> list[Score]:
    """:func:`repaint` of bars ``bars`` (1-based, inclusive) x ``voices`` (0 = soprano)."""
    model = ModelWindow.from_manifest(manifest)
    mask = region_mask(time_grid(score, model.contract.steps_per_quarter), bars, voices)
    return repaint(score, mask, logits_fn, manifest, settings, mapping=mapping)
