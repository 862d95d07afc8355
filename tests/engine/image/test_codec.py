"""Image codec: token masks, compositing, pre-fill, crop plans, outpainting, ONNX end to end.

The encoder and decoder are tiny real ONNX graphs built here with ``onnx.helper``:
the encoder average-pools each 8×8 patch and picks the nearest colour of a fixed
8-colour palette (ArgMin); the decoder gathers the palette colours and upsamples
them (Resize, nearest). With the tiny transformer of ``tests/tinymodels.py`` the
whole path (manifest, sessions, sampler, compositing) runs for real.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from engine.jobs import GenerateRequest
from engine.media.image.codec import ImageCodec, ImagePayload, token_mask
from engine.media.image.crops import (
    CropPlan,
    composite,
    crop_hole_mask,
    crop_pixels,
    paste_window,
    plan_crops,
)
from engine.media.image.export import encode_image
from engine.media.image.files import (
    ImageError,
    LoadedImage,
    decode_image,
    extend_canvas,
    extend_for_outpainting,
)
from engine.media.image.prefill import prefill
from engine.models import ModelManifest, load_manifest
from engine.sampling.types import SamplerSettings
from tests.engine.helpers import generate_with_manifest
from tests.tinymodels import write_tiny_model

PATCH = 8
WINDOW = 64
PALETTE = np.array(
    [[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], dtype=np.uint8
)
RNG = np.random.default_rng(11)


# --------------------------------------------------------------------------- tiny ONNX tokenizer


def palette_in_range() -> np.ndarray:
    return (PALETTE.astype(np.float32) / 255 * 2 - 1).astype(np.float32)


def build_encoder() -> onnx.ModelProto:
    """float32 pixels [B, 3, H, W] in [-1, 1] → int64 tokens [B, H/8, W/8]."""
    nodes = [
        helper.make_node(
            "AveragePool",
            ["pixels"],
            ["pooled"],
            kernel_shape=[PATCH, PATCH],
            strides=[PATCH, PATCH],
        ),
        helper.make_node("Transpose", ["pooled"], ["channels_last"], perm=[0, 2, 3, 1]),
        helper.make_node("Unsqueeze", ["channels_last", "axis3"], ["expanded"]),
        helper.make_node("Sub", ["expanded", "codebook"], ["difference"]),
        helper.make_node("Mul", ["difference", "difference"], ["squared"]),
        helper.make_node("ReduceSum", ["squared", "last_axis"], ["distance"], keepdims=0),
        helper.make_node("ArgMin", ["distance"], ["tokens"], axis=-1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_palette_encoder",
        [
            helper.make_tensor_value_info(
                "pixels", TensorProto.FLOAT, ["batch", 3, "height", "width"]
            )
        ],
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "rows", "cols"])],
        [
            numpy_helper.from_array(palette_in_range(), "codebook"),
            numpy_helper.from_array(np.array([3], dtype=np.int64), "axis3"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
        ],
    )
    return finish(graph)


def build_decoder(flat_tokens: bool = False) -> onnx.ModelProto:
    """int64 tokens [B, h, w] (or [B, h·w]) → float32 pixels [B, 3, 8h, 8w] in [-1, 1]."""
    rows, cols = WINDOW // PATCH, WINDOW // PATCH
    nodes = []
    source = "tokens"
    if flat_tokens:
        nodes.append(helper.make_node("Reshape", ["tokens", "grid"], ["token_grid"]))
        source = "token_grid"
    nodes += [
        helper.make_node("Gather", ["codebook", source], ["colours"], axis=0),
        helper.make_node("Transpose", ["colours"], ["channels_first"], perm=[0, 3, 1, 2]),
        helper.make_node("Resize", ["channels_first", "", "scales"], ["pixels"], mode="nearest"),
    ]
    token_shape = ["batch", rows * cols] if flat_tokens else ["batch", rows, cols]
    graph = helper.make_graph(
        nodes,
        "tiny_palette_decoder",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, token_shape)],
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, WINDOW, WINDOW])],
        [
            numpy_helper.from_array(palette_in_range(), "codebook"),
            numpy_helper.from_array(np.array([1, 1, PATCH, PATCH], dtype=np.float32), "scales"),
            numpy_helper.from_array(np.array([-1, rows, cols], dtype=np.int64), "grid"),
        ],
    )
    return finish(graph)


def finish(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_image_model(
    models_dir: Path,
    flat_tokens: bool = False,
    name: str = "tiny-image",
    decoder: onnx.ModelProto | None = None,
) -> Path:
    """A complete image model folder: tiny transformer + palette tokenizer + manifest.

    ``decoder`` replaces the palette decoder (of ``flat_tokens`` layout) by another graph.
    """
    if decoder is None:
        decoder = build_decoder(flat_tokens)
    folder = write_tiny_model(
        models_dir,
        name=name,
        medium="image",
        vocab_size=len(PALETTE),
        shape=(WINDOW // PATCH, WINDOW // PATCH),
        medium_facts={"patch_size": PATCH, "window": WINDOW, "pixel_range": [-1, 1]},
    )
    onnx.save(build_encoder(), str(folder / "encoder.onnx"))
    onnx.save(decoder, str(folder / "decoder.onnx"))
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["files"].update(encoder="encoder.onnx", decoder="decoder.onnx")
    manifest_file.write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def image_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_model(tmp_path_factory.mktemp("models"))


def palette_blocks(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An image of 8×8 blocks of palette colours (the tiny tokenizer reproduces it exactly)."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(PALETTE), (height // PATCH, width // PATCH))
    return PALETTE[indices].repeat(PATCH, axis=0).repeat(PATCH, axis=1), indices


def random_rgb(height: int, width: int) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def hole_request(
    model: Path, settings_: SamplerSettings
) -> tuple[np.ndarray, np.ndarray, ModelManifest, GenerateRequest]:
    """A random 90 x 130 picture, a 20 x 30 hole in it, ``model``'s manifest and the request
    to fill the hole with it (codec feather 2 px)."""
    rgb = random_rgb(90, 130)
    mask = np.zeros((90, 130), dtype=np.bool_)
    mask[30:50, 40:70] = True
    manifest = load_manifest(model)
    codec = ImageCodec(manifest, feather_px=2)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    return rgb, mask, manifest, GenerateRequest(1, manifest.name, settings_, payload, codec)


# ------------------------------------------------------------------------ token mask and composite


def test_token_mask_marks_any_covered_pixel() -> None:
    mask = np.zeros((16, 24), dtype=np.bool_)
    mask[0, 0] = True  # one pixel in token (0, 0)
    mask[15, 16] = True  # the last pixel row of token (1, 2)
    tokens = token_mask(mask, 8)
    assert tokens.shape == (2, 3)
    assert tokens.tolist() == [[True, False, False], [False, False, True]]


def test_token_mask_pads_partial_tokens() -> None:
    mask = np.zeros((10, 9), dtype=np.bool_)
    mask[9, 8] = True
    assert token_mask(mask, 8).tolist() == [[False, False], [False, True]]


@given(
    seed=st.integers(0, 2**31 - 1),
    height=st.integers(1, 24),
    width=st.integers(1, 24),
    density=st.floats(0.0, 1.0),
    feather_px=st.integers(0, 6),
)
@settings(max_examples=60, deadline=None)
def test_composite_leaves_outside_pixels_bit_exact(
    seed: int, height: int, width: int, density: float, feather_px: int
) -> None:
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    filled = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.random((height, width)) < density
    result = composite(original, filled, mask, feather_px)
    assert result.dtype == np.uint8 and result.shape == original.shape
    assert np.array_equal(result[~mask], original[~mask])
    if feather_px == 0:
        assert np.array_equal(result[mask], filled[mask])


def test_composite_changes_inside_and_feathers_the_seam() -> None:
    original = np.zeros((20, 20, 3), dtype=np.uint8)
    filled = np.full((20, 20, 3), 250, dtype=np.uint8)
    mask = np.zeros((20, 20), dtype=np.bool_)
    mask[4:16, 4:16] = True
    result = composite(original, filled, mask, feather_px=3)
    assert np.all(result[10, 10] == 250)  # deep inside: the fill
    assert 0 < result[10, 4, 0] < 250  # the mask edge: the fill, bent toward the known ring
    assert result[10, 4, 0] < result[10, 5, 0] < result[10, 6, 0] <= result[10, 7, 0]
    assert np.all(result[10, 3] == 0)  # just outside: untouched


# --------------------------------------------------------------------------- pre-fill


def test_ring_mean_prefill_uses_each_holes_own_ring() -> None:
    rgb = np.zeros((20, 40, 3), dtype=np.uint8)
    rgb[:, :20] = (200, 100, 0)
    rgb[:, 20:] = (0, 50, 250)
    rgb[5:10, 5:10] = 0  # garbage under the holes must not count
    rgb[5:10, 25:30] = 255
    hole = np.zeros((20, 40), dtype=np.bool_)
    hole[5:10, 5:10] = True
    hole[5:10, 25:30] = True
    filled = prefill(rgb, hole)
    assert np.all(filled[7, 7] == (200, 100, 0)) and np.all(filled[7, 27] == (0, 50, 250))
    assert np.array_equal(filled[~hole], rgb[~hole])


def test_diffuse_prefill_follows_a_gradient() -> None:
    ramp = np.linspace(0, 255, 32).astype(np.uint8)
    rgb = np.repeat(np.repeat(ramp[None, :, None], 32, axis=0), 3, axis=2)
    hole = np.zeros((32, 32), dtype=np.bool_)
    hole[10:22, 10:22] = True
    damaged = rgb.copy()
    damaged[hole] = 0
    filled = prefill(damaged, hole, "diffuse")
    assert np.array_equal(filled[~hole], damaged[~hole])
    inside = filled[16, 10:22, 0].astype(int)
    assert inside[-1] > inside[0]  # brighter toward the bright side
    assert np.abs(inside - rgb[16, 10:22, 0].astype(int)).max() < 60


def test_prefill_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="ring_mean"):
        prefill(random_rgb(4, 4), np.ones((4, 4), dtype=np.bool_), "magic")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- crop plans


def assert_plan_covers(plan: CropPlan, mask: np.ndarray) -> None:
    """Fill masks are disjoint, lie inside their boxes and together are exactly the mask."""
    count = np.zeros(mask.shape, dtype=np.int32)
    for crop in plan.windows:
        rows, cols = crop.box
        assert (
            0 <= rows.start < rows.stop <= mask.shape[0]
            and 0 <= cols.start < cols.stop <= mask.shape[1]
        )
        assert crop.fill_mask.shape == crop.box_shape
        assert crop.scaled_shape[0] <= plan.window[0] and crop.scaled_shape[1] <= plan.window[1]
        assert crop.scaled_shape[0] + crop.pad[0] + crop.pad[1] == plan.window[0]
        assert crop.scaled_shape[1] + crop.pad[2] + crop.pad[3] == plan.window[1]
        count[crop.box] += crop.fill_mask
    assert np.array_equal(count, mask.astype(np.int32))


def test_small_region_gets_one_native_window_with_context() -> None:
    mask = np.zeros((300, 400), dtype=np.bool_)
    mask[140:160, 190:215] = True
    plan = plan_crops(mask, (64, 64))
    assert len(plan.windows) == 1
    crop = plan.windows[0]
    assert crop.scale == 1.0 and crop.box_shape == (64, 64) and crop.pad == (0, 0, 0, 0)
    rows, cols = crop.box
    assert rows.start <= 140 - 16 and rows.stop >= 160 + 16 - 2  # context on both sides
    assert cols.start <= 190 - 16 + 3 and cols.stop >= 215 + 16 - 3
    assert_plan_covers(plan, mask)


def test_region_near_the_border_is_clamped_inside() -> None:
    mask = np.zeros((100, 100), dtype=np.bool_)
    mask[0:5, 95:100] = True
    plan = plan_crops(mask, (64, 64))
    crop = plan.windows[0]
    assert crop.box == (slice(0, 64), slice(36, 100))
    assert_plan_covers(plan, mask)


def test_image_smaller_than_window_is_reflection_padded() -> None:
    rgb = random_rgb(40, 50)
    mask = np.zeros((40, 50), dtype=np.bool_)
    mask[10:20, 10:20] = True
    plan = plan_crops(mask, (64, 64))
    crop = plan.windows[0]
    assert crop.box == (slice(0, 40), slice(0, 50)) and crop.scale == 1.0
    assert crop.pad == (12, 12, 7, 7)
    pixels = crop_pixels(rgb, crop)
    assert pixels.shape == (64, 64, 3)
    assert np.array_equal(pixels[12:52, 7:57][~mask], rgb[~mask])
    assert not pixels[12:52, 7:57][mask].any()  # the hole is blanked for the pre-fill
    assert np.array_equal(pixels[11, 7:57], rgb[1])  # reflected, not repeated
    hole = crop_hole_mask(crop)
    assert hole.shape == (64, 64) and hole[12 + 15, 7 + 15]
    assert_plan_covers(plan, mask)


def test_large_region_works_at_reduced_resolution() -> None:
    mask = np.zeros((400, 400), dtype=np.bool_)
    mask[100:300, 120:270] = True
    plan = plan_crops(mask, (64, 64))
    assert len(plan.windows) == 1
    crop = plan.windows[0]
    assert crop.scale == pytest.approx(64 / (200 + 32))
    assert crop.box_shape[0] >= 232 and crop.scaled_shape == (64, 64)
    hole = crop_hole_mask(crop)
    assert hole.any() and not hole.all()
    assert_plan_covers(plan, mask)


def test_far_regions_get_separate_windows_and_near_ones_share() -> None:
    mask = np.zeros((200, 300), dtype=np.bool_)
    mask[20:30, 20:30] = True
    mask[20:30, 40:50] = True  # close to the first: same window
    mask[150:170, 250:280] = True  # far away: its own window
    plan = plan_crops(mask, (64, 64))
    assert len(plan.windows) == 2
    assert_plan_covers(plan, mask)


def test_union_and_resize_strategies() -> None:
    mask = np.zeros((200, 300), dtype=np.bool_)
    mask[20:30, 20:30] = True
    mask[150:170, 250:280] = True
    union = plan_crops(mask, (64, 64), strategy="union")
    assert len(union.windows) == 1 and union.windows[0].scale < 1
    assert_plan_covers(union, mask)
    whole = plan_crops(mask, (64, 64), strategy="resize")
    assert whole.windows[0].box == (slice(0, 200), slice(0, 300))
    assert whole.windows[0].scaled_shape == (43, 64)
    assert_plan_covers(whole, mask)
    assert plan_crops(np.zeros((5, 5), dtype=np.bool_), (64, 64)).windows == ()


@given(seed=st.integers(0, 2**31 - 1), height=st.integers(8, 150), width=st.integers(8, 150))
@settings(max_examples=30, deadline=None)
def test_every_plan_fills_each_masked_pixel_exactly_once(
    seed: int, height: int, width: int
) -> None:
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), dtype=np.bool_)
    for _ in range(rng.integers(1, 5)):
        y, x = rng.integers(0, height), rng.integers(0, width)
        mask[y : y + rng.integers(1, 90), x : x + rng.integers(1, 90)] = True
    plan = plan_crops(mask, (32, 48))
    assert_plan_covers(plan, mask)


def test_paste_window_changes_only_its_own_holes() -> None:
    original = random_rgb(120, 160)
    mask = np.zeros((120, 160), dtype=np.bool_)
    mask[30:90, 40:130] = True  # large: reduced resolution
    mask[5:8, 150:155] = True  # a second, separate hole
    plan = plan_crops(mask, (64, 64))
    for crop in plan.windows:
        generated = np.full((64, 64, 3), 77, dtype=np.uint8)
        result = paste_window(original, crop, generated, feather_px=2)
        pasted = np.zeros_like(mask)
        pasted[crop.box] = crop.fill_mask
        assert np.array_equal(result[~pasted], original[~pasted])
        assert pasted.any()


# --------------------------------------------------------------------------- outpainting


def test_extend_canvas_marks_the_new_area() -> None:
    rgb = random_rgb(10, 12)
    canvas, mask = extend_canvas(rgb, left=3, top=2, right=5, bottom=1)
    assert canvas.shape == (13, 20, 3) and mask.shape == (13, 20)
    assert np.array_equal(canvas[2:12, 3:15], rgb) and not mask[2:12, 3:15].any()
    assert mask.sum() == 13 * 20 - 10 * 12
    assert np.array_equal(canvas[0, 0], rgb[0, 0]) and np.array_equal(canvas[12, 19], rgb[9, 11])


def test_outpainting_a_document_plans_windows_for_the_margin() -> None:
    image = LoadedImage.from_rgb(random_rgb(64, 64))
    wider, mask = extend_for_outpainting(image, 0, 0, 32, 0)
    assert wider.rgb.shape == (64, 96, 3) and mask[:, 64:].all() and not mask[:, :64].any()
    plan = plan_crops(mask, (64, 64))
    assert_plan_covers(plan, mask)


# --------------------------------------------------------------------------- codec with ONNX


def codec_for(folder: Path, feather_px: int = 0) -> ImageCodec:
    return ImageCodec(load_manifest(folder), feather_px=feather_px)


def test_encode_tokens_and_editable_mask(image_model: Path) -> None:
    rgb, indices = palette_blocks(64, 64)
    mask = np.zeros((64, 64), dtype=np.bool_)
    mask[20:30, 9:17] = True
    codec = codec_for(image_model)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    problem = codec.encode(payload)
    assert problem.grid_shape == (8, 8)
    assert problem.tokens.dtype == np.int64 and problem.tokens.shape == (64,)
    editable = problem.editable_mask.reshape(8, 8)
    assert np.array_equal(editable, token_mask(mask, 8))
    known = ~editable.reshape(-1)
    assert np.array_equal(problem.tokens[known], indices.reshape(-1)[known])


def test_decode_composites_only_the_mask(image_model: Path) -> None:
    rgb, _ = palette_blocks(64, 64)
    mask = np.zeros((64, 64), dtype=np.bool_)
    mask[20:30, 9:17] = True
    codec = codec_for(image_model)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    tokens = np.stack([np.zeros(64, dtype=np.int64), np.full(64, 7, dtype=np.int64)])
    first, second = codec.decode(payload, tokens)
    for result, colour in ((first, PALETTE[0]), (second, PALETTE[7])):
        assert np.array_equal(result.rgb[~mask], rgb[~mask])
        assert np.all(result.rgb[mask] == colour)


def test_flat_token_decoder_is_read_from_the_graph(tmp_path: Path) -> None:
    folder = write_image_model(tmp_path, flat_tokens=True)
    codec = codec_for(folder)
    pixels = codec.decode_pixels(np.full((2, 64), 3, dtype=np.int64))
    assert pixels.shape == (2, 64, 64, 3) and np.all(pixels == PALETTE[3])


def test_generation_end_to_end_keeps_outside_bit_exact(image_model: Path) -> None:
    """Manifest → codec → real sampler with the tiny transformer → composited variations."""
    settings_ = SamplerSettings(steps=4, variations=2, seed=3)
    rgb, mask, manifest, request = hole_request(image_model, settings_)
    steps: list[int] = []
    variations, tokens = generate_with_manifest(request, manifest, lambda s: steps.append(s.index))
    assert steps == [1, 2, 3, 4] and tokens.shape == (2, 64)
    assert len(variations) == 2
    deep = np.zeros_like(mask)
    deep[35:45, 45:65] = True
    for result in variations:
        assert isinstance(result, LoadedImage)
        assert np.array_equal(result.rgb[~mask], rgb[~mask])
        colours = {tuple(c) for c in result.rgb[deep].reshape(-1, 3)}
        assert colours <= {tuple(c) for c in PALETTE}  # deep inside: decoded palette colours


def test_large_hole_round_trips_through_a_reduced_window(image_model: Path) -> None:
    rgb = random_rgb(300, 300)
    mask = np.zeros((300, 300), dtype=np.bool_)
    mask[50:250, 60:240] = True
    codec = codec_for(image_model, feather_px=3)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    assert payload.crop.scale < 1
    problem = codec.encode(payload)
    (result,) = codec.decode(payload, problem.tokens[None])
    assert result.rgb.shape == rgb.shape
    assert np.array_equal(result.rgb[~mask], rgb[~mask])
    assert not np.array_equal(result.rgb[mask], rgb[mask])


def test_codec_keeps_16bit_samples_outside_the_mask(image_model: Path) -> None:
    from tests.engine.image.test_files import png16_by_hand

    samples = RNG.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    image = decode_image(png16_by_hand(samples, 2), "deep.png")
    mask = np.zeros((64, 64), dtype=np.bool_)
    mask[24:40, 24:40] = True
    codec = codec_for(image_model, feather_px=2)
    (payload,) = codec.payloads(image, mask)
    (result,) = codec.decode(payload, codec.encode(payload).tokens[None])
    assert result.high is not None and np.array_equal(result.high[~mask], samples[~mask])
    data, _ = encode_image(result, "PNG")
    assert np.array_equal(decode_image(data).high[~mask], samples[~mask])


def test_codec_refuses_empty_and_full_masks(image_model: Path) -> None:
    codec = codec_for(image_model)
    image = LoadedImage.from_rgb(random_rgb(20, 20))
    with pytest.raises(ImageError, match="empty"):
        codec.payloads(image, np.zeros((20, 20), dtype=np.bool_))
    with pytest.raises(ImageError, match="outpainting"):
        codec.payloads(image, np.ones((20, 20), dtype=np.bool_))
    with pytest.raises(ImageError, match="but the image is"):
        codec.payloads(image, np.ones((21, 20), dtype=np.bool_))


def test_codec_rejects_a_window_that_is_not_whole_tokens() -> None:
    class Facts:
        medium_facts = {"patch_size": 8, "window": 60}

        def path(self, role: str) -> Path:
            return Path(role)

    with pytest.raises(ValueError, match="multiple of patch size"):
        ImageCodec(Facts())


def test_codec_checks_the_window_against_the_token_grid(image_model: Path) -> None:
    manifest = load_manifest(image_model)
    wrong = dataclasses.replace(manifest, medium_facts={"patch_size": 8, "window": 128})
    with pytest.raises(ValueError, match="tokens.shape"):
        ImageCodec(wrong)


def test_payload_is_a_snapshot_value(image_model: Path) -> None:
    codec = codec_for(image_model)
    mask = np.zeros((64, 64), dtype=np.bool_)
    mask[5:9, 5:9] = True
    (payload,) = codec.payloads(LoadedImage.from_rgb(random_rgb(64, 64)), mask)
    assert isinstance(payload, ImagePayload)
    mask[:] = False  # editing the live mask afterwards does not change the job
    assert payload.crop.fill_mask.any()
