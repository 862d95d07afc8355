"""Seams between a fill and the known pixels, blended from the fill and the known pixels only.

The pixels under the mask are what the user wants gone, so no seam may mix them in
(the old feather did: it blended fill and erased pixels near the mask edge). Instead
the fill is adjusted in the gradient domain, as in Poisson image editing (Pérez et al.,
SIGGRAPH 2003): a correction ``c`` is added to the fill inside the mask, harmonic there
(``Δc = 0``) and equal to ``known − fill`` on the known pixels next to the mask, so the
result meets the known pixels without a step and keeps the fill's own gradients.
``feather_px`` is how deep the correction reaches: hole pixels deeper than that keep
the fill exactly (``c = 0`` there), so the correction ramps off smoothly over that width;
a width at least the hole's radius is a full Poisson blend of the whole hole.

Solved by conjugate gradients on the band's bounding box (matrix-free 4-neighbour
Laplacian), started from a push-pull interpolation of the boundary values. Pixel
layout: uint8 RGB [H, W, 3]; masks bool [H, W].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.media.image.files import BoolArray, UInt8Array
from engine.media.image.mask import bounding_box
from engine.media.image.morphology import expand_box, grow
from engine.media.image.prefill import push_pull

__all__ = ["blend_seams"]

FloatArray = npt.NDArray[np.float32]
MAX_ITERATIONS = 30
TOLERANCE = 0.05
"""Stop when the residual's largest value is below this (8-bit levels)."""


def blend_seams(
    known: UInt8Array,
    filled: UInt8Array,
    hole: BoolArray,
    fill_mask: BoolArray,
    feather_px: int,
) -> UInt8Array:
    """``filled`` inside ``fill_mask``, corrected to meet the known pixels; a new array.

    ``known`` is read only where ``~hole`` (the pixels that are really known);
    ``fill_mask`` must lie inside ``hole``. Pixels of ``hole`` outside
    ``fill_mask`` (holes another window fills) are neither read nor used as a
    boundary. Only ``fill_mask`` pixels of the result are meaningful; the others
    are ``known``'s.
    """
    result = known.copy()
    if not fill_mask.any():
        return result
    correction = _correction(known, filled, hole, fill_mask, feather_px)
    values = filled[fill_mask].astype(np.float32) + correction
    result[fill_mask] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return result


def _correction(
    known: UInt8Array, filled: UInt8Array, hole: BoolArray, fill_mask: BoolArray, feather_px: int
) -> FloatArray:
    """float32 [n, 3]: the correction at each ``fill_mask`` pixel (zeros without a band)."""
    zeros = np.zeros((int(fill_mask.sum()), 3), dtype=np.float32)
    boundary = ~hole & grow(fill_mask, 1)
    if feather_px <= 0 or not boundary.any():
        return zeros
    band = fill_mask & grow(boundary, feather_px)
    box = bounding_box(band)
    if box is None:
        return zeros
    box = expand_box(box, 1, hole.shape)
    difference = np.zeros((*hole.shape, 3), dtype=np.float32)
    difference[boundary] = known[boundary].astype(np.float32) - filled[boundary]
    solved = _solve(band[box], (boundary | (fill_mask & ~band))[box], difference[box])
    full = np.zeros((*hole.shape, 3), dtype=np.float32)
    full[box] = solved
    return np.asarray(full[fill_mask])


def _neighbour_sum(values: FloatArray, weight: FloatArray) -> FloatArray:
    """Σ over the 4 neighbours of ``values × weight`` (outside the array counts 0)."""
    weighted = values * weight[..., None] if values.ndim == 3 else values * weight
    total = np.zeros_like(weighted)
    total[1:] += weighted[:-1]
    total[:-1] += weighted[1:]
    total[:, 1:] += weighted[:, :-1]
    total[:, :-1] += weighted[:, 1:]
    return total


def _solve(domain: BoolArray, fixed: BoolArray, values: FloatArray) -> FloatArray:
    """Harmonic values [h, w, 3] on ``domain`` with ``values`` held on ``fixed`` pixels.

    Neighbours in neither set (other holes, beyond the box) are left out of the
    Laplacian: no flux through them (Neumann). Cascadic: a large domain starts
    from the solution of the half-resolution problem, so conjugate gradients only
    have to settle the fine detail near the boundary.
    """
    inside = domain[..., None]
    start = np.where(inside, _coarse_guess(domain, fixed, values), values).astype(np.float32)
    return _conjugate_gradients(domain, fixed, start)


def _coarse_guess(domain: BoolArray, fixed: BoolArray, values: FloatArray) -> FloatArray:
    """The half-resolution problem's solution, upsampled; push-pull for small domains."""
    height, width = domain.shape
    if int(domain.sum()) <= COARSE_BELOW or min(height, width) < 4:
        return push_pull(np.where(fixed[..., None], values, 0).astype(np.float32), fixed)
    even_h, even_w = height + height % 2, width + width % 2

    def blocks(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        padded = np.zeros((even_h, even_w, *array.shape[2:]), dtype=np.float32)
        padded[:height, :width] = array
        return np.asarray(padded.reshape(even_h // 2, 2, even_w // 2, 2, -1).sum(axis=(1, 3)))

    fixed_count = blocks(fixed.astype(np.float32))[..., 0]
    fixed_sum = blocks(np.where(fixed[..., None], values, 0).astype(np.float32))
    coarse_fixed = fixed_count > 0
    coarse_domain = (blocks(domain.astype(np.float32))[..., 0] > 0) & ~coarse_fixed
    coarse_values = fixed_sum / np.maximum(fixed_count, 1)[..., None]
    coarse = _solve(coarse_domain, coarse_fixed, coarse_values.astype(np.float32))
    return np.asarray(coarse.repeat(2, axis=0).repeat(2, axis=1)[:height, :width])


COARSE_BELOW = 2048
"""Domains of at most this many pixels start from push-pull instead of a coarser solve."""


def _conjugate_gradients(domain: BoolArray, fixed: BoolArray, start: FloatArray) -> FloatArray:
    """Solve the Dirichlet problem from ``start`` (which holds the fixed values), matrix-free.

    Every product is written into buffers made once per solve (the loop runs ~20 times
    per tile); the arithmetic, and so the result, is the plain expressions' to the bit.
    """
    domain_w = domain.astype(np.float32)
    fixed_w = fixed.astype(np.float32)
    inside = domain[..., None]
    degree = np.maximum(_neighbour_sum(domain_w + fixed_w, np.ones_like(domain_w)), 1.0)[..., None]
    laplacian = _Laplacian(degree * domain_w[..., None], domain_w[..., None])

    x = np.where(inside, start, 0).astype(np.float32)
    rhs = np.where(inside, _neighbour_sum(start, fixed_w), 0).astype(np.float32)
    residual = rhs - laplacian.apply(x)
    direction = residual.copy()
    scratch = np.empty_like(residual)
    power = _dot(residual, residual, scratch)
    for _ in range(MAX_ITERATIONS):
        if max(float(residual.max()), -float(residual.min())) < TOLERANCE:
            break
        step_image = laplacian.apply(direction)
        alpha = np.float32(power / max(_dot(direction, step_image, scratch), 1e-20))
        x += np.multiply(direction, alpha, out=scratch)
        residual -= np.multiply(step_image, alpha, out=scratch)
        new_power = _dot(residual, residual, scratch)
        np.multiply(direction, np.float32(new_power / max(power, 1e-20)), out=direction)
        direction += residual
        power = new_power
    return np.where(inside, x, start).astype(np.float32)


def _dot(a: FloatArray, b: FloatArray, scratch: FloatArray) -> float:
    """``float((a * b).sum())``, the product written into ``scratch``."""
    return float(np.multiply(a, b, out=scratch).sum())


class _Laplacian:
    """``x ↦ degree·x − mask·Σ₄ neighbours(x)`` for ``x`` that is 0 outside the domain
    (so is the result), into one reused output buffer; the result of :meth:`apply` is
    overwritten by the next call."""

    def __init__(self, degree: FloatArray, mask: FloatArray) -> None:
        shape = (*mask.shape[:2], 3)  # full-size copies: broadcasting one channel is slow
        self.degree = np.ascontiguousarray(np.broadcast_to(degree, shape))
        self.mask = np.ascontiguousarray(np.broadcast_to(mask, shape))
        self.total = np.empty(shape, dtype=np.float32)
        self.out = np.empty_like(self.total)

    def apply(self, x: FloatArray) -> FloatArray:
        # _neighbour_sum(x, domain) · mask, in its order of additions; x·domain is x here
        total = self.total
        total[:1] = 0
        total[1:] = x[:-1]
        total[:-1] += x[1:]
        total[:, 1:] += x[:, :-1]
        total[:, :-1] += x[:, 1:]
        total *= self.mask
        np.multiply(self.degree, x, out=self.out)
        self.out -= total
        return self.out
