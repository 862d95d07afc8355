"""Repaint a region of a score (bars x voices, or any cells) with a masked chorale model.

The model sees a window of ``T`` steps (``medium_facts["window_steps"]``) of
the 4 x steps token grid. A region that fits is repainted in one window placed
to give it as much context as possible on both sides (start snapped to a
quarter note, as in training). A longer region is repainted in successive
windows, left to right: each keeps ``T/4`` steps of already generated (or
original) music on its left as context and fills the rest of the window.

Two ways in:

* :class:`MidiCodec` is a :class:`engine.jobs.MediumCodec` for the app's
  worker (one window: the usual case of a few bars);
* :func:`repaint` runs any region, looping windows and calling
  :func:`engine.sampling.sample` itself.

Decoding turns tokens back into notes (equal consecutive pitches in a voice
merge into one held note, rests end notes) and writes them with
:func:`engine.media.midi_edit.apply_edit`, so everything outside the region
is bit-exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.jobs import Cancelled, TokenProblem
from engine.media.midi_edit import Interval, NewNote, apply_edit
from engine.media.midi_grid import (
    N_VOICES,
    TimeGrid,
    TokenContract,
    check_cell_mask,
    region_mask,
    runs,
    time_grid,
    token_grid,
)
from engine.media.midi_io import MidiError, Score
from engine.media.midi_voices import VoiceMapping, map_voices
from engine.sampling import sample
from engine.sampling.types import BoolArray, LogitsFn, SamplerSettings, Step, TokenArray


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
        return ModelWindow(steps, manifest.mask_id, contract)


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
    encode and decode agree).
    """

    score: Score
    cell_mask: BoolArray
    mapping: VoiceMapping
    grid: TimeGrid
    tokens: TokenArray

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
        return MidiPayload(score, mask, mapping, grid, tokens)


def _padded(array: npt.NDArray[Any], length: int, fill: Any) -> npt.NDArray[Any]:
    """``array`` [..., n] right-padded along the last axis to at least ``length``."""
    missing = length - array.shape[-1]
    if missing <= 0:
        return array
    pad = np.full((*array.shape[:-1], missing), fill, dtype=array.dtype)
    return np.concatenate([array, pad], axis=-1)


def window_problem(
    grid_tokens: TokenArray, cell_mask: BoolArray, window: Window, model: ModelWindow
) -> TokenProblem:
    """The TokenProblem of one window; ``grid_tokens`` [4, n] or [B, 4, n] (one per variation).

    Steps past the end of a short piece are rests and never editable, as in
    training's padded windows.
    """
    stop = window.start + model.steps
    tokens = _padded(grid_tokens, stop, model.contract.rest_token)[..., window.start : stop]
    editable = np.zeros((N_VOICES, model.steps), dtype=bool)
    lo, hi = window.edit_from - window.start, window.edit_to - window.start
    editable[:, lo:hi] = _padded(cell_mask, stop, False)[:, window.edit_from : window.edit_to]
    flat = tokens.reshape(*tokens.shape[:-2], N_VOICES * model.steps)
    mask = np.broadcast_to(editable.reshape(-1), flat.shape).copy()
    return TokenProblem(np.where(mask, model.mask_id, flat), mask, (N_VOICES, model.steps))


def write_window(
    grid_tokens: TokenArray, window: Window, window_tokens: TokenArray, model: ModelWindow
) -> None:
    """Copy generated window tokens [B, 4*T] into ``grid_tokens`` [B, 4, n] (in place)."""
    inside = min(model.steps, grid_tokens.shape[-1] - window.start)
    generated = window_tokens.reshape(-1, N_VOICES, model.steps)[:, :, :inside]
    grid_tokens[:, :, window.start : window.start + inside] = generated


class MidiCodec:
    """The :class:`engine.jobs.MediumCodec` for MIDI: :class:`MidiPayload` in, :class:`Score` out.

    Handles regions that fit one model window; :func:`repaint` handles any.
    """

    def __init__(self, model: ModelWindow) -> None:
        self.model = model

    @staticmethod
    def from_manifest(manifest: MidiModelFacts) -> MidiCodec:
        return MidiCodec(ModelWindow.from_manifest(manifest))

    def windows(self, payload: MidiPayload) -> list[Window]:
        return plan_windows(
            region_columns(payload.cell_mask),
            self.model.steps,
            self.model.contract.steps_per_quarter,
        )

    def fits(self, payload: MidiPayload) -> bool:
        return len(self.windows(payload)) == 1

    def encode(self, payload: MidiPayload) -> TokenProblem:
        windows = self.windows(payload)
        if len(windows) != 1:
            raise MidiError(
                f"the region needs {len(windows)} windows of {self.model.steps} steps; "
                "use engine.media.midi.repaint()"
            )
        return window_problem(payload.tokens, payload.cell_mask, windows[0], self.model)

    def decode(self, payload: MidiPayload, tokens: TokenArray) -> list[Score]:
        grid_tokens = np.repeat(payload.tokens[None], tokens.shape[0], axis=0)
        write_window(grid_tokens, self.windows(payload)[0], tokens, self.model)
        return [decode_grid(payload, g, self.model.contract) for g in grid_tokens]


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


# --------------------------------------------------------------------------- multi-window repaint


@dataclass(frozen=True)
class RepaintProgress:
    """One sampler step of one window; ``step.tokens`` are that window's tokens [B, 4*T]."""

    window_index: int  # 0-based
    window_count: int
    window: Window
    step: Step


def _window_settings(settings: SamplerSettings, index: int) -> SamplerSettings:
    """Distinct but reproducible noise per window."""
    return dataclasses.replace(settings, seed=settings.seed + 7919 * index)


def sample_windows(
    payload: MidiPayload,
    logits_fn: LogitsFn,
    model: ModelWindow,
    settings: SamplerSettings,
    on_step: Callable[[RepaintProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TokenArray:
    """Sample every window in turn; returns the full token grids [B, 4, n_steps]."""
    windows = plan_windows(
        region_columns(payload.cell_mask), model.steps, model.contract.steps_per_quarter
    )
    grids = np.repeat(payload.tokens[None], settings.variations, axis=0)
    for index, window in enumerate(windows):
        problem = window_problem(grids, payload.cell_mask, window, model)
        final = problem.tokens
        for step in sample(
            logits_fn,
            problem.tokens,
            problem.editable_mask,
            model.mask_id,
            _window_settings(settings, index),
            grid_shape=problem.grid_shape,
        ):
            if should_stop is not None and should_stop():
                raise Cancelled()
            if on_step is not None:
                on_step(RepaintProgress(index, len(windows), window, step))
            final = step.tokens
        write_window(grids, window, final, model)
    return grids


def repaint(
    score: Score,
    cell_mask: npt.ArrayLike,
    logits_fn: LogitsFn,
    manifest: MidiModelFacts,
    settings: SamplerSettings,
    on_step: Callable[[RepaintProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    mapping: VoiceMapping | None = None,
) -> list[Score]:
    """Repaint the cells ``cell_mask`` [4, n_steps] of ``score``; one Score per variation.

    Raises :class:`engine.jobs.Cancelled` when ``should_stop`` turns true
    between steps (nothing is returned then; ``score`` is never changed).
    """
    model = ModelWindow.from_manifest(manifest)
    payload = MidiPayload.of(score, cell_mask, mapping, model.contract)
    grids = sample_windows(payload, logits_fn, model, settings, on_step, should_stop)
    return [decode_grid(payload, g, model.contract) for g in grids]


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
