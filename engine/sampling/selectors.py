"""Position selectors: which of the still-masked positions to reveal this step.

Every selector has the same signature (:class:`Selector`) and works on one
variation at a time, with that variation's own RNG, so selectors can be swapped
freely and variations never influence each other:

- ``confidence`` (MaskGIT): keep the sampled tokens the model is surest of,
  ranked by ``log p + tau * gumbel`` where ``tau = choice_temperature *
  (1 - step / total)`` anneals linearly to 0 at the last step.
- ``halton`` (Halton-MaskGIT): reveal in a fixed low-discrepancy order, so
  each step's tokens are spread evenly over the grid and far from each other.
- ``dilated`` (DUS, dilated unmasking): reveal coarse-to-fine on a dilated
  lattice, stride halving each level (1-D: 0, 4, 2, 6, 1, 3, 5, 7 for 8).
- ``random``: a uniformly random subset, the classic masked-diffusion baseline.

The spatial orders depend only on the grid shape and are cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
PositionArray = npt.NDArray[np.intp]

# Trailing-zero level given to coordinate 0, which is divisible by every stride.
_LEVEL_OF_ZERO = 64


@dataclass(frozen=True)
class SelectionContext:
    """Facts about the current step that a selector may use.

    ``step`` is 1-based, ``total`` is the number of steps actually run and
    ``grid_shape`` multiplies to N (one entry for sequences).
    """

    step: int
    total: int
    grid_shape: tuple[int, ...]
    choice_temperature: float


class Selector(Protocol):
    """Pick ``count`` positions to reveal among ``candidates``.

    ``confidence`` [N] float64 is the probability of the token just sampled at
    each candidate (ignored elsewhere); ``candidates`` [N] bool marks the
    still-masked editable positions. Returns ``count`` distinct candidate
    positions (flat indices).
    """

    def __call__(
        self,
        confidence: Float64Array,
        candidates: BoolArray,
        count: int,
        context: SelectionContext,
        rng: np.random.Generator,
    ) -> PositionArray: ...


def top_candidates(priority: Float64Array, candidates: BoolArray, count: int) -> PositionArray:
    """The ``count`` candidates with the highest priority; ties go to the lower index."""
    positions = np.flatnonzero(candidates)
    if not 0 <= count <= positions.size:
        raise ValueError(f"cannot pick {count} of {positions.size} candidate positions")
    ranked = np.argsort(-priority[positions], kind="stable")
    return positions[ranked[:count]]


def select_confidence(
    confidence: Float64Array,
    candidates: BoolArray,
    count: int,
    context: SelectionContext,
    rng: np.random.Generator,
) -> PositionArray:
    """MaskGIT: highest log-probability plus annealed Gumbel noise.

    Noise on the log scale keeps exploration independent of how peaked the
    model is; annealing it to 0 makes the last choices purely greedy.
    """
    noise_scale = context.choice_temperature * (1.0 - context.step / context.total)
    gumbel = rng.gumbel(size=confidence.shape)
    log_confidence = np.log(np.maximum(confidence, np.finfo(np.float64).tiny))
    return top_candidates(log_confidence + noise_scale * gumbel, candidates, count)


def select_halton(
    confidence: Float64Array,
    candidates: BoolArray,
    count: int,
    context: SelectionContext,
    rng: np.random.Generator,
) -> PositionArray:
    """Halton-MaskGIT: the first ``count`` candidates in :func:`halton_order`."""
    return _in_fixed_order(halton_order(context.grid_shape), candidates, count)


def select_dilated(
    confidence: Float64Array,
    candidates: BoolArray,
    count: int,
    context: SelectionContext,
    rng: np.random.Generator,
) -> PositionArray:
    """DUS: the first ``count`` candidates in :func:`dilated_order`."""
    return _in_fixed_order(dilated_order(context.grid_shape), candidates, count)


def select_random(
    confidence: Float64Array,
    candidates: BoolArray,
    count: int,
    context: SelectionContext,
    rng: np.random.Generator,
) -> PositionArray:
    """A uniformly random subset of the candidates."""
    return top_candidates(rng.random(candidates.shape), candidates, count)


def _in_fixed_order(order: PositionArray, candidates: BoolArray, count: int) -> PositionArray:
    """The first ``count`` candidates along a precomputed order of all positions."""
    if order.size != candidates.size:
        raise ValueError(f"grid of {order.size} positions does not match {candidates.size} tokens")
    rank = np.empty(order.size, dtype=np.float64)
    rank[order] = np.arange(order.size)
    return top_candidates(-rank, candidates, count)


@lru_cache(maxsize=64)
def halton_order(grid_shape: tuple[int, ...]) -> PositionArray:
    """All flat positions of the grid in Halton order (a permutation of range(N)).

    Axis ``i`` uses the ``i``-th prime as base: (2, 3) for images and piano
    rolls, base 2 (van der Corput) for sequences. Point ``k`` lands in cell
    ``floor(halton_k * size)`` per axis; repeats are skipped. Taking
    ``base**e >= 2 * size`` points per axis puts a whole elementary Halton box
    inside every cell, so every cell is reached; the raster fallback is a guard.
    """
    shape = _checked_shape(grid_shape)
    bases = _first_primes(len(shape))
    n_points = int(
        np.prod([_power_at_least(base, 2 * size) for base, size in zip(bases, shape, strict=True)])
    )
    index = np.arange(n_points, dtype=np.int64)
    cells = tuple(
        np.minimum(np.floor(_radical_inverse(index, base) * size).astype(np.intp), size - 1)
        for base, size in zip(bases, shape, strict=True)
    )
    flat = np.ravel_multi_index(cells, shape)
    return _first_occurrences(flat, int(np.prod(shape)))


@lru_cache(maxsize=64)
def dilated_order(grid_shape: tuple[int, ...]) -> PositionArray:
    """All flat positions, coarse-to-fine on a dilated lattice (DUS), as a permutation.

    A position's level is the smallest number of trailing zero bits among its
    coordinates: level L holds the lattice points of stride 2**L not on a
    coarser lattice. Levels go from coarse to fine, raster order inside one.
    In 1-D that is dilated unmasking (stride N/2, N/4, ..., 1, so tokens
    revealed together are far apart); in 2-D it is Adam7-like interlacing over
    both axes at once, which keeps tokens of one step apart in both directions.
    """
    shape = _checked_shape(grid_shape)
    coords = np.indices(shape).reshape(len(shape), -1)
    level = np.min(_trailing_zeros(coords), axis=0)
    flat = np.arange(coords.shape[1])
    return np.lexsort((flat, -level)).astype(np.intp)


def _checked_shape(grid_shape: tuple[int, ...]) -> tuple[int, ...]:
    if not grid_shape or any(size < 1 for size in grid_shape):
        raise ValueError(f"grid_shape must be non-empty with positive sizes, got {grid_shape}")
    return tuple(int(size) for size in grid_shape)


def _radical_inverse(index: npt.NDArray[np.int64], base: int) -> Float64Array:
    """Van der Corput radical inverse of each index in ``base``."""
    result = np.zeros(index.shape, dtype=np.float64)
    remaining = index.copy()
    scale = 1.0 / base
    while np.any(remaining > 0):
        result += (remaining % base) * scale
        remaining //= base
        scale /= base
    return result


def _first_occurrences(flat: npt.NDArray[np.intp], n: int) -> PositionArray:
    """Distinct values of ``flat`` in order of first appearance, then any missing ones."""
    _, first = np.unique(flat, return_index=True)
    order = flat[np.sort(first)]
    missing = np.setdiff1d(np.arange(n), order)
    return np.concatenate([order, missing]).astype(np.intp)


def _trailing_zeros(values: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
    """Trailing zero bits of each non-negative value; 0 gets the coarsest level."""
    lowest_bit = values & -values
    zeros = np.log2(np.maximum(lowest_bit, 1)).astype(np.int64)
    return np.where(values == 0, _LEVEL_OF_ZERO, zeros)


def _power_at_least(base: int, minimum: int) -> int:
    power = 1
    while power < minimum:
        power *= base
    return power


def _first_primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes):
            primes.append(candidate)
        candidate += 1
    return primes


SELECTOR_FNS: Mapping[str, Selector] = {
    "confidence": select_confidence,
    "halton": select_halton,
    "dilated": select_dilated,
    "random": select_random,
}


def get_selector(name: str) -> Selector:
    """Look a selector up by its settings name; unknown names are a ValueError."""
    try:
        return SELECTOR_FNS[name]
    except KeyError:
        known = ", ".join(SELECTOR_FNS)
        raise ValueError(f"unknown selector {name!r}; known selectors: {known}") from None
