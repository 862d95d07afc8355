"""ONNX export of the image model (encoder, context decoder, transformer) and its manifest.

Folder layout (``assets/models/image-maskgit``)::

    encoder.onnx      pixels float32 [B, 3, H, W] in [-1, 1] -> tokens int64 [B, H/8, W/8]
    decoder.onnx      tokens int64 [B, h, w], context float32 [B, 3, 8h, 8w],
                      hole float32 [B, 1, 8h, 8w] -> pixels float32 [B, 3, 8h, 8w]
    transformer.onnx  tokens int64 [B, h*w] -> logits float32 [B, h*w, 512]
    manifest.json     schema v1 (engine/models.py)
    MODEL_CARD.md

Encoder and decoder have dynamic batch and spatial axes (fully convolutional); the
transformer has a dynamic batch and the fixed window of the manifest.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from engine.train.common import ONNX_OPSET, ModelFacts
from engine.train.common import write_manifest as common_write_manifest
from engine.train.image import maskgit as mg
from engine.train.image import vq

MODEL_NAME = "image-maskgit"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"

DEFAULT_SAMPLING: dict[str, object] = {
    "steps": 12,
    "schedule": "cosine",
    "selector": "confidence",
    "temperature": 1.0,
    "choice_temperature": 4.5,
    "top_k": 0,
}

LICENSE = (
    "Code MIT. Weights trained on BSDS500 (Corel-derived photos, research use only, no open "
    "licence): the weights inherit that restriction - research/non-commercial use only."
)
DATA = (
    "BSDS500 (Arbelaez et al., TPAMI 2011; BIDS/BSDS500 @a04b7c6) train+val splits (300 photos) "
    "as random crops; the 200 test photos are held out for evaluation"
)


def _spatial_axes(name: str) -> dict[int, str]:
    return {0: "batch", 2: f"{name}_height", 3: f"{name}_width"}


def export_encoder(tokenizer: vq.VQTokenizer, path: Path, window: int) -> Path:
    graph = vq.EncoderGraph(tokenizer).float().eval()
    example = torch.zeros(1, 3, window, window)
    torch.onnx.export(
        graph,
        (example,),
        str(path),
        input_names=["pixels"],
        output_names=["tokens"],
        dynamic_axes={
            "pixels": _spatial_axes("pixels"),
            "tokens": {0: "batch", 1: "rows", 2: "cols"},
        },
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def export_decoder(tokenizer: vq.VQTokenizer, path: Path, window: int) -> Path:
    graph = vq.DecoderGraph(tokenizer).float().eval()
    rows = window // tokenizer.cfg.patch
    example = (
        torch.zeros(1, rows, rows, dtype=torch.int64),
        torch.zeros(1, 3, window, window),
        torch.ones(1, 1, window, window),
    )
    torch.onnx.export(
        graph,
        example,
        str(path),
        input_names=["tokens", "context", "hole"],
        output_names=["pixels"],
        dynamic_axes={
            "tokens": {0: "batch", 1: "rows", 2: "cols"},
            "context": _spatial_axes("pixels"),
            "hole": _spatial_axes("pixels"),
            "pixels": _spatial_axes("pixels"),
        },
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def check_tokenizer_parity(tokenizer: vq.VQTokenizer, folder: Path, window: int) -> float:
    """Max |onnxruntime - torch| of the decoder on real tokens; the encoder must agree exactly
    on all but near-tie tokens (returned as part of the message when it does not)."""
    rng = np.random.default_rng(0)
    pixels = rng.uniform(-1, 1, (2, 3, window, window)).astype(np.float32)
    hole = (rng.random((2, 1, window, window)) < 0.5).astype(np.float32)
    enc = ort.InferenceSession(str(folder / ENCODER_FILE), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / DECODER_FILE), providers=["CPUExecutionProvider"])
    tokens = enc.run(["tokens"], {"pixels": pixels})[0]
    with torch.no_grad():
        want_tokens = vq.EncoderGraph(tokenizer)(torch.from_numpy(pixels)).numpy()
        want = vq.DecoderGraph(tokenizer)(
            torch.from_numpy(tokens), torch.from_numpy(pixels), torch.from_numpy(hole)
        ).numpy()
    agree = float((tokens == want_tokens).mean())
    if agree < 0.99:
        raise RuntimeError(f"encoder tokens agree with torch on only {agree:.1%}")
    got = dec.run(["pixels"], {"tokens": tokens, "context": pixels, "hole": hole})[0]
    err = float(np.abs(got - want).max())
    if err > 1e-3:
        raise RuntimeError(f"decoder: onnxruntime differs from torch by {err}")
    return err


def export_all(tokenizer: vq.VQTokenizer, transformer: mg.ImageMaskGIT, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    window = transformer.cfg.grid * tokenizer.cfg.patch
    tokenizer = tokenizer.float().eval()
    export_encoder(tokenizer, out_dir / ENCODER_FILE, window)
    export_decoder(tokenizer, out_dir / DECODER_FILE, window)
    check_tokenizer_parity(tokenizer, out_dir, window)
    mg.export(transformer, out_dir)


def medium_facts(vq_cfg: vq.VQConfig, mg_cfg: mg.MaskGITConfig) -> dict[str, object]:
    return {
        "patch_size": vq_cfg.patch,
        "window": mg_cfg.grid * vq_cfg.patch,
        "pixel_range": [-1.0, 1.0],
        "decoder_reads_context": True,
        "architecture": {
            "tokenizer": {"class": "VQTokenizer", **asdict(vq_cfg)},
            "transformer": {"class": "ImageMaskGIT", **asdict(mg_cfg)},
        },
    }


def write_manifest(
    out_dir: Path,
    vq_cfg: vq.VQConfig,
    mg_cfg: mg.MaskGITConfig,
    sampling: dict[str, object] | None = None,
    name: str = MODEL_NAME,
) -> Path:
    window = mg_cfg.grid * vq_cfg.patch
    facts = ModelFacts(
        name=name,
        medium="image",
        description=(
            f"VQ tokenizer (f={vq_cfg.patch}, {vq_cfg.codes} codes) with a decoder that reads the "
            f"known pixels, and a masked transformer over a {mg_cfg.grid}x{mg_cfg.grid}-token "
            f"({window}x{window} px) window; trained on BSDS500 photos (research use only)"
        ),
        files={"transformer": mg.ONNX_FILE, "encoder": ENCODER_FILE, "decoder": DECODER_FILE},
        vocab_size=mg_cfg.vocab_size,
        mask_id=mg_cfg.mask_id,
        shape=[mg_cfg.grid, mg_cfg.grid],
        medium_facts=medium_facts(vq_cfg, mg_cfg),
        license=LICENSE,
        data=DATA,
        side_inputs=tuple(mg.side_shapes(mg_cfg)),
    )
    return common_write_manifest(out_dir, facts, sampling or DEFAULT_SAMPLING)
