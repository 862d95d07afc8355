"""Mask files and editor tools: brush, lasso, fill-mask, morphology, feathering, regions."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.media.image.files import ImageError
from engine.media.image.mask import (
    bounding_box,
    decode_mask,
    invert,
    load_mask,
    save_mask,
    validate_mask,
)
from engine.media.image.mask_tools import (
    fill_polygon,
    fill_rectangle,
    paint_stroke,
    similar_region,
    stroke_box,
)
from engine.media.image.morphology import feather_weights, grow, label_regions, shrink


def png(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    # Pillow infers "1" from bool and "I;16" from uint16 and refuses them as explicit modes
    Image.fromarray(array, None if mode in ("1", "I;16") else mode).save(buffer, "PNG")
    return buffer.getvalue()


def some_mask() -> np.ndarray:
    mask = np.zeros((20, 30), dtype=np.bool_)
    mask[5:12, 8:20] = True
    return mask


def disk(radius: int) -> np.ndarray:
    ys, xs = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(xs * xs + ys * ys <= radius * radius)


def naive_dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Reference: OR of every shifted copy under the disk."""
    height, width = mask.shape
    padded = np.pad(mask, radius)
    result = np.zeros_like(mask)
    for dy, dx in zip(*np.nonzero(disk(radius)), strict=True):
        result |= padded[dy : dy + height, dx : dx + width]
    return result


# --------------------------------------------------------------------------- files


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    mask = some_mask()
    save_mask(mask, tmp_path / "m.png")
    assert np.array_equal(load_mask(tmp_path / "m.png", mask.shape), mask)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "1"])
def test_any_mode_thresholds_at_128(mode: str) -> None:
    values = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    if mode == "1":
        array = values >= 128
    elif mode == "L":
        array = values
    else:
        array = np.repeat(values[:, :, None], len(mode), axis=2)
        if mode == "RGBA":
            array[:, :, 3] = 255
    mask = decode_mask(png(array, mode), (1, 4))
    assert mask.tolist() == [[False, False, True, True]]


def test_alpha_only_mask() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)  # black everywhere, painted in alpha
    rgba[0, 1, 3] = 255
    rgba[1, 2, 3] = 200
    mask = decode_mask(png(rgba, "RGBA"), (2, 3))
    assert mask.tolist() == [[False, True, False], [False, False, True]]


def test_transparent_white_does_not_fill() -> None:
    rgba = np.full((1, 3, 4), 255, dtype=np.uint8)
    rgba[0, 0, :3] = 0  # colour varies, so colour and alpha both count
    rgba[0, 2, 3] = 0
    assert decode_mask(png(rgba, "RGBA"), (1, 3)).tolist() == [[False, True, False]]


def test_sixteen_bit_mask() -> None:
    samples = np.array([[0, 40000]], dtype=np.uint16)
    assert decode_mask(png(samples, "I;16"), (1, 2)).tolist() == [[False, True]]


@pytest.mark.parametrize(
    ("array", "shape", "message"),
    [
        (np.full((4, 5), 255, dtype=np.uint8), (4, 6), "5×4 pixels but the image is 6×4"),
        (np.zeros((4, 5), dtype=np.uint8), (4, 5), "empty"),
        (np.full((4, 5), 255, dtype=np.uint8), (4, 5), "outpainting"),
    ],
    ids=["other-size", "empty", "everything"],
)
def test_unusable_masks_are_clear_errors(
    array: np.ndarray, shape: tuple[int, int], message: str
) -> None:
    with pytest.raises(ImageError, match=message):
        decode_mask(png(array, "L"), shape, name="m.png")


def test_empty_mask_allowed_when_asked() -> None:
    mask = decode_mask(png(np.zeros((2, 2), dtype=np.uint8), "L"), (2, 2), require_fill=False)
    assert not mask.any()


def test_bad_mask_file_is_image_error(tmp_path: Path) -> None:
    (tmp_path / "m.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_mask(tmp_path / "m.png", (2, 2))
    with pytest.raises(ImageError, match=".png"):
        save_mask(some_mask(), tmp_path / "m.jpg")


def test_validate_mask_passes_a_good_mask() -> None:
    mask = some_mask()
    assert validate_mask(mask, mask.shape) is mask


# --------------------------------------------------------------------------- brush and shapes


def test_fast_stroke_has_no_gaps() -> None:
    """One mouse jump across the canvas paints a connected band of the brush's width."""
    mask = np.zeros((100, 200), dtype=np.bool_)
    box = paint_stroke(mask, (5.0, 10.0), (190.0, 85.0), radius=2.0)
    assert box is not None and mask[box].sum() == mask.sum()
    labels, count = label_regions(mask, connectivity=4)
    assert count == 1
    # every column the segment crosses has painted pixels, at least 2·radius thick
    for x in range(5, 191):
        assert mask[:, x].sum() >= 3


def test_thin_stroke_stays_connected() -> None:
    mask = np.zeros((50, 50), dtype=np.bool_)
    paint_stroke(mask, (0.0, 0.0), (49.0, 17.0), radius=0.1)  # radius clamps to half a pixel
    assert label_regions(mask, connectivity=8)[1] == 1
    assert mask[0, 0] and mask[17, 49]


def test_stroke_box_is_announced_before_painting() -> None:
    mask = np.zeros((40, 40), dtype=np.bool_)
    announced = stroke_box(mask.shape, (10.0, 10.0), (30.0, 12.0), 3.0)
    painted = paint_stroke(mask, (10.0, 10.0), (30.0, 12.0), 3.0)
    assert announced == painted
    assert announced is not None
    outside = np.ones_like(mask)
    outside[announced] = False
    assert not mask[outside].any()


def test_round_dab_and_erase() -> None:
    mask = np.zeros((21, 21), dtype=np.bool_)
    paint_stroke(mask, (10.0, 10.0), (10.0, 10.0), radius=4.0)
    assert np.array_equal(mask[6:15, 6:15], disk(4))
    paint_stroke(mask, (10.0, 10.0), (10.0, 10.0), radius=2.0, value=False)
    assert not mask[8:13, 8:13][disk(2)].any() and mask.sum() == disk(4).sum() - disk(2).sum()


def test_off_image_stroke_touches_nothing() -> None:
    mask = np.zeros((10, 10), dtype=np.bool_)
    assert paint_stroke(mask, (-50.0, -50.0), (-40.0, -45.0), 2.0) is None
    assert not mask.any()


def test_rectangle() -> None:
    mask = np.zeros((10, 10), dtype=np.bool_)
    box = fill_rectangle(mask, (7.2, 1.0), (2.0, 4.9))
    assert box == (slice(1, 5), slice(2, 8))
    assert mask.sum() == 4 * 6 and mask[box].all()


def test_lasso_fills_inside_only() -> None:
    mask = np.zeros((30, 30), dtype=np.bool_)
    box = fill_polygon(mask, [(5.0, 5.0), (25.0, 5.0), (25.0, 25.0), (5.0, 25.0)])
    assert box is not None
    assert mask[5:26, 5:26].all() and mask.sum() == 21 * 21
    triangle = np.zeros((30, 30), dtype=np.bool_)
    fill_polygon(triangle, [(0.0, 0.0), (29.0, 0.0), (0.0, 29.0)])
    assert triangle[2, 2] and not triangle[28, 28]
    assert fill_polygon(mask, [(1.0, 1.0), (2.0, 2.0)]) is None  # not a polygon


def test_invert() -> None:
    mask = some_mask()
    assert np.array_equal(invert(mask), ~mask)


# --------------------------------------------------------------------------- regions and fill-mask


def test_label_regions_matches_a_flood_fill_reference() -> None:
    rng = np.random.default_rng(3)
    for connectivity in (4, 8):
        mask = rng.random((40, 37)) < 0.45
        labels, count = label_regions(mask, connectivity)
        assert np.array_equal(labels > 0, mask)
        assert count == reference_count(mask, connectivity)
        # pixels that touch share a label
        right = mask[:, :-1] & mask[:, 1:]
        assert np.array_equal(labels[:, :-1][right], labels[:, 1:][right])
        if connectivity == 8:
            diagonal = mask[:-1, :-1] & mask[1:, 1:]
            assert np.array_equal(labels[:-1, :-1][diagonal], labels[1:, 1:][diagonal])


def reference_count(mask: np.ndarray, connectivity: int) -> int:
    seen = np.zeros_like(mask)
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if connectivity == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            for dy, dx in steps:
                ny, nx = y + dy, x + dx
                if (
                    0 <= ny < mask.shape[0]
                    and 0 <= nx < mask.shape[1]
                    and mask[ny, nx]
                    and not seen[ny, nx]
                ):
                    seen[ny, nx] = True
                    stack.append((ny, nx))
    return count


def test_fill_mask_takes_the_connected_similar_region() -> None:
    rgb = np.zeros((10, 12, 3), dtype=np.uint8)
    rgb[:, :] = (200, 200, 200)
    rgb[:, 6] = (10, 10, 10)  # a dark wall splits the grey field
    rgb[2, 2] = (205, 195, 200)  # within tolerance
    region = similar_region(rgb, (1.0, 1.0), tolerance=8)
    assert region[:, :6].all() and not region[:, 6:].any()
    assert not similar_region(rgb, (1.0, 1.0), tolerance=2)[2, 2]
    assert not similar_region(rgb, (50.0, 1.0), tolerance=8).any()


# --------------------------------------------------------------------------- morphology and feather


@given(seed=st.integers(0, 10_000), radius=st.integers(1, 5))
@settings(max_examples=25, deadline=None)
def test_grow_is_disk_dilation(seed: int, radius: int) -> None:
    mask = np.random.default_rng(seed).random((24, 19)) < 0.04
    assert np.array_equal(grow(mask, radius), naive_dilate(mask, radius))


@given(
    seed=st.integers(0, 10_000),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    radius=st.integers(1, 12),
)
@settings(max_examples=40, deadline=None)
def test_grow_with_a_disk_wider_than_the_mask(
    seed: int, height: int, width: int, radius: int
) -> None:
    """A small image grown (or a seam band built) by more than its own size (it raised before)."""
    mask = np.random.default_rng(seed).random((height, width)) < 0.3
    assert np.array_equal(grow(mask, radius), naive_dilate(mask, radius))


@given(seed=st.integers(0, 10_000), radius=st.integers(1, 4))
@settings(max_examples=25, deadline=None)
def test_shrink_is_disk_erosion_without_eroding_the_border(seed: int, radius: int) -> None:
    mask = np.random.default_rng(seed).random((24, 19)) < 0.8
    background = np.pad(~mask, radius, constant_values=False)  # beyond the border counts as mask
    expected = ~naive_dilate(background, radius)[radius:-radius, radius:-radius]
    assert np.array_equal(shrink(mask, radius), expected)


def test_grow_then_shrink_a_square() -> None:
    mask = np.zeros((40, 40), dtype=np.bool_)
    mask[15:25, 15:25] = True
    grown = grow(mask, 3)
    assert grown[12, 20] and not grown[11, 20] and not grown[12, 12]
    assert np.array_equal(shrink(grown, 3), mask)
    assert shrink(mask, 5).sum() == 0 and np.array_equal(grow(mask, 0), mask)


def test_feather_ramps_inside_and_never_outside() -> None:
    mask = np.zeros((30, 30), dtype=np.bool_)
    mask[5:25, 5:25] = True
    weights = feather_weights(mask, 4)
    assert weights.dtype == np.float32
    assert np.all(weights[~mask] == 0)
    assert np.all(weights[mask] > 0)
    assert weights[15, 15] == 1.0
    ramp = weights[15, 5:11]
    assert np.all(np.diff(ramp) >= 0) and ramp[0] == pytest.approx(1 / 5) and ramp[-1] == 1.0


def test_feather_does_not_treat_the_image_border_as_an_edge() -> None:
    mask = np.zeros((10, 10), dtype=np.bool_)
    mask[:, :5] = True
    weights = feather_weights(mask, 3)
    assert weights[0, 0] == 1.0 and weights[5, 4] < 1.0
    assert np.array_equal(feather_weights(mask, 0), mask.astype(np.float32))


def test_bounding_box() -> None:
    assert bounding_box(some_mask()) == (slice(5, 12), slice(8, 20))
    assert bounding_box(np.zeros((3, 3), dtype=np.bool_)) is None


def test_tools_are_fast_on_a_large_mask() -> None:
    """A 12 MP mask: grow, feather and a long stroke stay interactive (generous bound)."""
    mask = np.zeros((3000, 4000), dtype=np.bool_)
    start = time.perf_counter()
    paint_stroke(mask, (100.0, 100.0), (3900.0, 2900.0), radius=20.0)
    grow(mask, 8)
    feather_weights(mask, 4)
    assert time.perf_counter() - start < 10.0  # about 1 s here, shared with a training run
