"""One generation, from an immutable request to decoded variations.

The app builds a :class:`GenerateRequest` on the GUI thread (a snapshot of the
document and its mask, never the live objects), hands it to the engine worker,
and the worker calls :func:`run_generation`. A medium plugs in through a
:class:`MediumCodec`; the sampler and the worker know nothing about pixels,
notes or joints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.sampling.types import BoolArray, LogitsFn, SamplerSettings, Step, TokenArray


@dataclass(frozen=True)
class TokenProblem:
    """What a codec hands the sampler: known tokens, which of them to regenerate, grid layout.

    ``tokens`` and ``editable_mask`` are [N]; ``grid_shape`` multiplies to N and
    tells spatial selectors (Halton) how the sequence is laid out.
    """

    tokens: TokenArray
    editable_mask: BoolArray
    grid_shape: tuple[int, ...]
    condition: int | None = None


class MediumCodec(Protocol):
    """Turns a document snapshot into tokens and tokens back into documents.

    ``encode`` and ``decode`` run on the worker thread; they must not touch Qt
    and must not mutate ``payload``.
    """

    def encode(self, payload: Any) -> TokenProblem: ...

    def decode(self, payload: Any, tokens: TokenArray) -> list[Any]:
        """Decode final tokens [B, N] into B result documents (composited with the original)."""
        ...


@dataclass(frozen=True)
class GenerateRequest:
    """An immutable job. ``generation`` lets the app drop results of stale requests."""

    generation: int
    model_name: str
    settings: SamplerSettings
    payload: Any
    codec: MediumCodec = field(compare=False)


@dataclass(frozen=True)
class GenerateResult:
    generation: int
    variations: list[Any]
    tokens: TokenArray  # [B, N]
    provider: str
    seconds: float


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the worker when the user cancels between steps."""


class ConditionalLogits(Protocol):
    """A loaded model that can make a logits function for a condition (``None`` = unconditional).

    :class:`engine.runtime.Transformer` is one.
    """

    def logits_fn(self, condition: int | None = None) -> LogitsFn: ...


def run_generation(
    request: GenerateRequest,
    logits_fn: LogitsFn,
    mask_id: int,
    on_step: Callable[[Step], None],
    should_stop: Callable[[], bool],
    uncond_logits_fn: LogitsFn | None = None,
) -> tuple[list[Any], TokenArray]:
    """Encode, sample step by step (reporting each step), decode.

    Raises :class:`Cancelled` when ``should_stop`` turns true between steps;
    nothing has been decoded or written then, so the document is untouched.
    """
    problem = _encode(request, should_stop)
    return _sample_and_decode(
        request, problem, logits_fn, mask_id, on_step, should_stop, uncond_logits_fn
    )


def run_model_generation(
    request: GenerateRequest,
    model: ConditionalLogits,
    mask_id: int,
    on_step: Callable[[Step], None],
    should_stop: Callable[[], bool],
) -> tuple[list[Any], TokenArray]:
    """Like :func:`run_generation`, but picks the logits functions from the encoded problem.

    The codec decides the condition (a class, an instrument) only when it
    encodes, so the worker cannot build the logits function up front.
    Classifier-free guidance gets the unconditional function when the
    settings ask for it and the problem is conditioned.
    """
    problem = _encode(request, should_stop)
    logits_fn = model.logits_fn(problem.condition)
    guided = problem.condition is not None and request.settings.guidance_scale > 0
    uncond = model.logits_fn(None) if guided else None
    return _sample_and_decode(request, problem, logits_fn, mask_id, on_step, should_stop, uncond)


def _encode(request: GenerateRequest, should_stop: Callable[[], bool]) -> TokenProblem:
    """Encode unless the job went stale while queued (encoding an image is not free)."""
    if should_stop():
        raise Cancelled()
    return request.codec.encode(request.payload)


def _sample_and_decode(
    request: GenerateRequest,
    problem: TokenProblem,
    logits_fn: LogitsFn,
    mask_id: int,
    on_step: Callable[[Step], None],
    should_stop: Callable[[], bool],
    uncond_logits_fn: LogitsFn | None,
) -> tuple[list[Any], TokenArray]:
    from engine.sampling import sample

    final: TokenArray | None = None
    steps: Iterator[Step] = sample(
        logits_fn,
        problem.tokens,
        problem.editable_mask,
        mask_id,
        request.settings,
        grid_shape=problem.grid_shape,
        uncond_logits_fn=uncond_logits_fn,
    )
    for step in steps:
        if should_stop():
            raise Cancelled()
        on_step(step)
        final = step.tokens
    if should_stop():  # cancelled during the last step: skip the decode
        raise Cancelled()
    if final is None:  # nothing editable: the sampler yields no step
        final = np.repeat(problem.tokens[None, :], request.settings.variations, axis=0)
    return request.codec.decode(request.payload, final), final
