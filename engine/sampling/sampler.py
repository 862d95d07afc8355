"""Iterative masked-token sampling (MaskGIT family) as a generator of :class:`Step`.

The invariant everything else rests on: tokens outside the editable mask never
change, are never resampled and are not counted by the schedule. Only the
still-masked editable positions are gathered, sampled and offered to the
selector, and the logits function always sees the caller's original tokens
there.

Conventions chosen here (and tested):

- Variation ``b`` draws from its own ``np.random.default_rng(seed + b)``, and
  every random draw concerns that variation alone, so variation ``b`` of seed
  ``s`` equals variation 0 of seed ``s + b`` (given a logits function that
  treats batch rows independently and the same editable count per row).
- The number of steps actually run is ``min(steps, n_editable)``; with a
  per-variation mask [B, N] it is the smallest non-zero editable count, so every
  variation with editable tokens reveals at least one per step. ``Step.total``
  is that real count. Nothing editable: no step is yielded.
- Confidence is the probability of the sampled token under the distribution it
  was drawn from (after guidance, temperature and top-k).
- Remasking: from step 2 on, ``floor(remask_fraction * generated)`` already
  generated editable tokens are masked again before the model is called
  (lowest confidence first for the ``confidence`` selector, uniformly at
  random otherwise) and resampled. The schedule still fixes how many stay
  masked after each step, so the last step always leaves none.
- A mask id inside the vocabulary range is never drawn.
- ``logit_bias`` [N, V] or [B, N, V] is added to the (guided) logits before
  temperature and top-k: a medium's constraints (a part's pitch range, say)
  reach the one sampler through it, ``-inf`` bans a token at a position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.sampling.distribution import draw_tokens, guided_logits, token_probabilities
from engine.sampling.schedules import CountArray, get_schedule, masked_counts
from engine.sampling.selectors import SelectionContext, Selector, get_selector, top_candidates
from engine.sampling.types import (
    BoolArray,
    FloatArray,
    LogitsFn,
    SamplerSettings,
    Step,
    TokenArray,
)

Float64Array = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


def sample(
    logits_fn: LogitsFn,
    tokens: TokenArray,
    editable_mask: BoolArray,
    mask_id: int,
    settings: SamplerSettings,
    grid_shape: tuple[int, ...] | None = None,
    uncond_logits_fn: LogitsFn | None = None,
    logit_bias: FloatArray | None = None,
) -> Iterator[Step]:
    """Regenerate the editable tokens step by step, yielding a :class:`Step` after each.

    Parameters
    ----------
    logits_fn
        int64 tokens [B, N] -> float logits [B, N, V]; called once per step
        with all ``B = settings.variations`` variations batched.
    tokens, editable_mask
        [N] (shared by all variations) or [B, N], same shape. Editable
        positions start as ``mask_id`` whatever they held; the others are kept
        bit-exact and must be real tokens in [0, V).
    grid_shape
        How the N tokens are laid out (for ``halton`` and ``dilated``);
        defaults to a sequence ``(N,)``.
    uncond_logits_fn
        Unconditional logits for classifier-free guidance; called once per step
        only when ``settings.guidance_scale > 0``.
    logit_bias
        float [N, V] (shared) or [B, N, V], added to the logits of every
        position before sampling; ``-inf`` bans a token there. Each sampled
        position must keep a finite token.

    Settings and shapes are checked at once (ValueError); checks that need the
    vocabulary size V happen at the first step.
    """
    _check_settings(settings)
    token_rows, editable_rows = _as_batch(tokens, editable_mask, settings.variations)
    _check_known_tokens(token_rows, editable_rows, mask_id)
    layout = _layout(grid_shape, token_rows.shape[1])
    problem = _Problem(
        tokens=np.where(editable_rows, np.int64(mask_id), token_rows),
        editable=editable_rows,
        mask_id=mask_id,
        settings=settings,
        grid_shape=layout,
        masked_counts=_schedule_counts(editable_rows, settings),
        logit_bias=_as_bias(logit_bias, token_rows.shape),
    )
    guidance_fn = uncond_logits_fn if settings.guidance_scale > 0 else None
    return _iterate(problem, logits_fn, guidance_fn)


@dataclass(frozen=True)
class _Problem:
    """Validated inputs: start tokens [B, N] (mask id where editable), mask [B, N]."""

    tokens: TokenArray
    editable: BoolArray
    mask_id: int
    settings: SamplerSettings
    grid_shape: tuple[int, ...]
    masked_counts: CountArray  # [B, T + 1] editable tokens still masked after each step
    logit_bias: FloatArray | None = None  # [B, N, V], a broadcast view

    @property
    def total(self) -> int:
        return int(self.masked_counts.shape[1]) - 1


@dataclass
class _State:
    """The evolving sample; confidence [B, N] float64 is +inf outside the mask."""

    tokens: TokenArray
    still_masked: BoolArray
    confidence: Float64Array

    @classmethod
    def start(cls, problem: _Problem) -> _State:
        confidence = np.where(problem.editable, 0.0, np.inf)
        return cls(problem.tokens.copy(), problem.editable.copy(), confidence)

    def reveal(
        self, row: int, positions: IndexArray, tokens: TokenArray, probs: Float64Array
    ) -> None:
        self.tokens[row, positions] = tokens
        self.still_masked[row, positions] = False
        self.confidence[row, positions] = probs

    def mask(self, row: int, positions: IndexArray, mask_id: int) -> None:
        self.tokens[row, positions] = mask_id
        self.still_masked[row, positions] = True
        self.confidence[row, positions] = 0.0

    def snapshot(self, index: int, total: int) -> Step:
        return Step(
            index=index,
            total=total,
            tokens=self.tokens.copy(),
            still_masked=self.still_masked.copy(),
            confidence=self.confidence.astype(np.float32),
        )


def _iterate(problem: _Problem, logits_fn: LogitsFn, uncond_fn: LogitsFn | None) -> Iterator[Step]:
    """The generator behind :func:`sample` (a separate function so checks run eagerly)."""
    run = _Run(problem, logits_fn, uncond_fn)
    for index in range(1, problem.total + 1):
        remasked = run.remask() if index > 1 else np.zeros(len(run.rngs), dtype=np.int64)
        proposal, proposal_conf = run.propose(check_vocabulary=index == 1)
        run.keep(index, remasked, proposal, proposal_conf)
        yield run.state.snapshot(index, problem.total)


class _Run:
    """One sampling run: the problem, the models, one RNG per variation and the state."""

    def __init__(self, problem: _Problem, logits_fn: LogitsFn, uncond_fn: LogitsFn | None):
        self.problem = problem
        self.logits_fn = logits_fn
        self.uncond_fn = uncond_fn
        self.selector: Selector = get_selector(problem.settings.selector)
        self.rngs = [
            np.random.default_rng(problem.settings.seed + b) for b in range(problem.tokens.shape[0])
        ]
        self.state = _State.start(problem)

    def remask(self) -> CountArray:
        """Mask a fraction of the generated editable tokens again; return how many per row."""
        if self.problem.settings.remask_fraction == 0:
            return np.zeros(len(self.rngs), dtype=np.int64)
        return _remask(self.state, self.problem, self.rngs)

    def propose(self, check_vocabulary: bool) -> tuple[TokenArray, Float64Array]:
        """Sample every still-masked position: tokens [B, N] and their probability [B, N]."""
        problem, state = self.problem, self.state
        rows, cols = np.nonzero(state.still_masked)
        logits, vocab = _candidate_logits(
            state.tokens, rows, cols, problem, self.logits_fn, self.uncond_fn
        )
        if check_vocabulary:
            _check_vocabulary(problem, vocab)
        if problem.logit_bias is not None:
            logits = logits + problem.logit_bias[rows, cols]
        banned = problem.mask_id if 0 <= problem.mask_id < vocab else None
        settings = problem.settings
        probs = token_probabilities(logits, settings.temperature, settings.top_k, banned)
        uniforms = np.stack([rng.random(problem.tokens.shape[1]) for rng in self.rngs])
        sampled, chosen = draw_tokens(probs, uniforms[rows, cols])
        proposal = np.full(state.tokens.shape, problem.mask_id, dtype=np.int64)
        proposal[rows, cols] = sampled
        proposal_conf = np.zeros(state.confidence.shape, dtype=np.float64)
        proposal_conf[rows, cols] = chosen
        return proposal, proposal_conf

    def keep(
        self, index: int, remasked: CountArray, proposal: TokenArray, proposal_conf: Float64Array
    ) -> None:
        """Let the selector reveal the scheduled number of proposals in each variation."""
        problem = self.problem
        context = SelectionContext(
            index, problem.total, problem.grid_shape, problem.settings.choice_temperature
        )
        counts = problem.masked_counts
        for row, rng in enumerate(self.rngs):
            count = int(counts[row, index - 1] + remasked[row] - counts[row, index])
            candidates = self.state.still_masked[row]
            picked = self.selector(proposal_conf[row], candidates, count, context, rng)
            self.state.reveal(row, picked, proposal[row, picked], proposal_conf[row, picked])


def _candidate_logits(
    tokens: TokenArray,
    rows: IndexArray,
    cols: IndexArray,
    problem: _Problem,
    logits_fn: LogitsFn,
    uncond_fn: LogitsFn | None,
) -> tuple[Float64Array, int]:
    """float64 (guided) logits [M, V] at the still-masked positions, and V."""
    cond = _call_model(logits_fn, tokens)
    picked = cond[rows, cols].astype(np.float64)
    if uncond_fn is not None:
        uncond = _call_model(uncond_fn, tokens)
        if uncond.shape != cond.shape:
            raise ValueError(f"uncond logits {uncond.shape} do not match cond logits {cond.shape}")
        picked = guided_logits(
            picked, uncond[rows, cols].astype(np.float64), problem.settings.guidance_scale
        )
    return picked, int(cond.shape[2])


def _call_model(logits_fn: LogitsFn, tokens: TokenArray) -> npt.NDArray[np.floating]:
    """Call a logits function on a copy (it cannot corrupt our state) and check its output."""
    logits = np.asarray(logits_fn(tokens.copy()))
    if logits.ndim != 3 or logits.shape[:2] != tokens.shape or logits.shape[2] < 1:
        raise ValueError(
            f"logits must be [B, N, V] with [B, N] = {tokens.shape}, got {logits.shape}"
        )
    if not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(f"logits must be floating point, got {logits.dtype}")
    return logits


def _remask(state: _State, problem: _Problem, rngs: list[np.random.Generator]) -> CountArray:
    """Mask a fraction of the generated editable tokens again; return how many per row."""
    fraction = problem.settings.remask_fraction
    by_confidence = problem.settings.selector == "confidence"
    counts = np.zeros(len(rngs), dtype=np.int64)
    for row, rng in enumerate(rngs):
        generated = problem.editable[row] & ~state.still_masked[row]
        count = int(np.floor(fraction * np.count_nonzero(generated)))
        priority = -state.confidence[row] if by_confidence else rng.random(generated.shape)
        state.mask(row, top_candidates(priority, generated, count), problem.mask_id)
        counts[row] = count
    return counts


def _schedule_counts(editable: BoolArray, settings: SamplerSettings) -> CountArray:
    """Still-masked counts [B, T + 1] per variation, with one T for the batch."""
    schedule = get_schedule(settings.schedule)
    n_editable = editable.sum(axis=1)
    with_work = n_editable[n_editable > 0]
    total = min(settings.steps, int(with_work.min())) if with_work.size else 0
    counts = np.zeros((editable.shape[0], total + 1), dtype=np.int64)
    for row, n in enumerate(n_editable):
        if n > 0:
            counts[row] = masked_counts(schedule, total, int(n))
    return counts


def _check_settings(settings: SamplerSettings) -> None:
    get_schedule(settings.schedule)
    get_selector(settings.selector)
    rules = [
        (settings.steps >= 1, f"steps must be at least 1, got {settings.steps}"),
        (settings.variations >= 1, f"variations must be at least 1, got {settings.variations}"),
        (
            settings.temperature > 0 and np.isfinite(settings.temperature),
            f"temperature must be positive and finite, got {settings.temperature}",
        ),
        (
            settings.choice_temperature >= 0,
            f"choice_temperature must be >= 0, got {settings.choice_temperature}",
        ),
        (settings.top_k >= 0, f"top_k must be >= 0 (0 = off), got {settings.top_k}"),
        (
            0 <= settings.remask_fraction <= 1,
            f"remask_fraction must be in [0, 1], got {settings.remask_fraction}",
        ),
        (
            settings.guidance_scale >= 0,
            f"guidance_scale must be >= 0, got {settings.guidance_scale}",
        ),
        (settings.seed >= 0, f"seed must be >= 0, got {settings.seed}"),
    ]
    for ok, message in rules:
        if not ok:
            raise ValueError(message)


def _as_batch(
    tokens: TokenArray, editable_mask: BoolArray, variations: int
) -> tuple[TokenArray, BoolArray]:
    """Both inputs as [B, N] copies: int64 tokens and a bool mask."""
    token_array = np.asarray(tokens)
    mask_array = np.asarray(editable_mask)
    if not np.issubdtype(token_array.dtype, np.integer):
        raise ValueError(f"tokens must be integers, got {token_array.dtype}")
    if mask_array.dtype != np.bool_:
        raise ValueError(f"editable_mask must be boolean, got {mask_array.dtype}")
    if token_array.shape != mask_array.shape:
        raise ValueError(
            f"tokens {token_array.shape} and editable_mask {mask_array.shape} differ in shape"
        )
    if token_array.ndim == 1:
        token_array, mask_array = token_array[None, :], mask_array[None, :]
    elif token_array.ndim != 2 or token_array.shape[0] != variations:
        raise ValueError(
            f"tokens must be [N] or [variations={variations}, N], got {token_array.shape}"
        )
    batch = (variations, token_array.shape[1])
    return np.broadcast_to(token_array, batch).astype(np.int64), np.broadcast_to(
        mask_array, batch
    ).copy()


def _as_bias(bias: FloatArray | None, batch: tuple[int, ...]) -> FloatArray | None:
    """``bias`` as a read-only [B, N, V] view; its V is checked against the model's later."""
    if bias is None:
        return None
    array = np.asarray(bias)
    rows_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[0] == batch[0])
    if not rows_ok or array.shape[-2] != batch[1]:
        raise ValueError(
            f"logit_bias must be [N, V] or [B, N, V] with [B, N] = {batch}, got {array.shape}"
        )
    if np.isnan(array).any():
        raise ValueError("logit_bias contains NaN")
    return np.broadcast_to(array, (*batch, array.shape[-1]))


def _check_known_tokens(tokens: TokenArray, editable: BoolArray, mask_id: int) -> None:
    if np.any(tokens[~editable] == mask_id):
        raise ValueError(
            f"a token outside the editable mask equals the mask id {mask_id}; "
            "mark it editable or give it a real token"
        )


def _check_vocabulary(problem: _Problem, vocab: int) -> None:
    """Kept tokens must be real vocabulary entries, since they are never resampled."""
    kept = problem.tokens[~problem.editable]
    if kept.size and (kept.min() < 0 or kept.max() >= vocab):
        raise ValueError(
            f"tokens outside the editable mask must lie in [0, {vocab}), "
            f"found values in [{kept.min()}, {kept.max()}]"
        )
    bias = problem.logit_bias
    if bias is not None and bias.shape[-1] != vocab:
        raise ValueError(f"logit_bias has {bias.shape[-1]} tokens, the model {vocab}")


def _layout(grid_shape: tuple[int, ...] | None, n_tokens: int) -> tuple[int, ...]:
    if grid_shape is None:
        return (n_tokens,)
    layout = tuple(int(size) for size in grid_shape)
    if not layout or any(size < 1 for size in layout) or int(np.prod(layout)) != n_tokens:
        raise ValueError(
            f"grid_shape {grid_shape} must have positive sizes multiplying to N = {n_tokens}"
        )
    return layout
