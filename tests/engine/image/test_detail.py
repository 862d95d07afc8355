"""Detail transfer: the context-free decode's fine detail, in the hole only (issue 17, item 5)."""

from __future__ import annotations

import numpy as np

from engine.media.image.detail import depth_weight, gaussian_blur, transfer_detail


def test_blur_keeps_flat_areas_and_smooths_noise() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((1, 20, 24, 3), 80.0, dtype=np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, 2.0), flat, atol=1e-3)
    noise = rng.normal(0, 30, (1, 20, 24, 3)).astype(np.float32)
    assert gaussian_blur(noise, 2.0).std() < noise.std() / 3


def test_detail_fades_in_with_depth() -> None:
    hole = np.zeros((20, 20), dtype=np.bool_)
    hole[5:15, 5:15] = True
    weight = depth_weight(hole, 4)
    assert (weight[~hole] == 0).all()
    assert 0 < weight[5, 10] < weight[7, 10] < weight[10, 10] == 1.0
    scratch = np.zeros((20, 20), dtype=np.bool_)
    scratch[9:12, :] = True  # 3 px wide: never deeper than 2 px
    assert depth_weight(scratch, 4).max() <= 0.5


def test_outside_the_hole_the_guided_decode_stays_bit_exact() -> None:
    rng = np.random.default_rng(1)
    guided = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    free = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    hole = np.zeros((16, 16), dtype=np.bool_)
    hole[4:12, 4:12] = True
    mixed = transfer_detail(guided, free, hole, 2.0, 1.0, 2)
    assert np.array_equal(mixed[:, ~hole], guided[:, ~hole])
    assert not np.array_equal(mixed[:, hole], guided[:, hole])
    assert np.array_equal(transfer_detail(guided, free, hole, 2.0, 0.0, 2), guided)
