"""Issue 17's invariant: nothing under the mask reaches the output.

For any picture, mask, crop strategy, feather width and window scale, painting the
masked pixels over (white, noise, another picture) leaves every variation of the edit
bit-identical at the same seed, and the pixels outside the mask bit-exact. The edit runs
as ``remask inpaint`` runs it (``ImageEdit`` over ``ImageEditCodec``, every window), with
the tiny palette tokenizer and with a deliberately leaky decoder that mixes its
``context`` input into every pixel, hole included: if an erased pixel reached the
context, it would show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.codec import ImageCodec
from engine.media.image.crops import composite, crop_hole_mask, crop_pixels, plan_crops
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import LoadedImage
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings
from tests.engine.image.test_codec import write_image_model
from tests.engine.image.test_decoder_context import context_decoder

STRATEGIES = ("regions", "union", "resize")
PAINTS = ("white", "noise", "picture")


def build_leaky_decoder() -> onnx.ModelProto:
    """pixels = (palette[token] + context) / 2 everywhere: trusts the context even in holes."""
    nodes = [
        helper.make_node("Add", ["drawn", "context"], ["sum"]),
        helper.make_node("Mul", ["sum", "half"], ["mixed"]),
        helper.make_node("Mul", ["hole", "zero"], ["unused"]),
        helper.make_node("Add", ["mixed", "unused"], ["pixels"]),
    ]
    return context_decoder("tiny_leaky_decoder", nodes, {"half": 0.5, "zero": 0.0})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "palette": write_image_model(folder, name="tiny-image"),
        "leaky": write_image_model(folder, name="tiny-leaky", decoder=build_leaky_decoder()),
    }


def random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A few rectangles and thin lines, some large enough to need a reduced window."""
    height, width = shape
    mask = np.zeros(shape, dtype=np.bool_)
    for _ in range(int(rng.integers(1, 4))):
        top, left = int(rng.integers(0, height)), int(rng.integers(0, width))
        if rng.random() < 0.3:  # a scratch: one to three pixels wide
            mask[top : top + int(rng.integers(1, 4)), left : left + int(rng.integers(5, 120))] = (
                True
            )
        else:
            mask[top : top + int(rng.integers(2, 110)), left : left + int(rng.integers(2, 110))] = (
                True
            )
    if mask.all():
        mask[0, 0] = False
    return mask


def painted(rgb: np.ndarray, mask: np.ndarray, paint: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    result = rgb.copy()
    if paint == "white":
        result[mask] = 255
    elif paint == "noise":
        result[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    else:
        other = rng.integers(0, 256, rgb.shape, dtype=np.uint8)
        result[mask] = other[mask]
    return result


def run_edit(
    model: Path, rgb: np.ndarray, mask: np.ndarray, strategy: str, feather_px: int
) -> list[np.ndarray]:
    """Every window of the edit through the runner ``remask inpaint`` uses; 2 variations."""
    manifest = load_manifest(model)
    codec = ImageCodec(manifest, feather_px=feather_px)
    edit = ImageEdit.plan(codec, LoadedImage.from_rgb(rgb), mask, strategy)  # type: ignore[arg-type]
    settings_ = SamplerSettings(steps=3, variations=2, seed=5)
    request = GenerateRequest(0, manifest.name, settings_, edit, ImageEditCodec(codec))
    variations, _ = run_model_windows(
        request, load_transformer(manifest), manifest.mask_id, lambda _: None, lambda: False
    )
    return [np.asarray(v.rgb) for v in variations]


@given(
    seed=st.integers(0, 2**31 - 1),
    height=st.integers(20, 180),
    width=st.integers(20, 180),
    strategy=st.sampled_from(STRATEGIES),
    feather_px=st.sampled_from([0, 1, 2, 5, 40]),
    paint=st.sampled_from(PAINTS),
    decoder=st.sampled_from(["palette", "leaky"]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_painting_the_hole_over_changes_nothing(
    models: dict[str, Path],
    seed: int,
    height: int,
    width: int,
    strategy: str,
    feather_px: int,
    paint: str,
    decoder: str,
) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = random_mask(rng, (height, width))
    before = run_edit(models[decoder], rgb, mask, strategy, feather_px)
    after = run_edit(models[decoder], painted(rgb, mask, paint, seed), mask, strategy, feather_px)
    for first, second in zip(before, after, strict=True):
        assert np.array_equal(first, second)
        assert np.array_equal(first[~mask], rgb[~mask])


def test_reduced_windows_exist_in_the_property_test_space() -> None:
    """The masks above do reach reduced-resolution windows (a 64-px model window)."""
    mask = np.zeros((180, 180), dtype=np.bool_)
    mask[20:130, 30:140] = True
    (crop,) = plan_crops(mask, (64, 64)).windows
    assert crop.scale < 1


def test_refinement_tiles_exist_in_the_property_test_space(models: dict[str, Path]) -> None:
    """...and so do the native-resolution tiles that refine them (coarse-to-fine)."""
    mask = np.zeros((180, 180), dtype=np.bool_)
    mask[20:130, 30:140] = True
    codec = ImageCodec(load_manifest(models["leaky"]))
    edit = ImageEdit.plan(codec, LoadedImage.from_rgb(np.zeros((180, 180, 3), np.uint8)), mask)
    assert edit.count > 2 and all(edit.tile(w) is not None for w in range(1, edit.count))


@given(
    seed=st.integers(0, 2**31 - 1),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    feather_px=st.integers(0, 12),
)
@settings(max_examples=80, deadline=None)
def test_composite_reads_no_pixel_under_the_hole(
    seed: int, height: int, width: int, density: float, feather_px: int
) -> None:
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    filled = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.random((height, width)) < density
    hole = mask | (rng.random((height, width)) < 0.1)  # other windows' holes too
    erased = original.copy()
    erased[hole] = rng.integers(0, 256, (int(hole.sum()), 3), dtype=np.uint8)
    first = composite(original, filled, mask, feather_px, hole=hole)
    second = composite(erased, filled, mask, feather_px, hole=hole)
    assert np.array_equal(first[mask], second[mask])
    assert np.array_equal(first[~mask], original[~mask])
    if feather_px == 0:
        assert np.array_equal(first[mask], filled[mask])


@given(seed=st.integers(0, 2**31 - 1), side=st.integers(40, 160))
@settings(max_examples=20, deadline=None)
def test_reduced_window_pixels_ignore_the_hole(seed: int, side: int) -> None:
    """The mask-aware downscale: window pixels do not change when the hole is painted."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (side * 2, side * 2, 3), dtype=np.uint8)
    mask = random_mask(rng, rgb.shape[:2])
    for crop in plan_crops(mask, (32, 32)).windows:
        first = crop_pixels(rgb, crop)
        second = crop_pixels(painted(rgb, mask, "white", seed), crop)
        assert np.array_equal(first, second)
        assert not first[crop_hole_mask(crop)].any()  # blanked, for the pre-fill
