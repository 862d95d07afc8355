"""ONNX export of the motion model's three graphs, each checked against torch.

- ``encoder.onnx``: ``features`` float32 [B, T, 132] -> ``tokens`` int64 [B, 2, T/4]
- ``decoder.onnx``: ``tokens`` int64 [B, 2, L], ``context`` float32 [B, 4L, 132],
  ``known`` float32 [B, 4L, 2] -> ``features`` float32 [B, 4L, 132]
- ``transformer.onnx``: ``tokens`` int64 [B, 2L] -> ``logits`` float32 [B, 2L, K]; a
  ``context_input`` model also takes the decoder's ``context`` and ``known``

Batch and time are dynamic in the tokenizer graphs (T a multiple of 4), so the
codec can decode a long generated clip in one call; the transformer's N is fixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from engine.media.motion.features import FEATURE_SIZE
from engine.train.common import ONNX_OPSET, export_onnx
from engine.train.motion.model import (
    FILES,
    DecoderExport,
    EncoderExport,
    MotionTokenizer,
    MotionTransformer,
    Normalizer,
    side_input_names,
)


def _export(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=dynamic,
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)))


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _probe_features(norm: Normalizer, batch: int, frames: int) -> np.ndarray:
    """Random raw features float32 [batch, frames, 132] with the training data's spread."""
    rng = np.random.default_rng(0)
    mean, std = norm.mean.numpy(), norm.std.numpy()
    return (mean + std * rng.standard_normal((batch, frames, FEATURE_SIZE))).astype(np.float32)


def export_encoder(tokenizer: MotionTokenizer, path: Path) -> float:
    frames = tokenizer.cfg.window
    example = torch.from_numpy(_probe_features(tokenizer.norm, 2, frames))
    dyn = {"features": {0: "batch", 1: "frames"}, "tokens": {0: "batch", 2: "length"}}
    _export(EncoderExport(tokenizer), (example,), path, ["features"], ["tokens"], dyn)
    probe = _probe_features(tokenizer.norm, 3, 2 * frames)
    got = _session(path).run(["tokens"], {"features": probe})[0]
    with torch.no_grad():
        want = tokenizer.encode(torch.from_numpy(probe)).numpy()
    return float(np.mean(got != want))  # a token can flip on a near-tie; report the share


def export_decoder(tokenizer: MotionTokenizer, path: Path) -> float:
    cfg = tokenizer.cfg
    length, frames = cfg.tokens_per_row, cfg.window
    tokens = torch.zeros(2, 2, length, dtype=torch.int64)
    context = torch.from_numpy(_probe_features(tokenizer.norm, 2, frames))
    known = torch.ones(2, frames, 2)
    dyn = {
        "tokens": {0: "batch", 2: "length"},
        "context": {0: "batch", 1: "frames"},
        "known": {0: "batch", 1: "frames"},
        "features": {0: "batch", 1: "frames"},
    }
    _export(
        DecoderExport(tokenizer),
        (tokens, context, known),
        path,
        ["tokens", "context", "known"],
        ["features"],
        dyn,
    )
    rng = np.random.default_rng(1)
    probe_tokens = rng.integers(0, cfg.codebook, (3, 2, 2 * length)).astype(np.int64)
    probe_context = _probe_features(tokenizer.norm, 3, 2 * frames)
    probe_known = (rng.random((3, 2 * frames, 2)) < 0.5).astype(np.float32)
    got = _session(path).run(
        ["features"], {"tokens": probe_tokens, "context": probe_context, "known": probe_known}
    )[0]
    with torch.no_grad():
        want = tokenizer.decode(
            *(torch.from_numpy(a) for a in (probe_tokens, probe_context, probe_known))
        )
    scale = tokenizer.norm.std.numpy()
    return float(np.abs((got - want.numpy()) / scale).max())


def export_transformer(transformer: MotionTransformer, path: Path) -> float:
    """``transformer.onnx``; a ``context_input`` model also takes ``context`` and ``known``."""
    cfg = transformer.cfg
    n, frames = 2 * cfg.tokens_per_row, cfg.window
    names = ["tokens", *side_input_names(cfg)]
    example = [torch.full((2, n), transformer.mask_id, dtype=torch.int64)]
    rng = np.random.default_rng(2)
    probe = [rng.integers(0, transformer.mask_id + 1, (3, n)).astype(np.int64)]
    if cfg.context_input:
        example += [torch.zeros(2, frames, FEATURE_SIZE), torch.zeros(2, frames, 2)]
        probe += [
            _probe_features(transformer.kept.norm, 3, frames),  # type: ignore[union-attr]
            (rng.random((3, frames, 2)) < 0.5).astype(np.float32),
        ]
    export_onnx(transformer, tuple(example), path, names, "logits")
    got = _session(path).run(["logits"], dict(zip(names, probe, strict=True)))[0]
    with torch.no_grad():
        want = transformer(*(torch.from_numpy(a) for a in probe)).numpy()
    return float(np.abs(got - want).max())


def export_all(
    tokenizer: MotionTokenizer, transformer: MotionTransformer, out_dir: Path
) -> dict[str, float]:
    """Write encoder/decoder/transformer ONNX (fp32); the parity of each against torch."""
    tokenizer = tokenizer.float().eval()
    transformer = transformer.float().eval()
    return {
        "encoder_token_mismatch": export_encoder(tokenizer, out_dir / FILES["encoder"]),
        "decoder_max_abs_err_normalised": export_decoder(tokenizer, out_dir / FILES["decoder"]),
        "transformer_max_abs_err": export_transformer(transformer, out_dir / FILES["transformer"]),
    }
