"""The shipped image model rebuilt in torch, and a copy of it with a new decoder.

A fresh machine has no ``runs/`` checkpoints, only ``assets/models/image-maskgit``: every
stage that goes on from the shipped model reads its weights from the ONNX files. The
tokenizer's encoder comes from ``encoder.onnx``; its codebook and decoder from
``decoder.onnx`` (the decoder graph holds the codebook it embeds tokens with). The
transformer has its own loader (:func:`engine.train.image.maskgit.load_torch_model`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from engine.train.common import onnx_initializers
from engine.train.image import export as image_export
from engine.train.image import vq

KEPT_FILES = ("encoder.onnx", "transformer.onnx", "manifest.json", "MODEL_CARD.md")
"""What a decoder-only stage copies byte for byte from the model it starts from."""


def _manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / "manifest.json").read_text())  # type: ignore[no-any-return]


def tokenizer_config(folder: Path) -> vq.VQConfig:
    arch = _manifest(folder)["medium_facts"]["architecture"]["tokenizer"]  # type: ignore[index]
    return vq.VQConfig.from_dict(arch)


def load_tokenizer(folder: Path | str) -> vq.VQTokenizer:
    """The shipped tokenizer with the ONNX files' own weights (fp32, eval).

    The EMA statistics are not shipped: they are reset around the codebook, which only
    matters to a run that trains the codebook again (a decoder stage keeps it).
    """
    folder = Path(folder)
    files: dict[str, str] = _manifest(folder)["files"]  # type: ignore[assignment]
    tokenizer = vq.VQTokenizer(tokenizer_config(folder))
    encoder = onnx_initializers(folder / files["encoder"])
    decoder = onnx_initializers(folder / files["decoder"])
    state = tokenizer.state_dict()
    for name in state:
        if name.startswith("encoder."):
            state[name] = torch.from_numpy(encoder[name].copy())
        elif name.startswith("decoder."):
            state[name] = torch.from_numpy(decoder[f"tokenizer.{name}"].copy())
    codebook = torch.from_numpy(decoder["tokenizer.quantizer.codebook"].copy())
    state["quantizer.codebook"] = codebook
    state["quantizer.embed_sum"] = codebook.clone()
    state["quantizer.cluster_size"] = torch.ones(codebook.shape[0])
    state["quantizer.initialised"] = torch.ones((), dtype=torch.bool)
    tokenizer.load_state_dict(state, strict=True)
    return tokenizer.eval()


def write_with_decoder(tokenizer: vq.VQTokenizer, source: Path, out: Path) -> float:
    """``out`` = ``source`` with ``decoder.onnx`` exported from ``tokenizer``; every other
    file is copied unchanged, so the model's contract (tokens, manifest) stays. Returns the
    decoder's max |onnxruntime - torch| on random inputs."""
    out.mkdir(parents=True, exist_ok=True)
    for name in KEPT_FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, out / name)
    window = int(_manifest(source)["medium_facts"]["window"])  # type: ignore[index]
    tokenizer = tokenizer.float().eval()
    image_export.export_decoder(tokenizer, out / image_export.DECODER_FILE, window)
    return image_export.check_tokenizer_parity(tokenizer, out, window)
