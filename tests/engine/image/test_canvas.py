"""A Canvas (a variation's picture during an edit) reads and ends as box edits applied in order."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.image.canvas import Canvas
from engine.media.image.files import LoadedImage, with_box_edit


def random_edits(
    rng: np.random.Generator, shape: tuple[int, int], count: int
) -> list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]]:
    """Overlapping boxes (some touching the picture's edges) with random pixels and regions."""
    edits = []
    for _ in range(count):
        top, left = rng.integers(0, shape[0] - 4), rng.integers(0, shape[1] - 4)
        bottom = int(rng.integers(top + 1, shape[0] + 1))
        right = int(rng.integers(left + 1, shape[1] + 1))
        box = (slice(int(top), bottom), slice(int(left), right))
        size = (bottom - int(top), right - int(left))
        rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        edits.append((box, rgb, rng.random(size) < 0.6))
    return edits


@pytest.mark.parametrize("gray", [False, True])
def test_canvas_matches_box_edits_applied_one_by_one(gray: bool) -> None:
    rng = np.random.default_rng(7 + gray)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    if gray:
        rgb = np.repeat(rgb[:, :, :1], 3, axis=2)
        high = rgb[:, :, :1].astype(np.uint16) * 257
        image = LoadedImage(rgb=rgb, mode="I;16", bit_depth=16, high=high)
    else:
        image = LoadedImage.from_rgb(rgb)
    before = image.rgb.copy()
    canvas, expected = Canvas(image), image
    for box, pixels, region in random_edits(rng, (40, 50), 12):
        canvas = canvas.with_box_edit(box, pixels, region)
        expected = with_box_edit(expected, box, pixels, region)
        probe = (slice(5, 33), slice(8, 50))
        assert np.array_equal(canvas.rgb_in(probe), expected.rgb[probe])
    result = canvas.image()
    assert np.array_equal(result.rgb, expected.rgb)
    assert (result.high is None) == (expected.high is None)
    if expected.high is not None:
        assert result.high is not None and np.array_equal(result.high, expected.high)
    assert np.array_equal(image.rgb, before)  # the snapshot is never written


def test_canvas_edits_leave_earlier_canvases_as_they_were() -> None:
    image = LoadedImage.from_rgb(np.zeros((8, 8, 3), dtype=np.uint8))
    first = Canvas(image)
    box = (slice(2, 6), slice(2, 6))
    second = first.with_box_edit(box, np.full((4, 4, 3), 200, np.uint8), np.ones((4, 4), bool))
    assert first.image() is image and not first.rgb_in(box).any()
    assert (second.rgb_in(box) == 200).all() and (second.image().rgb[box] == 200).all()
    with pytest.raises(ValueError, match="box edit"):
        second.with_box_edit(box, np.zeros((3, 4, 3), np.uint8), np.ones((3, 4), bool))
