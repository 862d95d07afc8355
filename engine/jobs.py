"""One generation, from an immutable request to decoded variations.

The app builds a :class:`GenerateRequest` on the GUI thread (a snapshot of the
document and its mask, never the live objects), hands it to the engine worker,
and the worker runs it. The sampler and the worker know nothing about pixels,
notes or joints: a medium plugs in through a codec of one of two kinds.

- :class:`MediumCodec` turns an edit into *one* token problem (``encode``) and
  the final tokens back into documents (``decode``).
- :class:`WindowedCodec` describes an edit as an ordered list of model
  windows (a long MIDI region, several image holes, a long motion clip). Each
  variation carries a state from window to window, so window k is encoded
  from what windows 0..k-1 generated *in that variation*.

:func:`run_windows` / :func:`run_model_windows` run either kind: window k of
all B variations is sampled in one batched sampler call, every step is
reported as a :class:`Progress` (window index and count plus the sampler's
:class:`~engine.sampling.types.Step`), and cancellation is checked before
each window and between steps. :func:`run_generation` and
:func:`run_model_generation` are the same runs reporting bare steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.sampling.types import (
    BoolArray,
    FloatArray,
    LogitsFn,
    SamplerSettings,
    SideInputs,
    Step,
    TokenArray,
)


@dataclass(frozen=True)
class TokenProblem:
    """What a codec hands the sampler: known tokens, which of them to regenerate, grid layout.

    ``tokens`` and ``editable_mask`` are [N] (shared by every variation) or
    [B, N] (one row per variation); ``grid_shape`` multiplies to N and tells
    spatial selectors (Halton) how the sequence is laid out.
    """

    tokens: TokenArray
    editable_mask: BoolArray
    grid_shape: tuple[int, ...]
    condition: int | None = None
    side_inputs: SideInputs | None = None  # the model's io.side_inputs for this window
    steps: int | None = None  # this window's sampler steps, when the codec wants fewer or more
    logit_bias: FloatArray | None = None  # [N, V] or [B, N, V], see engine.sampling.sample


def requested_side_inputs(
    names: Sequence[str], available: Mapping[str, FloatArray]
) -> SideInputs | None:
    """The side inputs a model asks for (manifest ``io.side_inputs``), picked from what the
    codec can give; None when it asks for none. A name the codec lacks is left out, so the
    runtime names it as missing when the logits function is made."""
    if not names:
        return None
    return {name: available[name] for name in names if name in available}


class MediumCodec(Protocol):
    """Turns a document snapshot into tokens and tokens back into documents (one window).

    ``encode`` and ``decode`` run on the worker thread; they must not touch Qt
    and must not mutate ``payload``.
    """

    def encode(self, payload: Any) -> TokenProblem: ...

    def decode(self, payload: Any, tokens: TokenArray) -> list[Any]:
        """Decode final tokens [B, N] into B result documents (composited with the original)."""
        ...


@runtime_checkable
class WindowedCodec(Protocol):
    """An edit as an ordered list of model windows; each variation carries a state through them.

    The runner calls, for B variations and windows ``k = 0 .. window_count - 1``::

        states = (initial_state(payload),) * B
        for k: problem = encode_window(payload, states, k)     # sampled for all B at once
               states = apply_window(payload, states, k, final_tokens)   # [B, N]
        results = finish(payload, states)

    A state is any value the codec likes (a token grid so far, an image so
    far) and must be treated as immutable: every variation starts from the
    same initial state object, and live previews read the states a window
    started from (:attr:`Progress.states`) on the GUI thread while the worker
    goes on. ``apply_window`` therefore returns new states and never changes
    the ones it is given. All methods run on the worker thread; none may touch
    Qt or mutate ``payload``.
    """

    def window_count(self, payload: Any) -> int:
        """How many windows the edit needs (at least one)."""
        ...

    def initial_state(self, payload: Any) -> Any:
        """The state every variation starts from (the unedited document, in the codec's terms)."""
        ...

    def encode_window(self, payload: Any, states: Sequence[Any], window: int) -> TokenProblem:
        """Window ``window``'s problem given each variation's state ``states[b]``.

        Tokens and editable mask are [N] when every variation gets the same
        problem, or [B, N] with row b built from ``states[b]``; the grid shape
        and condition are shared.
        """
        ...

    def apply_window(
        self, payload: Any, states: Sequence[Any], window: int, tokens: TokenArray
    ) -> list[Any]:
        """New states after window ``window``: ``tokens`` [B, N] are its final tokens, row b
        for ``states[b]``; returns B new states."""
        ...

    def finish(self, payload: Any, states: Sequence[Any]) -> list[Any]:
        """B result documents from the final states, composited so everything outside the mask
        is bit-exact."""
        ...


Codec = MediumCodec | WindowedCodec
"""What a :class:`GenerateRequest` carries: either kind of codec."""


class SingleWindow:
    """A :class:`MediumCodec` as a one-window :class:`WindowedCodec`.

    A variation's state is ``None`` before the window and its final token
    row [N] after it; ``finish`` decodes all rows in one ``decode`` call, so
    a plain codec sees exactly the calls it saw before windows existed.
    """

    def __init__(self, codec: MediumCodec) -> None:
        self.codec = codec

    def window_count(self, payload: Any) -> int:
        return 1

    def initial_state(self, payload: Any) -> None:
        return None

    def encode_window(self, payload: Any, states: Sequence[Any], window: int) -> TokenProblem:
        return self.codec.encode(payload)

    def apply_window(
        self, payload: Any, states: Sequence[Any], window: int, tokens: TokenArray
    ) -> list[Any]:
        return list(np.asarray(tokens, dtype=np.int64))

    def finish(self, payload: Any, states: Sequence[Any]) -> list[Any]:
        return self.codec.decode(payload, np.stack(states))


def as_windowed(codec: Codec) -> WindowedCodec:
    """``codec`` itself when it is windowed, else wrapped in :class:`SingleWindow`."""
    if isinstance(codec, WindowedCodec):
        return codec
    return SingleWindow(codec)


@dataclass(frozen=True)
class Progress:
    """One sampler step of one window: what the worker reports and live previews draw.

    ``step.tokens`` [B, N] are the tokens of window ``window`` (mask id where
    still masked); ``problem`` is that window's problem as the codec encoded
    it (its known tokens, for a preview of still-masked positions); ``states``
    are the per-variation states the window started from (read-only: what
    earlier windows generated).
    """

    window: int  # 0-based
    windows: int
    step: Step
    problem: TokenProblem
    states: tuple[Any, ...] = ()

    @property
    def fraction(self) -> float:
        """Share of the whole edit done, in [0, 1] (windows count equally)."""
        return (self.window + self.step.index / max(1, self.step.total)) / max(1, self.windows)

    @property
    def done(self) -> bool:
        """The last step of the last window."""
        return self.window + 1 == self.windows and self.step.done


@dataclass(frozen=True)
class GenerateRequest:
    """An immutable job. ``generation`` lets the app drop results of stale requests."""

    generation: int
    model_name: str
    settings: SamplerSettings
    payload: Any
    codec: Codec = field(compare=False)


@dataclass(frozen=True)
class GenerateResult:
    generation: int
    variations: list[Any]
    tokens: TokenArray  # [B, N]: the final tokens of the last window
    provider: str
    seconds: float


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the worker when the user cancels between steps."""


class ConditionalLogits(Protocol):
    """A loaded model that can make a logits function for a condition (``None`` = unconditional).

    :class:`engine.runtime.Transformer` is one.
    """

    def logits_fn(
        self, condition: int | None = None, side_inputs: SideInputs | None = None
    ) -> LogitsFn: ...


LogitsPicker = Callable[[TokenProblem], tuple[LogitsFn, LogitsFn | None]]
"""Chooses (logits function, unconditional one for guidance or None) for a window's problem."""

WINDOW_SEED_STRIDE = 7919
"""Window k samples with ``seed + k * WINDOW_SEED_STRIDE``: distinct, reproducible noise per
window, and window 0 (every single-window edit) with the seed as given."""


def window_settings(settings: SamplerSettings, window: int) -> SamplerSettings:
    """The sampler settings of window ``window`` (only the seed differs)."""
    if window == 0:
        return settings
    return dataclasses.replace(settings, seed=settings.seed + WINDOW_SEED_STRIDE * window)


# --------------------------------------------------------------------------- runners


def run_windows(
    request: GenerateRequest,
    logits_fn: LogitsFn,
    mask_id: int,
    on_progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
    uncond_logits_fn: LogitsFn | None = None,
) -> tuple[list[Any], TokenArray]:
    """Run every window of the request with fixed logits functions; return (B results, tokens).

    ``tokens`` [B, N] are the last window's final tokens. Raises
    :class:`Cancelled` when ``should_stop`` turns true before a window or
    between steps: nothing has been decoded or written then, and the payload
    is never changed.
    """

    def fixed(_problem: TokenProblem) -> tuple[LogitsFn, LogitsFn | None]:
        return logits_fn, uncond_logits_fn

    return _run(request, fixed, mask_id, on_progress, should_stop)


def run_model_windows(
    request: GenerateRequest,
    model: ConditionalLogits,
    mask_id: int,
    on_progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> tuple[list[Any], TokenArray]:
    """Like :func:`run_windows`, but picks the logits functions from each window's problem.

    The codec decides the condition (a class, an instrument) only when it
    encodes, so the worker cannot build the logits function up front.
    Classifier-free guidance gets the unconditional function when the
    settings ask for it and the problem is conditioned.
    """
    return _run(request, model_picker(model, request.settings), mask_id, on_progress, should_stop)


def run_generation(
    request: GenerateRequest,
    logits_fn: LogitsFn,
    mask_id: int,
    on_step: Callable[[Step], None],
    should_stop: Callable[[], bool],
    uncond_logits_fn: LogitsFn | None = None,
) -> tuple[list[Any], TokenArray]:
    """:func:`run_windows` reporting each sampler step alone (callers that need no window)."""
    return run_windows(
        request, logits_fn, mask_id, _steps_only(on_step), should_stop, uncond_logits_fn
    )


def run_model_generation(
    request: GenerateRequest,
    model: ConditionalLogits,
    mask_id: int,
    on_step: Callable[[Step], None],
    should_stop: Callable[[], bool],
) -> tuple[list[Any], TokenArray]:
    """:func:`run_model_windows` reporting each sampler step alone."""
    return run_model_windows(request, model, mask_id, _steps_only(on_step), should_stop)


def model_picker(model: ConditionalLogits, settings: SamplerSettings) -> LogitsPicker:
    """Logits functions for a problem's condition, made once per condition and reused.

    A problem with side inputs (one window's kept frames, say) gets functions of its own.
    """
    made: dict[int | None, LogitsFn] = {}

    def logits_for(condition: int | None, side_inputs: SideInputs | None) -> LogitsFn:
        if side_inputs is not None:
            return model.logits_fn(condition, side_inputs)
        if condition not in made:
            made[condition] = model.logits_fn(condition)
        return made[condition]

    def pick(problem: TokenProblem) -> tuple[LogitsFn, LogitsFn | None]:
        guided = problem.condition is not None and settings.guidance_scale > 0
        side = problem.side_inputs
        return logits_for(problem.condition, side), logits_for(None, side) if guided else None

    return pick


def _steps_only(on_step: Callable[[Step], None]) -> Callable[[Progress], None]:
    return lambda progress: on_step(progress.step)


def _run(
    request: GenerateRequest,
    pick: LogitsPicker,
    mask_id: int,
    on_progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> tuple[list[Any], TokenArray]:
    codec = as_windowed(request.codec)
    payload, variations = request.payload, request.settings.variations
    count = int(codec.window_count(payload))
    if count < 1:
        raise ValueError("nothing to generate: the edit needs no model window")
    states: tuple[Any, ...] = (codec.initial_state(payload),) * variations
    final: TokenArray | None = None
    for window in range(count):
        _stop_if(should_stop)  # also: the job went stale while queued (encoding is not free)
        problem = codec.encode_window(payload, states, window)
        run = _WindowRun(request, window, count, problem, states)
        final = run.sample(pick, mask_id, on_progress, should_stop)
        _stop_if(should_stop)  # cancelled during the last step: skip decoding
        states = _checked(codec.apply_window(payload, states, window, final), variations)
    assert final is not None
    return list(codec.finish(payload, states)), final


@dataclass(frozen=True)
class _WindowRun:
    """One window of one request: its problem and the states it starts from."""

    request: GenerateRequest
    window: int
    windows: int
    problem: TokenProblem
    states: tuple[Any, ...]

    def sample(
        self,
        pick: LogitsPicker,
        mask_id: int,
        on_progress: Callable[[Progress], None],
        should_stop: Callable[[], bool],
    ) -> TokenArray:
        """Sample all variations in one batched run; the final tokens [B, N]."""
        from engine.sampling import sample

        problem = self.problem
        logits_fn, uncond = pick(problem)
        settings = window_settings(self.request.settings, self.window)
        if problem.steps is not None:
            settings = dataclasses.replace(settings, steps=problem.steps)
        final: TokenArray | None = None
        for step in sample(
            logits_fn,
            problem.tokens,
            problem.editable_mask,
            mask_id,
            settings,
            grid_shape=problem.grid_shape,
            uncond_logits_fn=uncond,
            logit_bias=problem.logit_bias,
        ):
            _stop_if(should_stop)
            on_progress(Progress(self.window, self.windows, step, problem, self.states))
            final = step.tokens
        if final is None:  # nothing editable: the sampler yields no step
            rows = (settings.variations, np.shape(problem.tokens)[-1])
            final = np.broadcast_to(np.asarray(problem.tokens, dtype=np.int64), rows).copy()
        return final


def _stop_if(should_stop: Callable[[], bool]) -> None:
    if should_stop():
        raise Cancelled()


def _checked(states: Sequence[Any], variations: int) -> tuple[Any, ...]:
    if len(states) != variations:
        raise ValueError(f"apply_window returned {len(states)} states for {variations} variations")
    return tuple(states)
