"""From raw logits to sampled tokens: guidance, temperature, top-k, softmax, draw.

Everything here works on the rows that are actually sampled (the still-masked
editable positions, gathered into [M, V]) and in float64, so a softmax over
float32 logits of large magnitude stays finite and a large image never needs a
float64 copy of the whole [B, N, V] tensor.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]
TokenArray = npt.NDArray[np.int64]


def guided_logits(cond: Float64Array, uncond: Float64Array, scale: float) -> Float64Array:
    """Classifier-free guidance ``u + (1 + s) * (c - u)``.

    With this convention ``s = 0`` is the plain conditional model and larger
    ``s`` pushes further away from the unconditional one (Muse, Halton-MaskGIT).
    """
    return uncond + (1.0 + scale) * (cond - uncond)


def token_probabilities(
    logits: Float64Array, temperature: float, top_k: int, banned_token: int | None = None
) -> Float64Array:
    """Sampling distribution [M, V] from logits [M, V].

    ``top_k`` = 0 keeps every token; ties at the k-th value are all kept.
    ``banned_token`` (the mask id when it falls inside the vocabulary) can
    never be drawn, so a finished sequence never contains a mask id.
    """
    if np.isnan(logits).any():
        raise ValueError("logits contain NaN")
    scaled = logits / temperature
    if banned_token is not None:
        scaled[:, banned_token] = -np.inf
    scaled = _keep_top_k(scaled, top_k)
    peak = scaled.max(axis=-1, keepdims=True)
    if not np.isfinite(peak).all():
        raise ValueError("logits leave no finite token to sample at some position")
    weights = np.exp(scaled - peak)
    probabilities: Float64Array = weights / weights.sum(axis=-1, keepdims=True)
    return probabilities


def _keep_top_k(logits: Float64Array, top_k: int) -> Float64Array:
    vocab = logits.shape[-1]
    if top_k <= 0 or top_k >= vocab or logits.shape[0] == 0:
        return logits
    kth_largest = np.partition(logits, vocab - top_k, axis=-1)[:, vocab - top_k, None]
    return np.where(logits >= kth_largest, logits, -np.inf)


def draw_tokens(
    probabilities: Float64Array, uniforms: Float64Array
) -> tuple[TokenArray, Float64Array]:
    """Inverse-CDF draw of one token per row; returns (tokens [M], their probability [M]).

    ``uniforms`` [M] lie in [0, 1); using ``1 - u`` makes the target lie in
    (0, total], so a zero-probability token can never be chosen.
    """
    cumulative = np.cumsum(probabilities, axis=-1)
    target = (1.0 - uniforms) * cumulative[:, -1]
    tokens = np.sum(cumulative < target[:, None], axis=-1).astype(np.int64)
    tokens = np.minimum(tokens, probabilities.shape[-1] - 1)
    chosen = np.take_along_axis(probabilities, tokens[:, None], axis=-1)[:, 0]
    return tokens, chosen
