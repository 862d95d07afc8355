"""The image evaluation's per-hole metrics: fidelity, structure, texture and diversity.

Each metric reads only the hole (``mask`` True), so a fill is judged on what it
invented; the pixels outside are the photo's own either way. Images are uint8 or
float arrays ``[H, W, 3]``; masks bool ``[H, W]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def hole_psnr(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    diff = result[mask].astype(np.float64) - original[mask].astype(np.float64)
    return 10 * math.log10(255.0**2 / max(float((diff**2).mean()), 1e-10))


def hole_l1(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(result[mask].astype(np.float64) - original[mask]).mean())


def _box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Mean over size×size windows (valid positions only), by cumulative sums."""
    padded = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)) + ((0, 0),) * (values.ndim - 2))
    inner, outer = padded[size:], padded[:-size]
    total = inner[:, size:] - outer[:, size:] - inner[:, :-size] + outer[:, :-size]
    return np.asarray(total / (size * size))


def ssim_map(first: np.ndarray, second: np.ndarray, size: int = 7) -> np.ndarray:
    """SSIM per pixel float64 [H, W] (mean of channels), 7×7 uniform window, reflect padding.

    Wang et al. 2004 with the constants (0.01·255)² and (0.03·255)² and sample
    (co)variances, as scikit-image computes it with ``gaussian_weights=False``.
    """
    half = size // 2
    widths = ((half, half), (half, half)) + ((0, 0),) * (first.ndim - 2)
    x = np.pad(first.astype(np.float64), widths, mode="reflect")
    y = np.pad(second.astype(np.float64), widths, mode="reflect")
    n = size * size
    mx, my = _box_mean(x, size), _box_mean(y, size)
    vx = (_box_mean(x * x, size) - mx * mx) * n / (n - 1)
    vy = (_box_mean(y * y, size) - my * my) * n / (n - 1)
    cov = (_box_mean(x * y, size) - mx * my) * n / (n - 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    value = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return np.asarray(value.mean(axis=2) if value.ndim == 3 else value)


def hole_ssim(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    return float(ssim_map(result, original)[mask].mean())


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    values = image.astype(np.float64)
    dx = values[:, 1:] - values[:, :-1]
    dy = values[1:] - values[:-1]
    in_x = mask[:, 1:] & mask[:, :-1]
    in_y = mask[1:] & mask[:-1]
    return float((dx[in_x] ** 2).sum() + (dy[in_y] ** 2).sum())


def gradient_ratio(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    return gradient_energy(result, mask) / max(gradient_energy(original, mask), 1e-6)


def diversity(variations: Sequence[np.ndarray], original: np.ndarray, mask: np.ndarray) -> float:
    """Spread across variations in the hole over the hole's own spread in the original."""
    if len(variations) < 2:
        return 0.0
    stack = np.stack([v[mask].astype(np.float64) for v in variations])
    across = float(stack.std(axis=0).mean())
    own = float(original[mask].astype(np.float64).std(axis=0).mean())
    return across / max(own, 1e-6)


# --------------------------------------------------------------------------- methods
