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

from engine.media.image.codec import ImageCodec
from engine.media.image.files import LoadedImage
from engine.models import load_manifest
from engine.sampling.types import SamplerSettings
from tests.engine.helpers import generate_with_manifest
from tests.engine.image.test_codec import (
    PALETTE,
    PATCH,
    WINDOW,
    finish,
    hole_request,
    palette_in_range,
    random_rgb,
    write_image_model,
)

DRAW_NODES = [
    helper.make_node("Gather", ["codebook", "tokens"], ["colours"], axis=0),
    helper.make_node("Transpose", ["colours"], ["channels_first"], perm=[0, 3, 1, 2]),
    helper.make_node("Resize", ["channels_first", "", "scales"], ["drawn"], mode="nearest"),
]
"""Token -> palette colour drawn over its patch: ``drawn`` [B, 3, H, W]."""


def context_decoder(
    name: str, nodes: list[onnx.NodeProto], constants: dict[str, float]
) -> onnx.ModelProto:
    """A decoder with the shipped inputs (tokens, context, hole): ``DRAW_NODES`` then
    ``nodes``, which must end in ``pixels``; ``constants`` become float scalars."""
    pixels = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        DRAW_NODES + nodes,
        name,
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
            *(
                numpy_helper.from_array(np.array(value, dtype=np.float32), key)
                for key, value in constants.items()
            ),
        ],
    )
    return finish(graph)


def build_context_decoder() -> onnx.ModelProto:
    """pixels = context where known, the token's colour in the hole."""
    nodes = [
        helper.make_node("Sub", ["one", "hole"], ["known"]),
        helper.make_node("Mul", ["context", "known"], ["kept"]),
        helper.make_node("Mul", ["drawn", "hole"], ["filled"]),
        helper.make_node("Add", ["kept", "filled"], ["pixels"]),
    ]
    return context_decoder("tiny_context_decoder", nodes, {"one": 1.0})


@pytest.fixture()
def context_model(tmp_path: Path) -> Path:
    return write_image_model(tmp_path, name="tiny-context-image", decoder=build_context_decoder())


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
    rgb, mask, manifest, request = hole_request(
        context_model, SamplerSettings(steps=3, variations=2)
    )
    variations, tokens = generate_with_manifest(request, manifest)
    assert tokens.shape == (2, 64)
    for result in variations:
        assert np.array_equal(result.rgb[~mask], rgb[~mask])
        assert not np.array_equal(result.rgb[mask], rgb[mask])
