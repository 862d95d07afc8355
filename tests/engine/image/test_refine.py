"""Coarse-to-fine: native-resolution tiles over a reduced-resolution fill (issue 17, item 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.codec import ImageCodec
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import LoadedImage
from engine.media.image.refine import Refinement, plan_tiles, refine_editable
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings
from tests.engine.image.test_codec import write_image_model
from tests.engine.image.test_erased_pixels import random_mask

WINDOW = (64, 64)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_model(tmp_path_factory.mktemp("models"), name="tiny-refine")


def placed(shape: tuple[int, int], box: tuple[slice, slice], plane: np.ndarray) -> np.ndarray:
    full = np.zeros(shape, dtype=np.bool_)
    full[box] = plane
    return full


@given(seed=st.integers(0, 2**31 - 1), height=st.integers(20, 300), width=st.integers(20, 300))
@settings(max_examples=60, deadline=None)
def test_tiles_cover_the_group_once_in_order(seed: int, height: int, width: int) -> None:
    """Every group pixel is in some tile; a tile's ``refined`` is what earlier tiles wrote."""
    rng = np.random.default_rng(seed)
    mask = random_mask(rng, (height, width))
    group = mask & (rng.random(mask.shape) < 0.9)  # another window may own some holes
    tiles = plan_tiles(mask, group, WINDOW, Refinement(max_tiles=1000))
    written = np.zeros(mask.shape, dtype=np.bool_)
    for tile in tiles:
        crop = tile.crop
        assert crop.scale == 1.0 and crop.box_shape == crop.scaled_shape
        assert crop.box_shape[0] <= WINDOW[0] and crop.box_shape[1] <= WINDOW[1]
        assert np.array_equal(crop.hole_mask, mask[crop.box])
        assert np.array_equal(crop.fill_mask, group[crop.box])
        assert crop.fill_mask.any()
        assert np.array_equal(tile.refined, written[crop.box] & crop.fill_mask)
        assert ((tile.weight >= 0) & (tile.weight <= 1)).all()
        assert (tile.weight[~tile.refined] == 1).all()
        written |= placed(mask.shape, crop.box, crop.fill_mask)
    assert np.array_equal(written, group)


def test_tiles_overlap_and_blend_from_their_edge() -> None:
    """Neighbouring tiles overlap; where a tile lies over an earlier one its weight is 0 at its
    edge and rises inwards, so no window edge shows."""
    mask = np.zeros((200, 200), dtype=np.bool_)
    mask[40:160, 40:160] = True
    tiles = plan_tiles(mask, mask, WINDOW, Refinement(overlap=16, margin=8))
    assert len(tiles) > 1
    later = [tile for tile in tiles if tile.refined.any()]
    assert later
    for tile in later:
        edge = np.zeros(tile.refined.shape, dtype=np.bool_)
        edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
        assert (tile.weight[edge & tile.refined] < 0.1).all()
        assert (tile.weight[tile.refined] < 1).any()


def test_the_pictures_own_edge_is_no_seam() -> None:
    """Tiles at the picture's edge ramp only from their sides inside the picture."""
    mask = np.zeros((64, 300), dtype=np.bool_)
    mask[:, 100:] = True  # outpainting to the right, one tile high
    tiles = plan_tiles(mask, mask, WINDOW, Refinement(overlap=16, margin=8))
    later = [tile for tile in tiles if tile.refined.any()]
    assert later
    for tile in later:
        rows = tile.weight[:, tile.refined.any(axis=0)]
        assert np.array_equal(rows, np.broadcast_to(rows[32], rows.shape))  # no top/bottom ramp


def test_refinement_grows_from_the_known_border() -> None:
    """The first tile has the most known pixels (outpainting starts at the picture), and each
    later one joins pixels already known or refined."""
    mask = np.zeros((100, 300), dtype=np.bool_)
    mask[:, 120:] = True  # the right of the picture was extended
    tiles = plan_tiles(mask, mask, WINDOW, Refinement())
    known = [float((~mask[t.crop.box]).mean()) for t in tiles]
    assert known[0] == max(known) > 0
    assert all(t.refined.any() or known[i] > 0 for i, t in enumerate(tiles))


def test_too_many_tiles_leave_the_coarse_fill() -> None:
    mask = np.ones((400, 400), dtype=np.bool_)
    assert plan_tiles(mask, mask, WINDOW, Refinement(max_tiles=4)) == []


def test_editable_tokens_skip_refined_and_kept_ones() -> None:
    mask = np.zeros((200, 200), dtype=np.bool_)
    mask[30:170, 30:170] = True
    tiles = plan_tiles(mask, mask, WINDOW, Refinement(overlap=24))
    tile = next(t for t in tiles if t.refined.any())
    grid, patch = (8, 8), 8
    hole_tokens = tile.crop.fill_mask.reshape(8, 8, 8, 8).any(axis=(1, 3)).reshape(-1)
    refined_tokens = tile.refined.reshape(8, 8, 8, 8).all(axis=(1, 3)).reshape(-1)
    frame = np.zeros((8, 8), dtype=np.bool_)
    frame[:2], frame[-2:], frame[:, :2], frame[:, -2:] = True, True, True, True
    fresh = refine_editable(tile, grid, patch, keep=0.0, frame=16)
    assert (refined_tokens & frame.reshape(-1)).any()
    assert np.array_equal(fresh, hole_tokens & ~(refined_tokens & frame.reshape(-1)))
    assert (fresh & refined_tokens).any()  # deeper refined tokens are drawn again
    steered = refine_editable(tile, grid, patch, keep=0.5, frame=16)
    assert not (steered & ~fresh).any() and 0.3 < steered.sum() / fresh.sum() < 0.7


def run_edit(
    model: Path, image: LoadedImage, mask: np.ndarray, refinement: Refinement | None
) -> tuple[ImageEdit, list[np.ndarray]]:
    manifest = load_manifest(model)
    codec = ImageCodec(manifest)
    edit = ImageEdit.plan(codec, image, mask, "regions", refinement)
    request = GenerateRequest(
        0,
        manifest.name,
        SamplerSettings(steps=4, variations=2, seed=3),
        edit,
        ImageEditCodec(codec),
    )
    results, _ = run_model_windows(
        request, load_transformer(manifest), manifest.mask_id, lambda _: None, lambda: False
    )
    return edit, [np.asarray(r.rgb) for r in results]


def test_a_large_hole_is_refined_by_native_tiles(model: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (180, 200, 3), dtype=np.uint8)
    mask = np.zeros(rgb.shape[:2], dtype=np.bool_)
    mask[30:150, 40:170] = True
    image = LoadedImage.from_rgb(rgb)
    coarse_edit, coarse = run_edit(model, image, mask, None)
    edit, refined = run_edit(model, image, mask, Refinement())
    assert coarse_edit.count == 1 and coarse_edit.windows[0].crop.scale < 1
    assert edit.count > 2 and edit.tile(0) is None and edit.tile(1) is not None
    assert len(edit.regions()) == 1 and np.array_equal(edit.regions()[0], mask)
    for before, after in zip(coarse, refined, strict=True):
        assert np.array_equal(after[~mask], rgb[~mask])
        assert not np.array_equal(after[mask], before[mask])  # the tiles rewrote the hole


def test_native_windows_get_no_tiles(model: Path) -> None:
    mask = np.zeros((120, 120), dtype=np.bool_)
    mask[50:60, 50:70] = True
    image = LoadedImage.from_rgb(np.zeros((120, 120, 3), dtype=np.uint8))
    edit = ImageEdit.plan(ImageCodec(load_manifest(model)), image, mask)
    assert edit.count == 1 and edit.tile(0) is None
