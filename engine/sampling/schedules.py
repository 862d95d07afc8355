"""Mask schedules: how many editable tokens are still masked after each step.

A schedule is a function of progress ``r`` in [0, 1] (0 before the first step,
1 after the last) returning the *fraction of editable tokens still masked*. It
is passed around as a plain function so a new one is a three-line addition.
Every built-in schedule is 1 at r = 0, 0 at r = 1 and non-increasing:

- ``cosine`` (MaskGIT): ``cos(pi/2 * r)``. Flat at the start, so the first
  steps reveal few tokens and the model commits to a layout slowly.
- ``arccos`` (Halton-MaskGIT): ``2/pi * arccos(r)``. Slope -2/pi at the start
  and very steep at the end: more tokens early than cosine, fewer than linear,
  and a large final step.
- ``linear``: ``1 - r``, the same number of tokens every step.

Counts only ever concern *editable* tokens; tokens outside the editable mask
are not part of any count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]

ScheduleFn = Callable[[Float64Array], Float64Array]
"""Maps progress r in [0, 1] (any shape) to the fraction still masked (same shape)."""

# floor(n * f(r)) must not lose a whole token to rounding, e.g. 6 * (1 - 1/3).
_ROUNDING_SLACK = 1e-9


def cosine(progress: Float64Array) -> Float64Array:
    """MaskGIT's schedule: reveals few tokens first, most at the end."""
    return np.cos(np.pi / 2 * np.clip(progress, 0.0, 1.0))


def arccos(progress: Float64Array) -> Float64Array:
    """Halton-MaskGIT's ``2/pi * arccos(r)``: between linear and cosine early, steep late."""
    return np.arccos(np.clip(progress, 0.0, 1.0)) * (2.0 / np.pi)


def linear(progress: Float64Array) -> Float64Array:
    """The same number of tokens per step."""
    return 1.0 - np.clip(progress, 0.0, 1.0)


SCHEDULE_FNS: Mapping[str, ScheduleFn] = {"cosine": cosine, "arccos": arccos, "linear": linear}


def get_schedule(name: str) -> ScheduleFn:
    """Look a schedule up by its settings name; unknown names are a ValueError."""
    try:
        return SCHEDULE_FNS[name]
    except KeyError:
        known = ", ".join(SCHEDULE_FNS)
        raise ValueError(f"unknown schedule {name!r}; known schedules: {known}") from None


def effective_steps(steps: int, n_editable: int) -> int:
    """The number of steps actually run: ``min(steps, n_editable)``.

    More steps than editable tokens would force steps that reveal nothing, so
    they are dropped; with no editable tokens there are no steps at all.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if n_editable < 0:
        raise ValueError(f"n_editable must be non-negative, got {n_editable}")
    return min(steps, n_editable)


def masked_counts(schedule: ScheduleFn, steps: int, n_editable: int) -> CountArray:
    """Editable tokens still masked before step 1 and after each step: [T + 1].

    ``T = effective_steps(steps, n_editable)``. Entry 0 is ``n_editable`` and
    entry T is 0. In between the count follows ``floor(n * schedule(t / T))``,
    clipped so that every step reveals at least one token and every later step
    still has one to reveal; this also tames schedules that are not monotone.
    """
    total = effective_steps(steps, n_editable)
    counts = np.zeros(total + 1, dtype=np.int64)
    counts[0] = n_editable
    if total == 0:
        return counts
    progress = np.arange(total + 1, dtype=np.float64) / total
    targets = np.floor(n_editable * schedule(progress) + _ROUNDING_SLACK)
    for t in range(1, total):
        counts[t] = np.clip(int(targets[t]), total - t, counts[t - 1] - 1)
    return counts


def reveal_counts(schedule: ScheduleFn, steps: int, n_editable: int) -> CountArray:
    """Tokens revealed at each step: [T], each >= 1, summing to ``n_editable``.

    The last step reveals everything that is left. ``T`` is
    ``effective_steps(steps, n_editable)``, so the result is empty when nothing
    is editable.
    """
    return -np.diff(masked_counts(schedule, steps, n_editable))
