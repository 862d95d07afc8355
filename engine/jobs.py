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


class Cancelled(Exception):
    """Raised inside the worker when the user cancels between steps."""


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
    from engine.sampling import sample

    problem = request.codec.encode(request.payload)
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
    if final is None:  # nothing editable: the sampler yields no step
        final = np.repeat(problem.tokens[None, :], request.settings.variations, axis=0)
    return request.codec.decode(request.payload, final), final
