"""ImageCodec with a decoder that reads the known pixels (``context`` + ``hole`` inputs).

The tiny decoder here returns ``context * (1 - hole) + palette[token] * hole``, so the
test can see exactly which pixels came from the context and which from the tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.jobs import GenerateRequest, run_generation
from engine.media.image import ImageCodec
from engine.media.image_io import LoadedImage
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings
from tests.engine.test_image_codec import (
    PALETTE,
    PATCH,
    WINDOW,
    build_encoder,
    finish,
    palette_in_range,
    random_rgb,
)
from tests.tinymodels import write_tiny_model


def build_context_decoder() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Gather", ["codebook", "tokens"], ["colours"], axis=0),
        helper.make_node("Transpose", ["colours"], ["channels_first"], perm=[0, 3, 1, 2]),
        helper.make_node("Resize", ["channels_first", "", "scales"], ["drawn"], mode="nearest"),
        helper.make_node("Sub", ["one", "hole"], ["known"]),
        helper.make_node("Mul", ["context", "known"], ["kept"]),
        helper.make_node("Mul", ["drawn", "hole"], ["filled"]),
        helper.make_node("Add", ["kept", "filled"], ["pixels"]),
    ]
    pixels = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        nodes,
        "tiny_context_decoder",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "rows", "cols"]),
            helper.make_tensor_value_info("context", TensorProto.FLOAT, pixels),
            helper.make_tensor_value_info(
                "hole", TensorProto.FLOAT, ["batch", 1, "height", "width"]
            ),
        ],
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, pixels)],
        [
            numpy_helper.from_array(palette_in_range(), "codebook"),
            numpy_helper.from_array(np.array([1, 1, PATCH, PATCH], dtype=np.float32), "scales"),
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        ],
    )
    return finish(graph)


@pytest.fixture()
def context_model(tmp_path: Path) -> Path:
    folder = write_tiny_model(
        tmp_path,
        name="tiny-context-image",
        medium="image",
        vocab_size=len(PALETTE),
        shape=(WINDOW // PATCH, WINDOW // PATCH),
        medium_facts={"patch_size": PATCH, "window": WINDOW, "pixel_range": [-1, 1]},
    )
    onnx.save(build_encoder(), str(folder / "encoder.onnx"))
    onnx.save(build_context_decoder(), str(folder / "decoder.onnx"))
    manifest = (folder / "manifest.json").read_text()
    manifest = manifest.replace(
        '"transformer": "transformer.onnx"',
        '"transformer": "transformer.onnx", "encoder": "encoder.onnx", "decoder": "decoder.onnx"',
    )
    (folder / "manifest.json").write_text(manifest)
    return folder


def _hole() -> np.ndarray:
    mask = np.zeros((WINDOW, WINDOW), dtype=np.bool_)
    mask[20:30, 9:17] = True
    return mask


def test_context_decoder_keeps_known_pixels_of_editable_tokens(context_model: Path) -> None:
    rgb = random_rgb(WINDOW, WINDOW)
    mask = _hole()
    codec = ImageCodec(load_manifest(context_model), feather_px=0)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask, "resize")
    tokens = np.stack([np.full(64, 2, dtype=np.int64), np.full(64, 5, dtype=np.int64)])
    windows = codec.decode_pixels(tokens, payload)
    assert windows.shape == (2, WINDOW, WINDOW, 3)
    for window, colour in zip(windows, (PALETTE[2], PALETTE[5]), strict=True):
        # Pixels of editable tokens that are not in the hole come from the context.
        assert np.array_equal(window[~mask], rgb[~mask])
        assert np.all(window[mask] == colour)


def test_context_decoder_needs_the_payload(context_model: Path) -> None:
    codec = ImageCodec(load_manifest(context_model))
    with pytest.raises(ValueError, match="pass the payload"):
        codec.decode_pixels(np.zeros((1, 64), dtype=np.int64))


def test_generation_with_context_decoder_changes_only_the_mask(context_model: Path) -> None:
    rgb = random_rgb(90, 130)
    mask = np.zeros((90, 130), dtype=np.bool_)
    mask[30:50, 40:70] = True
    manifest = load_manifest(context_model)
    codec = ImageCodec(manifest, feather_px=2)
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    request = GenerateRequest(
        1, manifest.name, SamplerSettings(steps=3, variations=2), payload, codec
    )
    variations, tokens = run_generation(
        request,
        load_transformer(manifest).logits_fn(),
        manifest.mask_id,
        on_step=lambda step: None,
        should_stop=lambda: False,
    )
    assert tokens.shape == (2, 64)
    for result in variations:
        assert np.array_equal(result.rgb[~mask], rgb[~mask])
        assert not np.array_equal(result.rgb[mask], rgb[mask])
